//! `spinkube`: run Spin apps locally on the same engine the shim uses.

mod commands;
mod scaffold;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "spinkube",
    version,
    about = "Run Spin WebAssembly apps locally and on Kubernetes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a Spin app (like `spin up`)
    Up(Box<commands::up::UpArgs>),
    /// Push a Spin app to an OCI registry (like `spin registry push`)
    Push(commands::push::PushArgs),
    /// Pull a Spin app from an OCI registry into the local cache
    Pull(commands::pull::PullArgs),
    /// Write SpinApp manifests (like `spin kube scaffold`)
    #[command(disable_help_flag = true)]
    Scaffold(scaffold::ScaffoldCliArgs),
}

fn main() -> std::process::ExitCode {
    // Installed as the `kube` Spin plugin, Spin runs us as `kube <args>`.
    let mut argv = std::env::args_os();
    if argv
        .next()
        .is_some_and(|argv0| scaffold::plugin::invoked_as_plugin(&argv0))
    {
        let args: Vec<String> = argv.map(|a| a.to_string_lossy().into_owned()).collect();
        return scaffold::plugin::main(&args);
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(args) => commands::up::run(*args),
        Command::Push(args) => commands::push::run(args),
        Command::Pull(args) => commands::pull::run(args),
        Command::Scaffold(args) => return scaffold::run_command("spinkube scaffold", &args.args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
