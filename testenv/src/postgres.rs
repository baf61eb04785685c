//! A throwaway PostgreSQL cluster (Debian package `postgresql`): `initdb` in a temp dir with
//! password (scram) authentication, `postgres` on a free loopback port, run as `nobody`
//! (initdb and postgres refuse root), every connection logged so tests can count them.
//!
//! ```no_run
//! use spinkube_testenv::postgres::Postgres;
//!
//! let pg = Postgres::start("spin", "pw");
//! pg.psql("CREATE TABLE t (id int)");          // as the superuser `spin`
//! let url = pg.url();                           // postgres://spin:pw@127.0.0.1:PORT/postgres
//! let n = pg.connections();                     // "connection received" lines so far
//! ```

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const READY_LIMIT: Duration = Duration::from_secs(60);
/// A poll interval while waiting for `pg_isready`, not a guess at the startup time.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// `nobody`: postgres will not run as root.
const UID: u32 = 65534;
const GID: u32 = 65534;

/// The directory with `initdb`, `postgres`, `pg_isready` and `psql`: `SPINKUBE_PG_BIN`, else
/// the newest `/usr/lib/postgresql/<major>/bin` (Debian), else wherever `initdb` is on PATH.
pub fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SPINKUBE_PG_BIN") {
        return Some(dir.into());
    }
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((major, bin))
        })
        .collect();
    majors.sort();
    if let Some((_, bin)) = majors.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .find(|d| d.join("initdb").is_file() && d.join("pg_isready").is_file())
}

pub struct Postgres {
    child: Option<Child>,
    port: u16,
    /// Serving TLS with a certificate [`Postgres::ca_path`] signed.
    tls: bool,
    user: String,
    password: String,
    bin: PathBuf,
    dir: tempfile::TempDir,
}

impl Postgres {
    pub fn available() -> bool {
        bin_dir().is_some()
    }

    /// A new cluster whose superuser is `user` with `password`.
    pub fn start(user: &str, password: &str) -> Postgres {
        Self::spawn(user, password, false)
    }

    /// [`Postgres::start`] with TLS on (plain connections still accepted), its certificate
    /// (for 127.0.0.1 and localhost) signed by a fresh CA at [`Postgres::ca_path`].
    pub fn start_tls(user: &str, password: &str) -> Postgres {
        Self::spawn(user, password, true)
    }

    fn spawn(user: &str, password: &str, tls: bool) -> Postgres {
        let bin = bin_dir().expect(
            "PostgreSQL is missing: apt-get install -y postgresql (e2e/install-tools.sh does)",
        );
        let dir = tempfile::Builder::new()
            .prefix("spinkube-postgres-")
            .tempdir()
            .expect("temp dir for postgres");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, password).unwrap();
        for p in [dir.path(), &data, &pwfile] {
            std::os::unix::fs::chown(p, Some(UID), Some(GID)).unwrap();
        }
        let out = Command::new(bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                user,
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .uid(UID)
            .gid(GID)
            .current_dir(dir.path())
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let port = crate::process::free_port();
        if tls {
            let ip = std::net::IpAddr::from([127, 0, 0, 1]);
            let pki = crate::certs::generate(ip, ip).expect("test certificates");
            std::fs::write(dir.path().join("ca.pem"), &pki.ca_cert).unwrap();
            for (name, pem) in [
                ("server.crt", &pki.serving_cert),
                ("server.key", &pki.serving_key),
            ] {
                let path = data.join(name);
                std::fs::write(&path, pem).unwrap();
                // postgres refuses a key others can read.
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
                std::os::unix::fs::chown(&path, Some(UID), Some(GID)).unwrap();
            }
        }
        let mut pg = Postgres {
            child: None,
            port,
            tls,
            user: user.into(),
            password: password.into(),
            bin,
            dir,
        };
        pg.restart();
        pg
    }

    /// (Re)starts the server on the same port and data, and waits for `pg_isready`.
    pub fn restart(&mut self) {
        self.stop();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        std::os::unix::fs::chown(self.log_path(), Some(UID), Some(GID)).unwrap();
        let mut cmd = Command::new(self.bin.join("postgres"));
        cmd.arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-k")
            .arg(self.dir.path())
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-c", "fsync=off", "-c", "log_connections=on"])
            .args(["-c", "max_connections=200"])
            .args(if self.tls { &["-c", "ssl=on"][..] } else { &[] })
            .uid(UID)
            .gid(GID)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.child = Some(crate::process::spawn_tied(cmd).expect("spawn postgres"));
        let (isready, port) = (self.bin.join("pg_isready"), self.port.to_string());
        let ready = || {
            Command::new(&isready)
                .args(["-q", "-h", "127.0.0.1", "-p", &port])
                .status()
                .is_ok_and(|s| s.success())
        };
        let child = self.child.as_mut().unwrap();
        if let Err(why) = crate::process::wait_ready(child, READY_LIMIT, POLL_INTERVAL, ready) {
            panic!("postgres {why}:\n{}", self.log());
        }
    }

    /// Stops the server (SIGTERM, by PID).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            crate::process::stop(&mut child, Duration::from_secs(10));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA certificate (PEM) of a [`Postgres::start_tls`] server.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Whether the server saw TLS connections (`pg_stat_ssl`), other than psql's own.
    pub fn tls_sessions(&self) -> usize {
        self.psql("SELECT count(*) FROM pg_stat_ssl WHERE ssl AND pid <> pg_backend_pid()")
            .parse()
            .unwrap_or(0)
    }

    /// `postgres://USER:PASSWORD@127.0.0.1:PORT/postgres`
    pub fn url(&self) -> String {
        format!(
            "postgres://{}:{}@127.0.0.1:{}/postgres",
            self.user, self.password, self.port
        )
    }

    /// Runs `sql` with psql as the superuser; returns its unaligned, tuples-only output.
    pub fn psql(&self, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                &self.user,
            ])
            .args(["-d", "postgres", "-c", sql])
            .env("PGPASSWORD", &self.password)
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Connections the server has accepted so far (its `connection received` log lines;
    /// written before the connection proceeds, so a finished client's is always in).
    pub fn connections(&self) -> usize {
        self.log().matches("connection received:").count()
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
