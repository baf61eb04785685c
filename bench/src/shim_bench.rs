//! The shim under a real containerd in this run: container create to first HTTP 200, cold
//! (nothing precompiled on the node) and warm (precompiled code in the content store), next to
//! `spinkube up` of the same app; and the memory of 1 and 20 containers of one image.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::ms;
use anyhow::{bail, Context, Result};
use spinkube_testenv::containerd::{processes_mentioning, Containerd, Options};
use spinkube_testenv::registry::Registry;

const PODS: usize = 20;
const START_LIMIT: Duration = Duration::from_secs(120);

pub fn run(
    spinkube: &Path,
    shim_dir: &Path,
    app: &Path,
    up_cold: Duration,
    up_warm: Duration,
) -> Result<()> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        println!("shim: skipped (containerd needs root)");
        return Ok(());
    }
    if !Registry::available() {
        println!("shim: skipped (docker-registry missing: apt-get install -y docker-registry)");
        return Ok(());
    }
    let reg = Registry::start();
    let ctd = Containerd::start(&Options {
        shim_dir: shim_dir.to_path_buf(),
        registry: Some(reg.host()),
        ..Default::default()
    });
    let image = reg.reference("bench-rust-http:v1");
    crate::push(spinkube, app, &image)?;
    ctd.ctr_ok(["images", "pull", "--plain-http", &image]);
    let logs = ctd.dir().join("logs");
    std::fs::create_dir_all(&logs)?;

    println!(
        "# shim: container create (ctr run -d) to first HTTP 200, {}",
        app.display()
    );
    let cold = start(&ctd, &image, "cold", &logs)?;
    let warm = start(&ctd, &image, "warm", &logs)?;
    let warm2 = start(&ctd, &image, "warm2", &logs)?;
    println!("{:<44} {:>9}", "", "ms");
    println!(
        "{:<44} {:>9.1}",
        "shim, cold (compiles, stores the result)",
        ms(cold.1)
    );
    println!(
        "{:<44} {:>9.1}",
        "shim, warm (precompiled on the node)",
        ms(warm.1)
    );
    println!("{:<44} {:>9.1}", "shim, warm again", ms(warm2.1));
    println!(
        "{:<44} {:>9.1}",
        "spinkube up, empty compile cache",
        ms(up_cold)
    );
    println!(
        "{:<44} {:>9.1}",
        "spinkube up, warm compile cache",
        ms(up_warm)
    );
    println!("goal: warm start under 100 ms");
    for id in ["cold", "warm", "warm2"] {
        stop(&ctd, id);
    }

    println!();
    println!("# shim: memory of the shim and container processes (RSS and PSS, from smaps_rollup)");
    let socket = ctd.socket.to_string_lossy().into_owned();
    start(&ctd, &image, "pod-0", &logs)?;
    let one = memory(&socket);
    for i in 1..PODS {
        start(&ctd, &image, &format!("pod-{i}"), &logs)?;
    }
    let many = memory(&socket);
    println!(
        "{:<28} {:>10} {:>10} {:>10}",
        "containers", "processes", "RSS MiB", "PSS MiB"
    );
    println!(
        "{:<28} {:>10} {:>10.1} {:>10.1}",
        1,
        one.0,
        mib(one.1),
        mib(one.2)
    );
    println!(
        "{:<28} {:>10} {:>10.1} {:>10.1}",
        PODS,
        many.0,
        mib(many.1),
        mib(many.2)
    );
    println!(
        "each extra container: {:.1} MiB PSS (goal under 10 MiB)",
        mib(many.2.saturating_sub(one.2)) / (PODS - 1) as f64
    );
    for i in 0..PODS {
        stop(&ctd, &format!("pod-{i}"));
    }
    Ok(())
}

/// Runs a detached container on a free loopback port; returns its address and the time from
/// `ctr run` to the first 200.
fn start(ctd: &Containerd, image: &str, id: &str, logs: &Path) -> Result<(SocketAddr, Duration)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let log = logs.join(format!("{id}.log"));
    let begin = Instant::now();
    let status = ctd
        .ctr_command()
        .args([
            "run",
            "-d",
            "--runtime",
            "io.containerd.spin.v2",
            "--net-host",
        ])
        .arg("--log-uri")
        .arg(format!("file://{}", log.display()))
        .arg("--env")
        .arg(format!("SPIN_HTTP_LISTEN_ADDR={addr}"))
        .args([image, id, "/"])
        .stdout(Stdio::null())
        // ctr's cgroup v1 deprecation warning, once per run.
        .stderr(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("ctr run {id} failed\n{}", ctd.log_tail());
    }
    loop {
        if let Ok(200) = get_status(addr) {
            return Ok((addr, begin.elapsed()));
        }
        if begin.elapsed() > START_LIMIT {
            bail!("{id}: no 200 within {START_LIMIT:?}\n{}", ctd.log_tail());
        }
        // Polling interval of the probe.
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn stop(ctd: &Containerd, id: &str) {
    let _ = ctd.ctr(["tasks", "kill", "--signal", "SIGKILL", id]);
    for _ in 0..500 {
        if ctd.ctr(["tasks", "delete", id]).status.success() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = ctd.ctr(["containers", "delete", id]);
}

pub(crate) fn get_status(addr: SocketAddr) -> Result<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    std::str::from_utf8(&head[9..12])?
        .parse()
        .context("status code")
}

/// (processes, RSS bytes, PSS bytes) of every process serving this containerd's Spin
/// containers: shims, and the container processes they fork (same command line).
pub(crate) fn memory(socket: &str) -> (usize, u64, u64) {
    let mut total = (0, 0, 0);
    for (pid, cmdline) in processes_mentioning(socket) {
        if !cmdline.contains("containerd-shim-spin-v2") {
            continue;
        }
        let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
            continue;
        };
        let field = |name: &str| -> u64 {
            rollup
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
                * 1024
        };
        total.0 += 1;
        total.1 += field("Rss:");
        total.2 += field("Pss:");
    }
    total
}

pub(crate) fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}
