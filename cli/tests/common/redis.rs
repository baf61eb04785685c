//! A real `redis-server` (Debian package `redis-server`) on a free loopback port, for outbound
//! Redis tests. Talks RESP over a plain `std::net::TcpStream`, so tests need no Redis crate.
//!
//! ```ignore
//! let mut redis = RedisServer::start();
//! redis.cmd(&["SET", "k", "v"]);              // "OK"
//! assert_eq!(redis.cmd(&["GET", "k"]), "v");
//! let sub = redis.subscribe("ch");            // for testing PUBLISH from a guest
//! redis.restart();                            // same port, empty data set
//! ```

#![allow(dead_code)]

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a fresh server may take to answer PING.
const READY_LIMIT: Duration = Duration::from_secs(20);
/// Pause between readiness probes (a poll interval, not a guess at the startup time).
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// Read/write timeout for commands sent with [`RedisServer::cmd`].
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts at finding a free port (another process may grab the probed port first).
const PORT_ATTEMPTS: usize = 5;

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`
    Status(String),
    /// `-ERR ...` (the whole message, e.g. `WRONGTYPE Operation against ...`)
    Error(String),
    /// `:42`
    Int(i64),
    /// `$3\r\nabc`
    Bulk(Vec<u8>),
    /// `$-1` or `*-1`
    Nil,
    /// `*2\r\n...`
    Array(Vec<Reply>),
}

impl fmt::Display for Reply {
    /// Status and bulk replies as their text (bulk decoded lossily as UTF-8), integers in
    /// decimal, errors as `(error) MESSAGE`, nil as `(nil)`, arrays one element per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Status(s) => f.write_str(s),
            Reply::Error(e) => write!(f, "(error) {e}"),
            Reply::Int(i) => write!(f, "{i}"),
            Reply::Bulk(b) => f.write_str(&String::from_utf8_lossy(b)),
            Reply::Nil => f.write_str("(nil)"),
            Reply::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\n")?;
                    }
                    write!(f, "{item}")?;
                }
                Ok(())
            }
        }
    }
}

/// A `redis-server` child process; killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Whether `redis-server` can be run (for tests that skip without it).
    pub fn available() -> bool {
        Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// Starts a server on a free loopback port and waits until it answers PING.
    pub fn start() -> RedisServer {
        let dir = tempfile::Builder::new()
            .prefix("spinkube-redis-")
            .tempdir()
            .expect("temp dir for redis-server");
        let mut server = RedisServer {
            child: None,
            port: free_port(),
            dir,
        };
        let mut last_error = String::new();
        for attempt in 0..PORT_ATTEMPTS {
            if attempt > 0 {
                server.port = free_port();
            }
            match server.spawn_and_wait() {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start redis-server: {last_error}");
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The server's own directory (working dir and log file).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the server printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Runs one command on a new connection and renders the reply (see [`Reply`]'s
    /// `Display`: `"OK"`, `"v"`, `"3"`, `"(nil)"`, `"(error) ..."`, arrays one per line).
    /// Panics if the server cannot be reached.
    pub fn cmd(&self, args: &[&str]) -> String {
        self.reply(args).to_string()
    }

    /// Like [`cmd`](Self::cmd), but returns the structured reply.
    pub fn reply(&self, args: &[&str]) -> Reply {
        self.try_reply(args).unwrap_or_else(|e| {
            panic!(
                "redis {args:?} on port {}: {e}\nredis-server log:\n{}",
                self.port,
                self.log()
            )
        })
    }

    /// Like [`reply`](Self::reply), but returns I/O errors (e.g. while the server is stopped).
    pub fn try_reply(&self, args: &[&str]) -> io::Result<Reply> {
        let stream = connect(self.addr(), IO_TIMEOUT)?;
        let mut conn = Conn::new(stream)?;
        conn.send(args)?;
        conn.read_reply()
    }

    /// Subscribes to `channel` on a connection of its own (see [`Subscriber::recv`]).
    /// Waits until the server counts `subscribers` subscriptions to `channel` (a PUBLISH before
    /// that would be lost).
    pub fn wait_subscribed(&self, channel: &str, subscribers: usize) {
        // Self-contained: the shim suite includes this file without the rest of `common`.
        let deadline = Instant::now() + Duration::from_secs(60);
        let want = subscribers.to_string();
        loop {
            let out = self.try_reply(&["PUBSUB", "NUMSUB", channel]);
            if out.is_ok_and(|o| o.to_string().lines().nth(1) == Some(want.as_str())) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {subscribers} subscriber(s) on {channel}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn subscribe(&self, channel: &str) -> Subscriber {
        let stream = connect(self.addr(), IO_TIMEOUT).expect("connect to redis-server");
        let mut conn = Conn::new(stream).expect("redis connection");
        conn.send(&["SUBSCRIBE", channel]).expect("send SUBSCRIBE");
        match conn.read_reply().expect("SUBSCRIBE confirmation") {
            Reply::Array(items) if items.first() == Some(&Reply::Bulk(b"subscribe".to_vec())) => {}
            other => panic!("unexpected SUBSCRIBE reply: {other:?}"),
        }
        Subscriber { conn }
    }

    /// Kills the server and waits for it to exit. Clients see their connections drop.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server if running and starts a new one on the SAME port (with an empty
    /// data set), waiting until it answers PING. For reconnect tests.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(e) = self.spawn_and_wait() {
            panic!("could not restart redis-server on port {}: {e}", self.port);
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("redis log file: {e}"))?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let port = self.port.to_string();
        let child = Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("spawn redis-server (apt-get install redis-server): {e}"))?;
        self.child = Some(child);

        let deadline = Instant::now() + READY_LIMIT;
        loop {
            let child = self.child.as_mut().expect("child");
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Err(format!(
                    "redis-server on port {} exited with {status}; log:\n{}",
                    self.port,
                    self.log()
                ));
            }
            if self.ping(deadline) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(format!(
                    "redis-server on port {} did not answer PING within {READY_LIMIT:?}; log:\n{}",
                    self.port,
                    self.log()
                ));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// One PING probe, bounded by `deadline`.
    fn ping(&self, deadline: Instant) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = left.clamp(Duration::from_millis(1), Duration::from_secs(1));
        let Ok(stream) = connect(self.addr(), timeout) else {
            return false;
        };
        let Ok(mut conn) = Conn::new(stream) else {
            return false;
        };
        conn.send(&["PING"]).is_ok()
            && matches!(conn.read_reply(), Ok(Reply::Status(s)) if s == "PONG")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A connection in subscribe mode.
pub struct Subscriber {
    conn: Conn,
}

impl Subscriber {
    /// The next message published on the channel, or `None` if none arrives within `timeout`
    /// (or the connection dropped).
    pub fn recv(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.conn.set_timeout(left).ok()?;
            match self.conn.read_reply() {
                Ok(Reply::Array(items)) => {
                    if let [Reply::Bulk(kind), _channel, Reply::Bulk(payload)] = items.as_slice() {
                        if kind == b"message" {
                            return Some(payload.clone());
                        }
                    }
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }
}

/// A port that was free a moment ago (the OS picks it; the listener is dropped at once).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A RESP2 connection.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn new(stream: TcpStream) -> io::Result<Conn> {
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(Conn {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        })
    }

    fn set_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.writer.set_read_timeout(Some(timeout))
    }

    fn send(&mut self, args: &[&str]) -> io::Result<()> {
        let mut buf = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            buf.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            buf.extend_from_slice(arg.as_bytes());
            buf.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&buf)?;
        self.writer.flush()
    }

    fn line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\r\n") {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in the middle of a reply",
            ));
        }
        line.truncate(line.len() - 2);
        String::from_utf8(line).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    fn read_reply(&mut self) -> io::Result<Reply> {
        let line = self.line()?;
        let bad =
            |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {line:?}"));
        let (kind, rest) = line
            .split_at_checked(1)
            .ok_or_else(|| bad("empty reply line"))?;
        let number = || {
            rest.parse::<i64>()
                .map_err(|_| bad("bad length or integer"))
        };
        match kind {
            "+" => Ok(Reply::Status(rest.to_string())),
            "-" => Ok(Reply::Error(rest.to_string())),
            ":" => Ok(Reply::Int(number()?)),
            "$" => {
                let Ok(len) = usize::try_from(number()?) else {
                    return Ok(Reply::Nil);
                };
                let mut data = vec![0; len + 2];
                self.reader.read_exact(&mut data)?;
                if !data.ends_with(b"\r\n") {
                    return Err(bad("bulk string without CRLF"));
                }
                data.truncate(len);
                Ok(Reply::Bulk(data))
            }
            "*" => {
                let Ok(count) = usize::try_from(number()?) else {
                    return Ok(Reply::Nil);
                };
                let items = (0..count)
                    .map(|_| self.read_reply())
                    .collect::<io::Result<Vec<_>>>()?;
                Ok(Reply::Array(items))
            }
            _ => Err(bad("unknown reply type")),
        }
    }
}
