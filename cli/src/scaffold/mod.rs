//! `spinkube scaffold` (and `spin kube scaffold` when installed as the `kube`
//! plugin): SpinApp manifests byte-for-byte as spin-plugin-kube writes them for
//! the same flags, with its validation messages.
//!
//! Layout: [`flags`] parses the command line like cobra/pflag, [`validate`] is
//! the plugin's `validateFlags`, [`image_ref`] its image-reference parsing (which
//! also names the app), [`render`] its Go template. [`scaffold`] ties them
//! together; only reading the runtime config file and writing the output touch
//! the outside world. [`plugin`] is the `kube` binary's command tree.
//!
//! Unlike the plugin, nothing here loads a kubeconfig: scaffolding works on a
//! machine that has never seen a cluster (spin-plugin-kube issue #79).

mod csv;
mod flags;
mod goerr;
mod image_ref;
mod options;
pub mod plugin;
mod render;
mod validate;

use std::io::{Read, Write};
use std::process::ExitCode;

use base64::Engine as _;

pub use options::ScaffoldOptions;
pub use render::{render, AppConfig};

/// `spinkube scaffold [flags]`: the flags are the plugin's, parsed by
/// [`run_command`] rather than clap so that they behave (and fail) exactly
/// like the plugin's.
#[derive(clap::Args, Debug)]
pub struct ScaffoldCliArgs {
    /// Flags of `spin kube scaffold`, e.g. `--from ghcr.io/me/app:v1 --replicas 3`
    /// (see `spinkube scaffold --help`)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "FLAGS"
    )]
    pub args: Vec<String>,
}

/// Validates the options and builds the manifest. The runtime config file is
/// read only after validation passed, as in the plugin.
pub fn scaffold(opts: &ScaffoldOptions) -> Result<String, String> {
    validate::validate_flags(opts)?;
    let name = image_ref::app_name(&opts.from)
        .ok_or_else(|| format!("invalid image reference provided: '{}'", opts.from))?;
    let runtime_config = if opts.runtime_config_file.is_empty() {
        String::new()
    } else {
        let raw = read_file(&opts.runtime_config_file)?;
        base64::engine::general_purpose::STANDARD.encode(raw)
    };
    Ok(render(&AppConfig {
        name: &name,
        image: &opts.from,
        executor: &opts.executor,
        autoscaler: &opts.autoscaler,
        replicas: opts.replicas,
        max_replicas: opts.max_replicas,
        target_cpu_utilization: opts.target_cpu_utilization,
        target_memory_utilization: opts.target_memory_utilization,
        azure_workload_identity: opts.azure_workload_identity,
        service_account_name: &opts.service_account_name,
        variables: Some(&opts.variables),
        components: &opts.components,
        cpu_limit: &opts.cpu_limit,
        memory_limit: &opts.memory_limit,
        cpu_request: &opts.cpu_request,
        memory_request: &opts.memory_request,
        image_pull_secrets: &opts.image_pull_secrets,
        runtime_config: &runtime_config,
    }))
}

/// `os.ReadFile`, with Go's error texts (`open x: no such file or directory`,
/// `read x: is a directory`).
fn read_file(path: &str) -> Result<Vec<u8>, String> {
    let mut file = std::fs::File::open(path).map_err(|e| goerr::path_error("open", path, &e))?;
    let mut raw = Vec::new();
    file.read_to_end(&mut raw)
        .map_err(|e| goerr::path_error("read", path, &e))?;
    Ok(raw)
}

/// Runs `<command_path> [flags]` the way cobra runs the plugin's command:
/// `--help` prints help to stdout; any error prints `Error: <message>` and the
/// usage to stderr and exits 1; the manifest goes to stdout or, with `--out`,
/// to a file (mode 0600) with a log line on stderr.
pub fn run_command(command_path: &str, args: &[String]) -> ExitCode {
    match try_run(command_path, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "Error: {message}");
            let _ = writeln!(stderr, "{}", flags::usage(command_path));
            ExitCode::FAILURE
        }
    }
}

fn try_run(command_path: &str, args: &[String]) -> Result<(), String> {
    let opts = match flags::parse(args)? {
        flags::Parsed::Help => {
            print_stdout(flags::help(command_path).as_bytes())?;
            return Ok(());
        }
        flags::Parsed::Run(opts) => opts,
    };
    if !opts.from_set {
        return Err("required flag(s) \"from\" not set".to_string());
    }
    let manifest = scaffold(&opts)?;
    if opts.out.is_empty() {
        return print_stdout(manifest.as_bytes());
    }
    write_file(&opts.out, manifest.as_bytes())?;
    // Go's log.Printf: local "YYYY/MM/DD HH:MM:SS " prefix, then the message.
    eprint!(
        "{} \nApplication manifest saved to {}\n",
        chrono::Local::now().format("%Y/%m/%d %H:%M:%S"),
        opts.out
    );
    Ok(())
}

fn print_stdout(bytes: &[u8]) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| goerr::path_error("write", "/dev/stdout", &e))
}

/// `os.WriteFile(path, data, 0600)`: create or truncate; a new file gets 0600.
fn write_file(path: &str, bytes: &[u8]) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| goerr::path_error("open", path, &e))?;
    file.write_all(bytes)
        .map_err(|e| goerr::path_error("write", path, &e))
}
