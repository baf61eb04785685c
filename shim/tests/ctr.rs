//! The shim under a real containerd 2.x, driven with `ctr` as a node operator would: apps pushed
//! with `spinkube push` to a real registry, pulled into containerd, run with
//! `--runtime io.containerd.spin.v2`, served over HTTP, stopped, and checked for leftovers.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::Duration;

use common::containerd::{poll, processes_mentioning, wait_for, Containerd, Options};
use common::registry::Registry;
use common::{free_port, get, push};

const PROBE: &str = "e2e/apps/shim-probe";
const STARTUP: Duration = Duration::from_secs(120);

struct Node {
    reg: Registry,
    ctd: Containerd,
}

impl Node {
    fn start() -> Node {
        let reg = Registry::start();
        let ctd = Containerd::start(&Options {
            shim_dir: common::shim_dir(),
            registry: Some(reg.host()),
            ..Default::default()
        });
        Node { reg, ctd }
    }

    /// Pushes `app` with `spinkube push` and pulls it into containerd; returns the reference.
    fn image(&self, app: &str, tag: &str) -> String {
        let image = self.reg.reference(tag);
        push(app, &image);
        self.ctd.ctr_ok(["images", "pull", "--plain-http", &image]);
        image
    }

    /// `ctr run` in the foreground (its exit status is the container's), host network, the
    /// container's stdout and stderr (and ctr's own messages) in `log`.
    fn run(&self, image: &str, id: &str, log: &Path, env: &[String], extra: &[&str]) -> Child {
        let mut cmd = self.ctd.ctr_command();
        cmd.args(["run", "--runtime", "io.containerd.spin.v2", "--net-host"]);
        for e in env {
            cmd.arg("--env").arg(e);
        }
        cmd.args(extra).args([image, id, "/"]);
        // Attached: ctr copies the container's stdout and stderr to its own.
        let file = std::fs::File::create(log).expect("container log file");
        cmd.stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        cmd.spawn().expect("ctr run")
    }

    /// Runs the container and waits until it answers `/hello` on a free loopback port
    /// (`SPIN_HTTP_LISTEN_ADDR`).
    fn serve(&self, image: &str, id: &str, env: &[&str], extra: &[&str]) -> App {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join(format!("{id}.log"));
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let mut env: Vec<String> = env.iter().map(|e| e.to_string()).collect();
        env.push(format!("SPIN_HTTP_LISTEN_ADDR={addr}"));
        let mut child = self.run(image, id, &log, &env, extra);
        wait_for("the app to answer /hello", STARTUP, || {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "container exited ({status}) before serving:\n{}",
                    read(&log)
                );
            }
            get(addr, "/hello").ok().filter(|(s, _)| *s == 200)
        });
        App {
            id: id.to_string(),
            addr,
            log,
            child,
            _dir: dir,
        }
    }

    /// Removes a stopped container (a foreground `ctr run` already deleted its task).
    fn delete(&self, id: &str) {
        let _ = self.ctd.ctr(["tasks", "delete", id]);
        self.ctd.ctr_ok(["containers", "delete", id]);
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    wait_for("ctr run to exit", limit, || child.try_wait().ok().flatten())
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A container serving HTTP, run by [`Node::serve`].
struct App {
    id: String,
    addr: SocketAddr,
    log: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl App {
    fn get(&self, path: &str) -> (u16, String) {
        get(self.addr, path).unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", self.log()))
    }

    fn log(&self) -> String {
        read(&self.log)
    }

    fn signal(&self, node: &Node, signal: &str) {
        node.ctd
            .ctr_ok(["tasks", "kill", "--signal", signal, &self.id]);
    }

    /// SIGTERM to the task, then [`Self::exits_cleanly`].
    fn stop(self, node: &Node) {
        self.signal(node, "SIGTERM");
        self.exits_cleanly(node);
    }

    /// The container must exit 0; then it is removed.
    fn exits_cleanly(mut self, node: &Node) {
        let status = wait_exit(&mut self.child, Duration::from_secs(30));
        assert!(
            status.success(),
            "exit after SIGTERM: {status}\n{}",
            self.log()
        );
        node.delete(&self.id);
    }
}

/// Where `ctr run` puts a container's memory cgroup (cgroup v1 here).
fn cgroup_dir(namespace: &str, id: &str) -> std::path::PathBuf {
    Path::new("/sys/fs/cgroup/memory").join(namespace).join(id)
}

#[test]
fn serves_a_pushed_app_and_stops_cleanly() {
    let node = Node::start();
    let image = node.image(PROBE, "probe:v1");
    let id = "probe";
    // SpinKube's shim lets a plain upper-case name supply a variable.
    let env = ["GREETING=hello from the container env"];
    let app = node.serve(&image, id, &env, &["--memory-limit", "268435456"]);
    assert_eq!(app.get("/hello"), (200, "hello from spin".into()));
    assert_eq!(
        app.get("/var"),
        (200, "hello from the container env".into())
    );
    assert_eq!(
        app.get("/file"),
        (200, "static file from the image\n".into())
    );

    // A trapping guest is a 500 for that request only, and the log says why.
    assert_eq!(app.get("/trap").0, 500);
    assert_eq!(app.get("/hello").0, 200);
    let trapped = |text: &str| text.contains("probe asked to trap") && text.contains("failed");
    let seen = poll(Duration::from_secs(10), || {
        trapped(&app.log()).then_some(())
    })
    .is_some();
    assert!(seen, "the trap is not in the container log:\n{}", app.log());

    // The container runs in its own cgroup with the memory limit containerd set.
    let cg = cgroup_dir(&node.ctd.namespace, id);
    let limit = std::fs::read_to_string(cg.join("memory.limit_in_bytes")).unwrap();
    assert_eq!(limit.trim(), "268435456");
    let procs = std::fs::read_to_string(cg.join("cgroup.procs")).unwrap();
    assert!(!procs.trim().is_empty(), "no process in {}", cg.display());

    app.stop(&node);

    // Nothing left: no shim or container process for this containerd, no cgroup, no mounts.
    let socket = node.ctd.socket.to_string_lossy().into_owned();
    wait_for("the shim to exit", Duration::from_secs(10), || {
        processes_mentioning(&socket).is_empty().then_some(())
    });
    assert!(!cg.exists(), "cgroup {} left behind", cg.display());
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    let state = node.ctd.dir().to_string_lossy().into_owned();
    let left: Vec<&str> = mounts
        .lines()
        .filter(|l| l.contains(&state) && l.contains(id))
        .collect();
    assert!(left.is_empty(), "mounts left behind: {left:?}");
}

#[test]
fn sigterm_lets_a_slow_request_finish() {
    let node = Node::start();
    let image = node.image(PROBE, "probe:slow");
    let env = [
        "SPIN_VARIABLE_GREETING=hi",
        "SPINKUBE_LOG=warn,spinkube_runtime=debug",
    ];
    let app = node.serve(&image, "slow", &env, &[]);
    let addr = app.addr;
    let request = std::thread::spawn(move || get(addr, "/slow?ms=2000"));
    // The runtime logs each dispatch at debug level: the request is in the guest now.
    wait_for(
        "the slow request to reach the guest",
        Duration::from_secs(10),
        || app.log().contains("dispatching GET /slow").then_some(()),
    );
    app.signal(&node, "SIGTERM");
    let (status, body) = request
        .join()
        .unwrap()
        .expect("the slow request was cut off");
    assert_eq!((status, body.as_str()), (200, "slept 2000"));
    app.exits_cleanly(&node);
}

#[test]
fn a_missing_variable_stops_the_container_with_the_reason() {
    let node = Node::start();
    let image = node.image(PROBE, "probe:novar");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let listen = format!("SPIN_HTTP_LISTEN_ADDR=127.0.0.1:{}", free_port());
    let mut child = node.run(&image, "novar", &log, &[listen], &[]);
    let status = wait_exit(&mut child, STARTUP);
    assert!(
        !status.success(),
        "the container should fail without `greeting`"
    );
    let text = read(&log);
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("Error:")
            && last.contains("greeting")
            && last.contains("SPIN_VARIABLE_GREETING"),
        "last log line should name the variable and how to set it: {text}"
    );
    node.delete("novar");
}

#[test]
fn compiled_code_is_kept_on_the_node_and_reused() {
    let node = Node::start();
    let image = node.image(PROBE, "probe:aot");
    let mut stored = None;
    for id in ["first", "second"] {
        let app = node.serve(&image, id, &["SPIN_VARIABLE_GREETING=hi"], &[]);
        assert_eq!(app.get("/var"), (200, "hi".into()), "{id} run");
        app.stop(&node);
        // runwasi labels each layer with its precompiled counterpart, keyed by our engine.
        let content = node.ctd.ctr_ok(["content", "ls"]);
        let labelled = content
            .lines()
            .filter(|l| l.contains("runwasi.io/precompiled/spin/"))
            .count();
        assert!(labelled > 0, "{id} run: no precompiled label:\n{content}");
        let blobs = content.lines().count();
        match stored {
            None => stored = Some(blobs),
            Some(before) => assert_eq!(
                blobs, before,
                "the second run stored new content (compiled again?)"
            ),
        }
    }
}

#[test]
fn the_runtime_config_mount_is_honoured() {
    let node = Node::start();
    let image = node.image(PROBE, "probe:rc");
    let dir = tempfile::tempdir().unwrap();
    // SpinKube mounts the runtime-config Secret at /runtime-config.toml (a bind mount in the
    // bundle); a static variables provider in it supplies the required variable.
    let rc = dir.path().join("runtime-config.toml");
    std::fs::write(
        &rc,
        "[[variables_provider]]\ntype = \"static\"\nvalues = { greeting = \"from the runtime config\" }\n",
    )
    .unwrap();
    let mount = format!(
        "type=bind,src={},dst=/runtime-config.toml,options=rbind:ro",
        rc.display()
    );
    let app = node.serve(&image, "rc", &[], &["--mount", &mount]);
    assert_eq!(app.get("/var"), (200, "from the runtime config".into()));
    app.stop(&node);
}

/// redis-c records each message with outbound Redis at REDIS_ADDRESS (component env), which
/// spin.toml has to set: write one for this server next to a copy of the built wasm.
fn redis_app(dir: &Path, url: &str) -> String {
    let app = dir.join("redis-app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::copy(
        common::repo_root().join("e2e/apps/redis-c/app.wasm"),
        app.join("app.wasm"),
    )
    .expect("e2e/apps/redis-c/app.wasm (run `make examples`)");
    std::fs::write(
        app.join("spin.toml"),
        format!(
            r#"spin_manifest_version = 2
[application]
name = "shim-redis"
[variables]
redis_address = {{ required = true }}
[application.trigger.redis]
address = "{{{{ redis_address }}}}"
[[trigger.redis]]
channel = "shim-messages"
component = "redis-c"
[component.redis-c]
source = "app.wasm"
allowed_outbound_hosts = ["redis://127.0.0.1:*"]
environment = {{ REDIS_ADDRESS = "{url}", KEY_PREFIX = "shim" }}
"#
        ),
    )
    .unwrap();
    app.to_string_lossy().into_owned()
}

#[test]
fn a_redis_triggered_app_handles_every_message() {
    let redis = common::redis::RedisServer::start();
    let node = Node::start();
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    let image = node.image(&redis_app(dir.path(), &url), "shim-redis:v1");
    let log = dir.path().join("app.log");
    let mut child = node.run(
        &image,
        "redis",
        &log,
        &[format!("SPIN_VARIABLE_REDIS_ADDRESS={url}")],
        &[],
    );
    wait_for("the subscription", STARTUP, || {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("container exited ({status}):\n{}", read(&log));
        }
        let numsub = redis.cmd(&["PUBSUB", "NUMSUB", "shim-messages"]);
        (numsub.lines().nth(1).map(str::trim) == Some("1")).then_some(())
    });
    let sent: Vec<String> = (0..20).map(|i| format!("message-{i}")).collect();
    for m in &sent {
        redis.cmd(&["PUBLISH", "shim-messages", m]);
    }
    let got = wait_for("every message recorded", Duration::from_secs(30), || {
        let list = redis.cmd(&["LRANGE", "shim:messages", "0", "-1"]);
        let mut got: Vec<String> = list.lines().map(String::from).collect();
        got.sort();
        (got.len() >= sent.len()).then_some(got)
    });
    let mut want = sent.clone();
    want.sort();
    assert_eq!(got, want);
    node.ctd.ctr_ok(["tasks", "kill", "redis"]);
    assert!(
        wait_exit(&mut child, Duration::from_secs(30)).success(),
        "{}",
        read(&log)
    );
    node.delete("redis");
}

#[test]
fn a_containerd_restart_leaves_the_task_running_and_managed() {
    let mut node = Node::start();
    let image = node.image(PROBE, "probe:v1");
    let id = "survivor";
    let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let listen = format!("SPIN_HTTP_LISTEN_ADDR={addr}");
    node.ctd.ctr_ok([
        "run",
        "-d",
        "--runtime",
        "io.containerd.spin.v2",
        "--net-host",
        "--env",
        &listen,
        "--env",
        "GREETING=hi",
        &image,
        id,
        "/",
    ]);
    wait_for("the app to answer /hello", STARTUP, || {
        get(addr, "/hello").ok().filter(|(s, _)| *s == 200)
    });

    node.ctd.restart();
    // containerd reloads the shim and keeps its task (it asks for the task's processes, and
    // deletes the tasks of a shim that names none).
    assert_eq!(get(addr, "/hello").unwrap().0, 200);
    let leaked = node.ctd.log_lines("leaked shim");
    assert!(leaked.is_empty(), "containerd gave up the task: {leaked}");
    let tasks = node.ctd.ctr_ok(["tasks", "ls"]);
    assert!(
        tasks
            .lines()
            .any(|l| l.starts_with(id) && l.contains("RUNNING")),
        "{tasks}"
    );

    // Still managed: it stops, exits 0 and is deleted like any task.
    node.ctd
        .ctr_ok(["tasks", "kill", "--signal", "SIGTERM", id]);
    wait_for("the task to stop", Duration::from_secs(30), || {
        let tasks = node.ctd.ctr_ok(["tasks", "ls"]);
        tasks
            .lines()
            .any(|l| l.starts_with(id) && l.contains("STOPPED"))
            .then_some(())
    });
    node.ctd.ctr_ok(["tasks", "delete", id]);
    node.ctd.ctr_ok(["containers", "delete", id]);
    let socket = node.ctd.socket.to_string_lossy().into_owned();
    wait_for("the shim to exit", Duration::from_secs(10), || {
        processes_mentioning(&socket).is_empty().then_some(())
    });
    assert!(get(addr, "/hello").is_err(), "the app still answers");
}

/// A spin-sdk 7 app (WASI p3, `wasi:http/handler@0.3.0`) in a container: compiled by the p3
/// engine into a precompiled layer, which the second run loads; requests share an instance,
/// unless the container's env says otherwise.
#[test]
fn a_p3_component_runs_and_its_precompiled_layer_loads() {
    let node = Node::start();
    let image = node.image("examples/rust-p3-http", "p3:v1");
    for id in ["p3-first", "p3-second"] {
        let app = node.serve(&image, id, &[], &[]);
        assert_eq!(app.get("/"), (200, "Hello from Rust p3!".into()), "{id}");
        // Reused: one instance serves them all (the harness's readiness probe counts too).
        let (status, first) = app.get("/count");
        assert_eq!(status, 200, "{id}: {first}");
        let first: u64 = first.parse().unwrap();
        assert!(
            first >= 2,
            "{id}: `/` and this request on one instance, got {first}"
        );
        assert_eq!(app.get("/count"), (200, (first + 1).to_string()), "{id}");
        app.stop(&node);
    }
    // The container's env sets the reuse like `spinkube up`'s flags: here one request each.
    let app = node.serve(
        &image,
        "p3-fresh",
        &["SPINKUBE_MAX_INSTANCE_REUSE_COUNT=1"],
        &[],
    );
    assert_eq!(app.get("/count"), (200, "1".into()));
    assert_eq!(app.get("/count"), (200, "1".into()));
    app.stop(&node);
}

/// A Python spin-sdk 4 app (WASI 0.3.0-rc-2026-03-15) in a container: its precompiled layer
/// still carries the mark that gives its handler a fresh instance per request, as Spin does.
#[test]
fn a_wasi_release_candidate_python_app_runs_fresh_per_request_from_its_precompiled_layer() {
    let node = Node::start();
    let image = node.image("e2e/apps/python-sdk4", "python-sdk4:v1");
    for id in ["py4-first", "py4-second"] {
        let app = node.serve(&image, id, &[], &[]);
        assert_eq!(
            app.get("/"),
            (200, "Hello from Python spin-sdk 4!".into()),
            "{id}"
        );
        assert_eq!(app.get("/count"), (200, "1".into()), "{id}");
        assert_eq!(app.get("/count"), (200, "1".into()), "{id}");
        app.stop(&node);
    }
}
