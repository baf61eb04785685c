//! Redis trigger figures: messages/s handled by a trivial guest (the C app in
//! e2e/apps/redis-c, which RPUSHes each payload) and publish-to-handled latency,
//! next to the raw PUBLISH rate of the same redis-server. Loopback only, bounded in time.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

const CHANNEL: &str = "bench";
const LIST: &str = "bench:messages";
/// Messages for the throughput run.
const BURST: usize = 2_000;
/// Round trips for the latency run.
const ROUND_TRIPS: usize = 300;
/// Upper bound of each phase.
const PHASE_LIMIT: Duration = Duration::from_secs(30);
const RAW_DURATION: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(2);

pub fn run(bin: &Path, root: &Path) -> Result<()> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut redis = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .context("starting redis-server (apt-get install redis-server)")?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let cache = super::tempdir("bench-redis-cache")?;
    let result = measure(bin, root, addr, &cache);
    let _ = redis.kill();
    let _ = redis.wait();
    let _ = std::fs::remove_dir_all(&cache);
    result
}

fn measure(bin: &Path, root: &Path, addr: SocketAddr, cache: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut conn = loop {
        match Conn::connect(addr).and_then(|mut c| c.cmd(&["PING"]).map(|_| c)) {
            Ok(c) => break c,
            Err(_) if Instant::now() < deadline => std::thread::sleep(POLL),
            Err(e) => return Err(e).context("redis-server did not start"),
        }
    };
    let raw = raw_publish_rate(addr)?;
    let benchmark = redis_benchmark(addr.port());

    let url = format!("redis://{addr}");
    let mut child = Command::new(bin)
        .args(["up", "-f"])
        .arg(root.join("e2e/apps/redis-c"))
        .args(["--variable", &format!("channel={CHANNEL}")])
        .args([
            "-e",
            &format!("REDIS_ADDRESS={url}"),
            "-e",
            "KEY_PREFIX=bench",
        ])
        .env("SPIN_VARIABLE_REDIS_ADDRESS", &url)
        .env("SPINKUBE_CACHE_DIR", cache)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()?;
    let result = (|| -> Result<(f64, Vec<Duration>)> {
        let out = child.stdout.take().context("stdout")?;
        let mut lines = BufReader::new(out).lines();
        loop {
            match lines.next().transpose()? {
                Some(l) if l.starts_with("Active Channels") => break,
                Some(_) => {}
                None => bail!("spinkube exited before subscribing"),
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        wait(PHASE_LIMIT, "the subscription", || {
            Ok(conn
                .cmd(&["PUBSUB", "NUMSUB", CHANNEL])?
                .ends_with(&[b"1".to_vec()]))
        })?;

        let mut latencies = Vec::with_capacity(ROUND_TRIPS);
        let phase = Instant::now();
        for i in 0..ROUND_TRIPS {
            if phase.elapsed() > PHASE_LIMIT {
                break;
            }
            let start = Instant::now();
            conn.cmd(&["PUBLISH", CHANNEL, &i.to_string()])?;
            let popped = conn.cmd(&["BLPOP", LIST, "5"])?;
            if popped.is_empty() {
                bail!("message {i} was not handled within 5s");
            }
            latencies.push(start.elapsed());
        }

        let start = Instant::now();
        let mut publisher = Conn::connect(addr)?;
        let burst: Vec<String> = (0..BURST).map(|i| format!("m{i}")).collect();
        for chunk in burst.chunks(100) {
            publisher.pipeline(chunk.iter().map(|m| vec!["PUBLISH", CHANNEL, m.as_str()]))?;
        }
        wait(PHASE_LIMIT, "the burst to be handled", || {
            Ok(conn.cmd(&["LLEN", LIST])?.first().map(|n| n.as_slice())
                == Some(BURST.to_string().as_bytes()))
        })?;
        let rate = BURST as f64 / start.elapsed().as_secs_f64();
        Ok((rate, latencies))
    })();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let (rate, mut latencies) = result?;
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];

    println!();
    println!("# Redis trigger: trivial C guest (RPUSH per message), default --redis-concurrency, loopback");
    println!("raw PUBLISH, pipelined, no subscribers : {raw:>10.0} msg/s");
    if let Some(b) = benchmark {
        println!("redis-benchmark PUBLISH (50 clients)    : {b:>10.0} msg/s");
    }
    println!("spinkube handled ({BURST} burst)          : {rate:>10.0} msg/s");
    println!(
        "publish → handled latency ({} round trips): p50 {:.3} ms, p99 {:.3} ms",
        latencies.len(),
        super::ms(pct(0.5)),
        super::ms(pct(0.99))
    );
    Ok(())
}

/// PUBLISH rate of the server itself: one connection, batches of 100, for [`RAW_DURATION`].
fn raw_publish_rate(addr: SocketAddr) -> Result<f64> {
    let mut c = Conn::connect(addr)?;
    let start = Instant::now();
    let mut sent = 0usize;
    while start.elapsed() < RAW_DURATION {
        c.pipeline((0..100).map(|_| vec!["PUBLISH", "bench-raw", "x"]))?;
        sent += 100;
    }
    Ok(sent as f64 / start.elapsed().as_secs_f64())
}

/// `redis-benchmark ... PUBLISH` if the tool is installed.
fn redis_benchmark(port: u16) -> Option<f64> {
    let out = Command::new("redis-benchmark")
        .args([
            "-p",
            &port.to_string(),
            "-n",
            "50000",
            "-q",
            "PUBLISH",
            "bench-raw",
            "x",
        ])
        .output()
        .ok()?;
    // "PUBLISH bench-raw x: 81967.21 requests per second, p50=..."
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.contains("requests per second"))?;
    let after = line.rsplit_once(": ")?.1.trim_start();
    let number = after.split_whitespace().next()?;
    number.parse().ok()
}

fn wait(limit: Duration, what: &str, mut done: impl FnMut() -> Result<bool>) -> Result<()> {
    let deadline = Instant::now() + limit;
    while !done()? {
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}

/// A minimal RESP2 client: replies flattened to their bulk/status/integer parts.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn connect(addr: SocketAddr) -> Result<Self> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Self {
            writer: s.try_clone()?,
            reader: BufReader::new(s),
        })
    }

    fn cmd(&mut self, args: &[&str]) -> Result<Vec<Vec<u8>>> {
        self.writer.write_all(&encode(args))?;
        self.read()
    }

    fn pipeline<'a>(&mut self, cmds: impl Iterator<Item = Vec<&'a str>>) -> Result<()> {
        let mut buf = Vec::new();
        let mut n = 0;
        for c in cmds {
            buf.extend(encode(&c));
            n += 1;
        }
        self.writer.write_all(&buf)?;
        for _ in 0..n {
            self.read()?;
        }
        Ok(())
    }

    fn read(&mut self) -> Result<Vec<Vec<u8>>> {
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let line = line.trim_end();
        let (kind, rest) = line.split_at_checked(1).context("empty reply")?;
        match kind {
            "+" | ":" => Ok(vec![rest.as_bytes().to_vec()]),
            "-" => bail!("redis error: {rest}"),
            "$" => {
                let Ok(len) = rest.parse::<usize>() else {
                    return Ok(vec![]); // nil
                };
                let mut data = vec![0; len + 2];
                std::io::Read::read_exact(&mut self.reader, &mut data)?;
                data.truncate(len);
                Ok(vec![data])
            }
            "*" => {
                let Ok(n) = rest.parse::<usize>() else {
                    return Ok(vec![]); // nil array (BLPOP timeout)
                };
                let mut all = Vec::new();
                for _ in 0..n {
                    all.extend(self.read()?);
                }
                Ok(all)
            }
            _ => bail!("unexpected reply {line:?}"),
        }
    }
}

fn encode(args: &[&str]) -> Vec<u8> {
    let mut buf = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        buf.extend(format!("${}\r\n", a.len()).bytes());
        buf.extend(a.as_bytes());
        buf.extend(b"\r\n");
    }
    buf
}
