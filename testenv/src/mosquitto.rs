//! A real Mosquitto broker (Debian package `mosquitto`) on a free loopback port with a
//! password file and no anonymous access, plus `mosquitto_sub` subscribers
//! (`mosquitto-clients`) that report each message with the QoS it arrived at.
//!
//! ```no_run
//! use spinkube_testenv::mosquitto::Mosquitto;
//!
//! let mut broker = Mosquitto::start("user", "pw");
//! let sub = broker.subscribe("news"); // returns once the broker confirmed the subscription
//! // ... publish from a guest to broker.url("client-1") ...
//! let msg = sub.next(); // Message { topic, payload, qos }
//! broker.stop();    // same port on restart()
//! broker.restart();
//! ```

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BROKER: &str = "/usr/sbin/mosquitto";
const READY_LIMIT: Duration = Duration::from_secs(20);
/// A poll interval while waiting for the port, not a guess at the startup time.
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// How long [`Subscriber::next`] waits for a message.
pub const MESSAGE_LIMIT: Duration = Duration::from_secs(30);

pub struct Mosquitto {
    child: Option<Child>,
    port: u16,
    /// The TLS listener of [`Mosquitto::start_tls`].
    tls_port: Option<u16>,
    user: String,
    password: String,
    dir: tempfile::TempDir,
}

impl Mosquitto {
    pub fn available() -> bool {
        Path::new(BROKER).is_file()
    }

    /// A broker that accepts only `user` / `password`.
    pub fn start(user: &str, password: &str) -> Mosquitto {
        Self::spawn(user, password, false)
    }

    /// [`Mosquitto::start`] plus a TLS listener ([`Mosquitto::tls_port`]) whose certificate
    /// (for 127.0.0.1 and localhost) a fresh CA ([`Mosquitto::ca_path`]) signed.
    pub fn start_tls(user: &str, password: &str) -> Mosquitto {
        Self::spawn(user, password, true)
    }

    fn spawn(user: &str, password: &str, tls: bool) -> Mosquitto {
        assert!(
            Self::available(),
            "{BROKER} is missing: apt-get install -y mosquitto mosquitto-clients (e2e/install-tools.sh does)"
        );
        let dir = tempfile::Builder::new()
            .prefix("spinkube-mosquitto-")
            .tempdir()
            .expect("temp dir for mosquitto");
        let passwd = dir.path().join("passwd");
        let status = Command::new("mosquitto_passwd")
            .args(["-b", "-c"])
            .arg(&passwd)
            .args([user, password])
            .status()
            .expect("mosquitto_passwd (package mosquitto)");
        assert!(status.success(), "mosquitto_passwd failed");
        let free_port = crate::process::free_port;
        let port = free_port();
        let mut conf = format!(
            "allow_anonymous false\npassword_file {}\npersistence false\nlog_dest stderr\nlog_type all\nlistener {port} 127.0.0.1\n",
            passwd.display()
        );
        let tls_port = tls.then(free_port);
        if let Some(tls_port) = tls_port {
            let ip = std::net::IpAddr::from([127, 0, 0, 1]);
            let pki = crate::certs::generate(ip, ip).expect("test certificates");
            let file = |name: &str, pem: &str| {
                let path = dir.path().join(name);
                std::fs::write(&path, pem).unwrap();
                path.display().to_string()
            };
            conf.push_str(&format!(
                "listener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n",
                file("ca.pem", &pki.ca_cert),
                file("server.pem", &pki.serving_cert),
                file("server-key.pem", &pki.serving_key),
            ));
        }
        std::fs::write(dir.path().join("mosquitto.conf"), conf).unwrap();
        let mut broker = Mosquitto {
            child: None,
            port,
            tls_port,
            user: user.into(),
            password: password.into(),
            dir,
        };
        broker.restart();
        broker
    }

    /// (Re)starts the broker on the same port and waits until it accepts connections.
    pub fn restart(&mut self) {
        self.stop();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let mut cmd = Command::new(BROKER);
        cmd.arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.child = Some(crate::process::spawn_tied(cmd).expect("spawn mosquitto"));
        let listening = |p| TcpStream::connect(("127.0.0.1", p)).is_ok();
        let (port, tls_port) = (self.port, self.tls_port);
        let child = self.child.as_mut().unwrap();
        let ready = || listening(port) && tls_port.is_none_or(listening);
        if let Err(why) = crate::process::wait_ready(child, READY_LIMIT, POLL_INTERVAL, ready) {
            panic!("mosquitto {why} (listening):\n{}", self.log());
        }
    }

    /// Stops the broker (SIGTERM, by PID) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            crate::process::stop(&mut child, Duration::from_secs(5));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TLS listener's port (brokers from [`Mosquitto::start_tls`] only).
    pub fn tls_port(&self) -> u16 {
        self.tls_port.expect("started with start_tls")
    }

    /// The CA certificate (PEM) that signed the TLS listener's certificate.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// `mqtt://127.0.0.1:PORT?client_id=ID`, the address form rumqttc (and so Spin) expects.
    pub fn url(&self, client_id: &str) -> String {
        format!("mqtt://127.0.0.1:{}?client_id={client_id}", self.port)
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("mosquitto.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// A `mosquitto_sub` on `topic` at QoS 2; returns once the broker has sent SUBACK.
    pub fn subscribe(&self, topic: &str) -> Subscriber {
        // Line-buffered: mosquitto_sub's stdout to a pipe would otherwise hold the SUBACK line.
        let mut cmd = Command::new("stdbuf");
        cmd.args(["-oL", "mosquitto_sub"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-u", &self.user, "-P", &self.password])
            .args(["-t", topic, "-q", "2", "-d"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = crate::process::spawn_tied(cmd).expect("spawn mosquitto_sub");
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let sub = Subscriber { child, lines: rx };
        let deadline = Instant::now() + READY_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match sub.lines.recv_timeout(left) {
                Ok(line) if line.contains("received SUBACK") => return sub,
                Ok(_) => {}
                Err(_) => panic!(
                    "mosquitto_sub got no SUBACK within {READY_LIMIT:?}; broker log:\n{}",
                    self.log()
                ),
            }
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One message as a subscriber saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    pub payload: String,
    /// The QoS of the PUBLISH the broker delivered (the publisher's, since the
    /// subscription is at QoS 2).
    pub qos: u8,
}

pub struct Subscriber {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Subscriber {
    /// The next message, or `None` after [`MESSAGE_LIMIT`].
    ///
    /// With `-d`, mosquitto_sub prints `Client (null) received PUBLISH (d0, q1, r0, m1,
    /// 'topic', ... (5 bytes))`, maybe its own `Client (null) sending PUBACK ...`, then the
    /// payload on a line of its own.
    pub fn next(&self) -> Option<Message> {
        let deadline = Instant::now() + MESSAGE_LIMIT;
        let recv = || {
            self.lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .ok()
        };
        loop {
            let line = recv()?;
            let Some(rest) = line.split("received PUBLISH (").nth(1) else {
                continue;
            };
            let (qos, topic, len) = parse_publish_line(rest)?;
            let mut payload = loop {
                let line = recv()?;
                if !line.starts_with("Client (null) ") {
                    break line;
                }
            };
            while payload.len() < len {
                payload.push('\n');
                payload.push_str(&recv()?);
            }
            return Some(Message {
                topic,
                payload,
                qos,
            });
        }
    }
}

/// `d0, q1, r0, m1, 'topic', ... (5 bytes))` -> (1, "topic", 5)
fn parse_publish_line(rest: &str) -> Option<(u8, String, usize)> {
    let qos = rest.split(", q").nth(1)?.chars().next()?.to_digit(10)? as u8;
    let topic = rest.split('\'').nth(1)?.to_string();
    let len = rest
        .rsplit('(')
        .next()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((qos, topic, len))
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        crate::process::stop(&mut self.child, Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn publish_lines_parse() {
        assert_eq!(
            super::parse_publish_line("d0, q1, r0, m1, 'news', ... (5 bytes))"),
            Some((1, "news".into(), 5))
        );
    }
}
