//! A throwaway MariaDB server (Debian package `mariadb-server`): `mariadb-install-db` into a
//! temp datadir, `mariadbd` on a free loopback port and a private socket, a password user
//! for the guest, and the server's general log so tests can count connections.
//!
//! ```no_run
//! use spinkube_testenv::mariadb::MariaDb;
//!
//! let db = MariaDb::start("spin", "pw");       // database `spin`, user spin@% with pw
//! db.sql("CREATE TABLE spin.t (id int)");        // as root over the socket
//! let url = db.url();                            // mysql://spin:pw@127.0.0.1:PORT/spin
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SERVER: &str = "/usr/sbin/mariadbd";
const READY_LIMIT: Duration = Duration::from_secs(60);
/// A poll interval while waiting for `mariadb-admin ping`, not a guess at the startup time.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

pub struct MariaDb {
    child: Option<Child>,
    port: u16,
    user: String,
    password: String,
    dir: tempfile::TempDir,
}

impl MariaDb {
    pub fn available() -> bool {
        Path::new(SERVER).is_file()
    }

    /// A server with database `user` owned by `user`@`%` identified by `password`.
    pub fn start(user: &str, password: &str) -> MariaDb {
        assert!(
            Self::available(),
            "{SERVER} is missing: apt-get install -y mariadb-server (e2e/install-tools.sh does)"
        );
        let dir = tempfile::Builder::new()
            .prefix("spinkube-mariadb-")
            .tempdir()
            .expect("temp dir for mariadb");
        // A private tmpdir: concurrent bootstraps sharing /tmp collide on their
        // `#sql-temptable-*` files and fail with "Unknown table 'mysql.tmp_user_sys'".
        std::fs::create_dir(dir.path().join("tmp")).expect("tmpdir for mariadb");
        let out = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--user=root", "--skip-test-db"])
            .args(["--auth-root-authentication-method=socket"])
            .arg(format!("--datadir={}", dir.path().join("data").display()))
            .arg(format!("--tmpdir={}", dir.path().join("tmp").display()))
            .output()
            .expect("run mariadb-install-db");
        assert!(
            out.status.success(),
            "mariadb-install-db failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let port = crate::process::free_port();
        let mut db = MariaDb {
            child: None,
            port,
            user: user.into(),
            password: password.into(),
            dir,
        };
        db.restart();
        db.sql(&format!(
            "CREATE DATABASE `{user}`; CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'; \
             GRANT ALL ON `{user}`.* TO '{user}'@'%'; FLUSH PRIVILEGES;"
        ));
        db
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("mysqld.sock")
    }

    /// (Re)starts the server on the same port and datadir, and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("mariadbd.err"))
            .unwrap();
        let mut cmd = Command::new(SERVER);
        cmd.args(["--no-defaults", "--user=root", "--bind-address=127.0.0.1"])
            .arg(format!(
                "--datadir={}",
                self.dir.path().join("data").display()
            ))
            .arg(format!("--socket={}", self.socket().display()))
            .arg(format!(
                "--tmpdir={}",
                self.dir.path().join("tmp").display()
            ))
            .arg(format!("--port={}", self.port))
            .arg(format!(
                "--pid-file={}",
                self.dir.path().join("mariadbd.pid").display()
            ))
            .args(["--skip-name-resolve", "--innodb-flush-log-at-trx-commit=0"])
            .args(["--general-log=1"])
            .arg(format!(
                "--general-log-file={}",
                self.general_log_path().display()
            ))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.child = Some(crate::process::spawn_tied(cmd).expect("spawn mariadbd"));
        let socket = format!("--socket={}", self.socket().display());
        let ready = || {
            Command::new("mariadb-admin")
                .args(["--no-defaults", "-u", "root", &socket, "ping"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let child = self.child.as_mut().unwrap();
        if let Err(why) = crate::process::wait_ready(child, READY_LIMIT, POLL_INTERVAL, ready) {
            panic!("mariadbd {why}:\n{}", self.error_log());
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            crate::process::stop(&mut child, Duration::from_secs(20));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mysql://USER:PASSWORD@127.0.0.1:PORT/USER`
    pub fn url(&self) -> String {
        format!(
            "mysql://{}:{}@127.0.0.1:{}/{}",
            self.user, self.password, self.port, self.user
        )
    }

    /// Runs `sql` as root over the socket; returns the tab-separated output without headers.
    pub fn sql(&self, sql: &str) -> String {
        let out = Command::new("mariadb")
            .args(["--no-defaults", "-u", "root", "-N", "-B"])
            .arg(format!("--socket={}", self.socket().display()))
            .args(["-e", sql])
            .output()
            .expect("run mariadb client");
        assert!(
            out.status.success(),
            "mariadb {sql:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    fn general_log_path(&self) -> PathBuf {
        self.dir.path().join("general.log")
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mariadbd.err")).unwrap_or_default()
    }

    /// TCP logins of `user` so far (the general log's `Connect` lines; written before the
    /// server answers the client, so a finished client's is always in).
    pub fn connections(&self, user: &str) -> usize {
        std::fs::read_to_string(self.general_log_path())
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("Connect") && l.contains(&format!("{user}@")))
            .count()
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        self.stop();
    }
}
