//! Spawning long-lived children that die with the test process.
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, and
//! cargo's test harness runs every test on its own short-lived thread. So all
//! control-plane processes are forked by one dedicated thread that never exits:
//! they get SIGKILL when the test process goes away, however it ends.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

type Request = (Command, mpsc::Sender<io::Result<Child>>);

fn spawner() -> &'static Mutex<mpsc::Sender<Request>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Request>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("spinkube-testenv-spawner".into())
            .spawn(move || {
                // Never returns: its exit would SIGKILL every child.
                loop {
                    match rx.recv() {
                        Ok((mut cmd, reply)) => {
                            let _ = reply.send(cmd.spawn());
                        }
                        Err(_) => std::thread::park(),
                    }
                }
            })
            .expect("spawn the spinkube-testenv spawner thread");
        Mutex::new(tx)
    })
}

/// Spawns `cmd` from the spawner thread with `PR_SET_PDEATHSIG(SIGKILL)`.
pub fn spawn_tied(mut cmd: Command) -> io::Result<Child> {
    // SAFETY: prctl and getppid are async-signal-safe; nothing else runs in the child.
    unsafe {
        let parent = libc::getpid();
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((cmd, reply_tx))
        .map_err(|_| io::Error::other("spawner thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| io::Error::other("spawner thread is gone"))?
}

/// SIGTERM, then SIGKILL after `grace`; reaps the child.
pub fn stop(child: &mut Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    // SAFETY: plain kill(2) on our own, not yet reaped, child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Lazily unmounts every mount under `dir`, deepest first, so the directory can be removed
/// (containerd's snapshots, the kubelet's tmpfs volumes).
pub fn unmount_under(dir: &std::path::Path) {
    let root = dir.to_string_lossy().into_owned();
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return;
    };
    let mut ours: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|m| m.starts_with(&root))
        .collect();
    ours.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in ours {
        let _ = Command::new("umount").arg("-l").arg(m).status();
    }
}

/// Polls `ready` every `interval` for up to `limit` while `child` runs. `Err` says why it gave up
/// ("exited (status)" or "was not ready within ..."), for the caller's panic with the log.
pub fn wait_ready(
    child: &mut Child,
    limit: Duration,
    interval: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if ready() {
            return Ok(());
        }
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("exited ({status})"));
        }
        std::thread::sleep(interval);
    }
    Err(format!("was not ready within {limit:?}"))
}

/// A free loopback port (the listener that found it is closed again).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free loopback port")
        .port()
}
