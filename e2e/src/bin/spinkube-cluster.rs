//! `make cluster` / `make cluster-down`: a one-node cluster on this machine running our chart and
//! an example Spin app.
//!
//!   spinkube-cluster up STATE_DIR     start it in the background; returns once the app is Ready
//!   spinkube-cluster down STATE_DIR   stop everything it started and remove its state
//!
//! `up` re-runs itself as `serve STATE_DIR` in a new session: that process owns every process of
//! the cluster (they die with it) and tears all down on SIGTERM. `STATE_DIR/pid` holds its PID,
//! `STATE_DIR/kubeconfig` the admin kubeconfig, `STATE_DIR/serve.log` its output.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use spinkube_e2e::cluster::{bin_dir, repo_root};
use spinkube_e2e::Cluster;

const APP: &str = "examples/rust-http";
const APP_NAME: &str = "hello";
const START_LIMIT: Duration = Duration::from_secs(900);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["up", dir] => up(Path::new(dir)),
        ["serve", dir] => serve(Path::new(dir)),
        ["down", dir] => down(Path::new(dir)),
        _ => {
            eprintln!("usage: spinkube-cluster up|down STATE_DIR");
            std::process::exit(2);
        }
    };
    if let Err(e) = r {
        eprintln!("spinkube-cluster: {e:#}");
        std::process::exit(1);
    }
}

fn up(dir: &Path) -> Result<()> {
    if let Some(pid) = running_pid(dir) {
        bail!(
            "a cluster is already running from {} (pid {pid}): `make cluster-down` first",
            dir.display()
        );
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let log = std::fs::File::create(dir.join("serve.log"))?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("serve")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: setsid(2) only, between fork and exec: the server outlives this command and the
    // terminal's job control.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().context("starting the cluster server")?;
    std::fs::write(dir.join("pid"), child.id().to_string())?;
    eprintln!(
        "starting a one-node cluster (log: {}); the first run builds tools and images",
        dir.join("serve.log").display()
    );
    let started = Instant::now();
    loop {
        if dir.join("ready").exists() {
            print!("{}", std::fs::read_to_string(dir.join("ready"))?);
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!("the cluster did not start ({status}):\n{}", tail.join("\n"));
        }
        if started.elapsed() > START_LIMIT {
            bail!(
                "the cluster was not ready after {START_LIMIT:?}; see {}",
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn serve(dir: &Path) -> Result<()> {
    let stop = signal_flag();
    let cluster = Cluster::start()?;
    std::fs::copy(cluster.cp.kubeconfig(), dir.join("kubeconfig"))?;
    let image = cluster.image(&format!("{APP_NAME}:v1"));
    let spinkube = bin_dir()?.join("spinkube");
    run(Command::new(&spinkube)
        .args(["push", "-f"])
        .arg(repo_root().join(APP))
        .arg(&image))?;
    let manifest = run(Command::new(&spinkube).args(["scaffold", "--from", &image]))?;
    cluster.kubectl_stdin(&["apply", "-f", "-"], &manifest)?;
    cluster
        .wait_for_output(
            &[
                "get",
                "spinapp",
                APP_NAME,
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
            ],
            "True",
            Duration::from_secs(180),
        )
        .map_err(|e| anyhow::anyhow!("{e:#}\n{}", cluster.diagnostics("default")))?;

    let kubeconfig = dir.join("kubeconfig");
    let kubectl = spinkube_testenv::Binaries::get()?.kubectl();
    let ready = format!(
        "cluster ready: node {node} ({ip}), pods {pods}, services {svcs}\n\
         SpinApp {APP_NAME} ({image}) is Ready. Try it:\n\n  \
         export KUBECONFIG={kc}\n  \
         alias kubectl={kubectl}\n  \
         kubectl get spinapps,pods,svc\n  \
         kubectl port-forward svc/{APP_NAME} 8080:80 &\n  \
         curl http://127.0.0.1:8080/\n\n\
         Stop it with `make cluster-down`.\n",
        node = spinkube_e2e::cluster::NODE_NAME,
        ip = cluster.node_ip(),
        pods = cluster.subnets.pods,
        svcs = cluster.subnets.services,
        kc = kubeconfig.display(),
        kubectl = kubectl.display(),
    );
    std::fs::write(dir.join("ready"), &ready)?;
    eprint!("{ready}");
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("stopping the cluster");
    cluster.teardown();
    Ok(())
}

fn down(dir: &Path) -> Result<()> {
    let Some(pid) = running_pid(dir) else {
        eprintln!("no cluster running from {}", dir.display());
        let _ = std::fs::remove_dir_all(dir);
        return Ok(());
    };
    // SAFETY: kill(2) of the server this state dir names (checked to be ours by running_pid).
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let started = Instant::now();
    while running_pid(dir).is_some() {
        if started.elapsed() > Duration::from_secs(60) {
            // SAFETY: as above; its children die with it (PR_SET_PDEATHSIG).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::remove_dir_all(dir)?;
    eprintln!("cluster stopped");
    Ok(())
}

/// The server's PID if it is still running (and is this program).
fn running_pid(dir: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(dir.join("pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmdline = String::from_utf8_lossy(&cmdline);
    (cmdline.contains("spinkube-cluster") && cmdline.contains("serve")).then_some(pid)
}

/// Set on SIGTERM or SIGINT.
fn signal_flag() -> &'static std::sync::atomic::AtomicBool {
    static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    extern "C" fn on_signal(_: libc::c_int) {
        STOP.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
    }
    &STOP
}

fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
