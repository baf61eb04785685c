//! `make bench`: our HTTP trigger vs a native hyper server, side by side in one
//! run on loopback, plus cold start with and without the compile cache.

mod cluster_bench;
mod oci_bench;
mod operator_bench;
mod pg_bench;
mod redis_bench;
mod shim_bench;

use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

const CONNECTIONS: usize = 32;
const WARMUP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(5);

fn main() -> Result<()> {
    // `spinkube-bench load ADDR PATH`: only drive load at a running server (for profiling).
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("load") {
        let addr: SocketAddr = args.get(2).context("usage: load ADDR PATH")?.parse()?;
        let path: &'static str = Box::leak(
            args.get(3)
                .cloned()
                .unwrap_or_else(|| "/".into())
                .into_boxed_str(),
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        rt.block_on(load_path(addr, path))?.print("target");
        return Ok(());
    }
    let root = repo_root();
    // `spinkube-bench operator`: only the operator scale figures.
    if args.get(1).map(String::as_str) == Some("pg") {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        return pg_bench::run(&rt, &sibling_binary("spinkube")?, &root);
    }
    if args.get(1).map(String::as_str) == Some("operator") {
        return operator_bench::run(&sibling_binary("spin-operator")?, &root);
    }
    let spinkube = sibling_binary("spinkube")?;
    // `spinkube-bench shim` / `cluster`: only the containerd shim / one-node cluster figures.
    if let Some(which @ ("shim" | "cluster")) = args.get(1).map(String::as_str) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let app = root.join("examples/rust-http");
        let fresh = tempdir("bench-cold")?;
        let cold = cold_start(&rt, &spinkube, &app, &fresh)?;
        let warm = cold_start(&rt, &spinkube, &app, &fresh)?;
        let _ = std::fs::remove_dir_all(&fresh);
        if which == "cluster" {
            return cluster_bench::run(&spinkube, &app, cold, warm);
        }
        return shim_bench::run(&spinkube, &shim_dir()?, &app, cold, warm);
    }
    // `spinkube-bench http`: only the throughput table. One app given on the command line, or
    // the Rust and Python hellos, p2 and p3.
    let only_http = args.get(1).map(String::as_str) == Some("http");
    let apps: Vec<BenchApp> = match args.get(1).filter(|_| !only_http) {
        Some(a) => vec![BenchApp {
            label: a.clone(),
            dir: PathBuf::from(a),
            flags: Vec::new(),
        }],
        None => [
            (
                "rust-http (p2, wasip1 core module)",
                "examples/rust-http",
                None,
            ),
            (
                "rust-http (p2, wasip2 component)",
                "examples/rust-wasip2-http",
                None,
            ),
            (
                "rust-http (p2, memset reset)",
                "examples/rust-http",
                Some("--disable-pagemap-scan"),
            ),
            ("rust-p3-http (p3, reused)", "examples/rust-p3-http", None),
            ("python-http (p2)", "examples/python-http", None),
            (
                "python-http (p2, memset reset)",
                "examples/python-http",
                Some("--disable-pagemap-scan"),
            ),
            (
                "python-p3-http (p3, reused)",
                "examples/python-p3-http",
                None,
            ),
            ("js-http (p2)", "examples/js-http", None),
        ]
        .into_iter()
        .map(|(label, dir, flag)| BenchApp {
            label: label.to_string(),
            dir: root.join(dir),
            flags: flag.into_iter().map(str::to_string).collect(),
        })
        .collect(),
    };
    let app = apps[0].dir.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    let cache = tempdir("bench-cache")?;
    http_throughput(&rt, &spinkube, &apps, &cache)?;
    if only_http {
        let _ = std::fs::remove_dir_all(&cache);
        return Ok(());
    }

    println!();
    println!("# cold start: process start to first 200");
    let fresh = tempdir("bench-cold")?;
    let cold = cold_start(&rt, &spinkube, &app, &fresh)?;
    let warm = cold_start(&rt, &spinkube, &app, &fresh)?;
    let warm2 = cold_start(&rt, &spinkube, &app, &fresh)?;
    println!("empty compile cache : {:>8.1} ms", ms(cold));
    println!(
        "warm compile cache  : {:>8.1} ms (second run {:.1} ms)",
        ms(warm),
        ms(warm2)
    );
    let _ = std::fs::remove_dir_all(&fresh);

    println!();
    shim_bench::run(&spinkube, &shim_dir()?, &app, cold, warm)?;
    println!();
    cluster_bench::run(&spinkube, &app, cold, warm)?;

    println!();
    key_value(&rt, &spinkube, &root, &cache)?;
    let _ = std::fs::remove_dir_all(&cache);
    redis_bench::run(&spinkube, &root)?;
    println!();
    pg_bench::run(&rt, &spinkube, &root)?;
    println!();
    oci_bench::oci(&spinkube, &root)?;
    println!();
    operator_bench::run(&sibling_binary("spin-operator")?, &root)?;
    Ok(())
}

/// One row of the HTTP table: an app and the `spinkube up` flags it runs with.
struct BenchApp {
    label: String,
    dir: PathBuf,
    flags: Vec<String>,
}

/// Each app's hello under load next to a native hyper server, in one table.
fn http_throughput(
    rt: &tokio::runtime::Runtime,
    spinkube: &Path,
    apps: &[BenchApp],
    cache: &Path,
) -> Result<()> {
    println!("# HTTP throughput: {CONNECTIONS} keep-alive connections, {MEASURE:?} each, loopback");
    println!("# one request per instance for p2; p3 with Spin 4's default reuse (128 requests, 16 at once)");
    let native = rt.block_on(async {
        let addr = start_native().await?;
        load(addr).await
    })?;
    println!(
        "{:<44} {:>10} {:>10} {:>10} {:>8} {:>10} {:>10}",
        "server", "req/s", "p50", "p99", "/native", "CPU/req", "peak RSS"
    );
    native.print_row("native hyper hello-world", None, None);
    for app in apps {
        let (mut child, addr) = start_spinkube(spinkube, &app.dir, cache, &app.flags)?;
        let cpu_before = process_cpu(child.id());
        let spin = rt.block_on(load(addr));
        let cpu = process_cpu(child.id())
            .zip(cpu_before)
            .map(|(after, before)| after.saturating_sub(before));
        let rss = peak_rss_mib(child.id());
        let _ = child.kill();
        let _ = child.wait();
        let spin = spin?;
        // The load generator shares the cores; this is the server's own cost per request.
        let cpu_per_request =
            cpu.map(|cpu| cpu.as_secs_f64() * 1e6 / (spin.rps * (WARMUP + MEASURE).as_secs_f64()));
        spin.print_row_with_rss(
            &format!("spinkube {}", app.label),
            Some(spin.rps / native.rps),
            cpu_per_request,
            rss,
        );
    }

    Ok(())
}

/// Key-value through a Python guest (default store on Redis) next to a direct
/// Redis client, all against one redis-server in this run.
fn key_value(rt: &tokio::runtime::Runtime, bin: &Path, root: &Path, cache: &Path) -> Result<()> {
    let dir = tempdir("bench-kv")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut redis = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .context("starting redis-server (apt-get install redis-server)")?;
    let redis_addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let result = (|| -> Result<()> {
        rt.block_on(wait_for_redis(redis_addr))?;
        let rc = dir.join("runtime-config.toml");
        std::fs::write(
            &rc,
            format!("[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://{redis_addr}\"\n[key_value_store.other]\ntype = \"spin\"\n"),
        )?;
        let app = root.join("e2e/apps/host-apis");
        let mut child = Command::new(bin)
            .args(["up", "-q", "--listen", "127.0.0.1:0", "--state-dir"])
            .arg(&dir)
            .arg("--runtime-config-file")
            .arg(&rc)
            .arg("-f")
            .arg(&app)
            .env("SPINKUBE_CACHE_DIR", cache)
            .env("SPIN_VARIABLE_SECRET_TOKEN", "bench")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()?;
        let addr = serving_addr(&mut child)?;
        let figures = rt.block_on(async {
            put(addr, "/kv/default/bench", "value").await?;
            let direct = load_redis(redis_addr).await?;
            let plain = load_path(addr, "/whoami").await?;
            let kv = load_path(addr, "/kv/default/bench").await?;
            Ok::<_, anyhow::Error>((direct, plain, kv))
        });
        let _ = child.kill();
        let _ = child.wait();
        let (direct, plain, kv) = figures?;
        println!("# key-value: {CONNECTIONS} connections, {MEASURE:?} each; guest = Python host-apis app, store on Redis");
        println!("{:<28} {:>10} {:>10} {:>10}", "path", "req/s", "p50", "p99");
        direct.print("direct Redis GET");
        plain.print("guest, no host call");
        kv.print("guest, key-value get");
        println!(
            "host call path + Redis round trip per request (p50 difference): {:.3} ms; direct Redis GET p50: {:.3} ms",
            ms(kv.p50.saturating_sub(plain.p50)),
            ms(direct.p50)
        );
        Ok(())
    })();
    let _ = redis.kill();
    let _ = redis.wait();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn serving_addr(child: &mut Child) -> Result<SocketAddr> {
    let out = child.stdout.take().context("stdout")?;
    let mut lines = BufReader::new(out).lines();
    while let Some(line) = lines.next().transpose()? {
        if let Some(url) = line.strip_prefix("Serving http://") {
            let addr = url.parse()?;
            std::thread::spawn(move || lines.for_each(drop));
            return Ok(addr);
        }
    }
    bail!("spinkube exited before serving")
}

async fn wait_for_redis(addr: SocketAddr) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if redis_get(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bail!("redis-server did not start")
}

/// A GET on a fresh connection: the readiness probe.
async fn redis_get(addr: SocketAddr) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(b"*2\r\n$3\r\nGET\r\n$5\r\nbench\r\n").await?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).await?;
    if n == 0 {
        bail!("redis closed the connection");
    }
    Ok(())
}

async fn put(addr: SocketAddr, path: &str, body: &'static str) -> Result<()> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = hyper::Request::put(path)
        .header("host", addr.to_string())
        .body(Full::new(Bytes::from_static(body.as_bytes())))?;
    let status = sender.send_request(req).await?.status();
    if status != 200 {
        bail!("PUT {path}: {status}");
    }
    Ok(())
}

struct Figures {
    rps: f64,
    p50: Duration,
    p99: Duration,
}

impl Figures {
    fn print(&self, name: &str) {
        println!(
            "{name:<28} {:>10.0} {:>8.2}ms {:>8.2}ms",
            self.rps,
            ms(self.p50),
            ms(self.p99)
        );
    }

    /// A throughput table row; `ratio` to native and `cpu_us` per request when known.
    fn print_row(&self, name: &str, ratio: Option<f64>, cpu_us: Option<f64>) {
        self.print_row_with_rss(name, ratio, cpu_us, None);
    }

    /// The row plus the server's peak resident memory, in MiB.
    fn print_row_with_rss(
        &self,
        name: &str,
        ratio: Option<f64>,
        cpu_us: Option<f64>,
        rss_mib: Option<u64>,
    ) {
        let ratio = ratio.map_or(String::new(), |r| format!("{:.1}%", 100.0 * r));
        let cpu = cpu_us.map_or(String::new(), |c| format!("{c:.0}us"));
        let rss = rss_mib.map_or(String::new(), |m| format!("{m} MiB"));
        println!(
            "{name:<44} {:>10.0} {:>8.2}ms {:>8.2}ms {ratio:>8} {cpu:>10} {rss:>10}",
            self.rps,
            ms(self.p50),
            ms(self.p99)
        );
    }
}

/// `spinkube push -f APP IMAGE`.
fn push(spinkube: &Path, app: &Path, image: &str) -> Result<()> {
    let out = Command::new(spinkube)
        .args(["push", "-f"])
        .arg(app)
        .arg(image)
        .output()?;
    if !out.status.success() {
        bail!("spinkube push: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn start_native() -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let svc = service_fn(|_req| async {
                    let mut r =
                        hyper::Response::new(Full::new(Bytes::from_static(b"Hello from Rust!")));
                    r.headers_mut()
                        .insert("content-type", "text/plain".parse().unwrap());
                    Ok::<_, Infallible>(r)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(addr)
}

async fn load(addr: SocketAddr) -> Result<Figures> {
    load_path(addr, "/").await
}

/// Closed-loop load: each connection sends its next request when the last answers.
async fn load_path(addr: SocketAddr, path: &'static str) -> Result<Figures> {
    let mut tasks = Vec::new();
    let start = Instant::now();
    for _ in 0..CONNECTIONS {
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            let mut latencies = Vec::new();
            loop {
                let t = Instant::now();
                let req = hyper::Request::get(path)
                    .header("host", addr.to_string())
                    .body(Empty::<Bytes>::new())?;
                let resp = sender.send_request(req).await?;
                let status = resp.status();
                resp.into_body().collect().await?;
                if status != 200 {
                    bail!("unexpected status {status}");
                }
                let elapsed = start.elapsed();
                if elapsed > WARMUP + MEASURE {
                    break;
                }
                if elapsed > WARMUP {
                    latencies.push(t.elapsed());
                }
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Ok(Figures {
        rps: all.len() as f64 / MEASURE.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
    })
}

/// Closed-loop GETs over persistent Redis connections, like `load_path` does for HTTP.
async fn load_redis(addr: SocketAddr) -> Result<Figures> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const GET: &[u8] = b"*2\r\n$3\r\nGET\r\n$5\r\nbench\r\n";
    const REPLY: &[u8] = b"$5\r\nvalue\r\n";
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        tasks.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            let mut latencies = Vec::new();
            let mut buf = [0u8; 64];
            loop {
                let t = Instant::now();
                s.write_all(GET).await?;
                let mut got = 0;
                while got < REPLY.len() {
                    let n = s.read(&mut buf[got..]).await?;
                    if n == 0 {
                        bail!("redis closed the connection");
                    }
                    got += n;
                }
                if &buf[..got] != REPLY {
                    bail!(
                        "unexpected reply {:?}",
                        String::from_utf8_lossy(&buf[..got])
                    );
                }
                let elapsed = start.elapsed();
                if elapsed > WARMUP + MEASURE {
                    break;
                }
                if elapsed > WARMUP {
                    latencies.push(t.elapsed());
                }
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    figures(all)
}

fn figures(mut all: Vec<Duration>) -> Result<Figures> {
    if all.is_empty() {
        bail!("no requests completed");
    }
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Ok(Figures {
        rps: all.len() as f64 / MEASURE.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
    })
}

fn start_spinkube(
    bin: &Path,
    app: &Path,
    cache: &Path,
    flags: &[String],
) -> Result<(Child, SocketAddr)> {
    let mut child = Command::new(bin)
        .args(["up", "-q", "--listen", "127.0.0.1:0", "-f"])
        .arg(app)
        .args(flags)
        // Key-value data of apps with a default store stays out of the source tree.
        .arg("--state-dir")
        .arg(cache.join("state"))
        .env("SPINKUBE_CACHE_DIR", cache)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .context("starting spinkube")?;
    let out = child.stdout.take().context("stdout")?;
    let mut lines = BufReader::new(out).lines();
    while let Some(line) = lines.next().transpose()? {
        if let Some(url) = line.strip_prefix("Serving http://") {
            let addr = url.parse()?;
            std::thread::spawn(move || lines.for_each(drop));
            return Ok((child, addr));
        }
    }
    bail!("spinkube exited before serving")
}

/// Time from spawning `spinkube up` on a fixed port to its first 200.
fn cold_start(
    rt: &tokio::runtime::Runtime,
    bin: &Path,
    app: &Path,
    cache: &Path,
) -> Result<Duration> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let start = Instant::now();
    let mut child = Command::new(bin)
        .args(["up", "-q", "--listen", &addr.to_string(), "-f"])
        .arg(app)
        .env("SPINKUBE_CACHE_DIR", cache)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?;
    let result = rt.block_on(async {
        loop {
            if start.elapsed() > Duration::from_secs(120) {
                bail!("no response within 120 s");
            }
            if let Ok(stream) = tokio::net::TcpStream::connect(addr).await {
                if let Ok((mut sender, conn)) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
                {
                    tokio::spawn(conn);
                    let req = hyper::Request::get("/")
                        .header("host", addr.to_string())
                        .body(Empty::<Bytes>::new())?;
                    if let Ok(r) = sender.send_request(req).await {
                        if r.status() == 200 {
                            return Ok(start.elapsed());
                        }
                    }
                }
            }
            // Polling interval of the probe, not synchronisation in a test.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// A process's peak resident memory (VmHWM), from /proc.
fn peak_rss_mib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024)
}

/// User + system CPU time of a process, from /proc.
fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the `(comm)` part; utime and stime are the 12th and 13th of those.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // The kernel's USER_HZ is 100 on Linux.
    Some(Duration::from_millis(ticks * 10))
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn sibling_binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe.parent().context("exe dir")?.join(name);
    if !path.is_file() {
        bail!(
            "{} not found; build it with `cargo build --release -p spinkube-cli`",
            path.display()
        );
    }
    Ok(path)
}

/// Where the release shim binary is (it must be on containerd's PATH).
fn shim_dir() -> Result<PathBuf> {
    let shim = sibling_binary("containerd-shim-spin-v2")?;
    Ok(shim.parent().context("shim dir")?.to_path_buf())
}

fn tempdir(prefix: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
