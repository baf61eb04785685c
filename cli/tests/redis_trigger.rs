//! The Redis trigger end to end: real `redis-server`, real guests (Python
//! e2e/apps/redis-python, C e2e/apps/redis-c) that record each message they
//! handle with outbound Redis (RPUSH <prefix>:messages <payload>).

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::redis::RedisServer;
use common::{app_dir, client, repo_root, signal, wait_until};

/// Long enough for a first, uncached compile of the 36 MB Python component.
const STARTUP_LIMIT: Duration = Duration::from_secs(300);

/// `spinkube up` running a Redis-triggered app.
struct Up {
    child: Child,
    stdout: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

fn spinkube(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spinkube"));
    cmd.arg("up").args(args).env("RUST_LOG", "info");
    cmd.env_remove("SPIN_HTTP_LISTEN_ADDR");
    cmd.envs(env.iter().copied());
    cmd
}

impl Up {
    /// Starts the app and waits until stdout has printed a line starting with each of `expect`.
    fn start(args: &[&str], env: &[(&str, &str)], expect: &[&str]) -> Up {
        let mut child = spinkube(args, env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn spinkube");
        let (stderr, rx) = common::capture_output(&mut child);
        let mut up = Up {
            child,
            stdout: Vec::new(),
            stderr,
        };
        while !expect
            .iter()
            .all(|e| up.stdout.iter().any(|l| l.starts_with(e)))
        {
            match rx.recv_timeout(STARTUP_LIMIT) {
                Ok(line) => up.stdout.push(line),
                Err(_) => panic!(
                    "spinkube up did not print {expect:?}; stdout {:?}; stderr:\n{}",
                    up.stdout,
                    up.stderr()
                ),
            }
        }
        // The channel list follows its header at once.
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(300)) {
            up.stdout.push(line);
        }
        up
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn wait_for_log(&self, needle: &str, times: usize) -> String {
        wait_until(&format!("{times}× {needle:?} in the log"), || {
            let log = self.stderr();
            (log.matches(needle).count() >= times).then_some(log)
        })
    }

    fn terminate(mut self) -> ExitStatus {
        signal(self.child.id(), "TERM");
        self.child.wait().unwrap()
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `spinkube up` expecting a startup failure; returns stderr.
fn fail(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut child = spinkube(args, env)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn spinkube");
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "expected a startup failure; stderr:\n{err}"
    );
    err
}

/// Waits until `<prefix>:messages` holds `n` entries and returns them.
fn recorded(redis: &RedisServer, prefix: &str, n: usize) -> Vec<String> {
    let key = format!("{prefix}:messages");
    wait_until(&format!("{n} entries in {key}"), || {
        (redis.cmd(&["LLEN", &key]) == n.to_string()).then_some(())
    });
    let all = redis.cmd(&["LRANGE", &key, "0", "-1"]);
    all.lines().map(str::to_string).collect()
}

fn publish(redis: &RedisServer, channel: &str, messages: &[String]) {
    for m in messages {
        redis.cmd(&["PUBLISH", channel, m]);
    }
}

fn numbered(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn c_wasm() -> PathBuf {
    app_dir("e2e/apps/redis-c").join("app.wasm")
}

/// A spin.toml in `dir` with the given body (sources may be absolute paths).
fn manifest(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("spin.toml");
    std::fs::write(
        &path,
        format!("spin_manifest_version = 2\n\n[application]\nname = \"redis-test\"\n\n{body}"),
    )
    .unwrap();
    path
}

/// A C component that records to `<prefix>:messages` on `redis`.
fn c_component(id: &str, prefix: &str, redis: &RedisServer) -> String {
    format!(
        "[component.{id}]\nsource = {:?}\nallowed_outbound_hosts = [\"redis://127.0.0.1:*\"]\n\
         environment = {{ REDIS_ADDRESS = \"{}\", KEY_PREFIX = \"{prefix}\" }}\n\n",
        c_wasm().display().to_string(),
        redis.url()
    )
}

#[test]
fn python_handler_runs_for_every_message_and_survives_errors_and_traps() {
    python_handler_handles_every_message("redis-python", "py");
}

/// spin-sdk 5's async `RedisHandler` (a WASI p3 component, spin:redis/inbound-redis@3.0.0).
#[test]
fn python_p3_handler_runs_for_every_message_and_survives_errors_and_traps() {
    python_handler_handles_every_message("redis-python-p3", "py3");
}

/// The app in e2e/apps/`app` records each message under `prefix`; errors and traps between
/// messages lose none of the others.
fn python_handler_handles_every_message(app: &str, prefix: &str) {
    let redis = RedisServer::start();
    let dir = app_dir(&format!("e2e/apps/{app}"));
    let url = redis.url();
    let up = Up::start(
        &["-f", dir.to_str().unwrap()],
        &[("SPIN_VARIABLE_REDIS_ADDRESS", &url)],
        &["Active Channels on"],
    );
    let addr = format!("127.0.0.1:{}", redis.port());
    assert_eq!(
        up.stdout,
        vec![
            format!("Active Channels on {addr}:"),
            format!("\t{addr}/messages: [{app}]"),
        ],
        "a Redis-only app opens no HTTP port"
    );
    redis.wait_subscribed("messages", 1);
    let mut messages = numbered("py-", 10);
    publish(&redis, "messages", &messages[..5]);
    publish(&redis, "messages", &["error".into(), "trap".into()]);
    publish(&redis, "messages", &messages[5..]);
    assert_eq!(
        sorted(recorded(&redis, prefix, 10)),
        sorted(messages.clone())
    );
    assert_eq!(redis.cmd(&["GET", &format!("{prefix}:count")]), "10");
    let log = up.wait_for_log(
        &format!("component `{app}` failed to handle a message on Redis channel `messages`"),
        2,
    );
    assert!(log.contains("returned its `error` result"), "{log}");
    // Still alive after the failures.
    messages = numbered("late-", 2);
    publish(&redis, "messages", &messages);
    assert_eq!(recorded(&redis, prefix, 12)[10..].len(), 2);
    assert!(up.terminate().success());
}

#[test]
fn c_handler_with_concurrency_one_handles_messages_in_order() {
    let redis = RedisServer::start();
    let dir = app_dir("e2e/apps/redis-c");
    let url = redis.url();
    let env_arg = format!("REDIS_ADDRESS={url}");
    let up = Up::start(
        &[
            "-f",
            dir.to_str().unwrap(),
            "-e",
            &env_arg,
            "--redis-concurrency",
            "1",
            "--variable",
            "channel=ordered",
        ],
        &[("SPIN_VARIABLE_REDIS_ADDRESS", &url)],
        &["Active Channels on"],
    );
    redis.wait_subscribed("ordered", 1);
    let messages = numbered("m", 40);
    publish(&redis, "ordered", &messages);
    assert_eq!(recorded(&redis, "c", 40), messages);
    assert!(up.terminate().success());
}

#[test]
fn every_component_on_a_channel_receives_each_message_and_unmapped_channels_are_ignored() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "[application.trigger.redis]\naddress = \"{}\"\n\n\
         [[trigger.redis]]\nchannel = \"news\"\ncomponent = \"one\"\n\n\
         [[trigger.redis]]\nchannel = \"news\"\ncomponent = \"two\"\n\n\
         [[trigger.redis]]\nchannel = \"other\"\ncomponent = \"three\"\n\n{}{}{}",
        redis.url(),
        c_component("one", "one", &redis),
        c_component("two", "two", &redis),
        c_component("three", "three", &redis),
    );
    let spin_toml = manifest(dir.path(), &body);
    let up = Up::start(
        &["-f", spin_toml.to_str().unwrap()],
        &[],
        &["Active Channels on"],
    );
    let addr = format!("127.0.0.1:{}", redis.port());
    assert!(
        up.stdout.contains(&format!("\t{addr}/news: [one,two]")),
        "{:?}",
        up.stdout
    );
    redis.wait_subscribed("news", 1);
    redis.wait_subscribed("other", 1);
    // One pub-sub connection for both channels of this server.
    let clients = redis.cmd(&["CLIENT", "LIST"]);
    let subscribers: Vec<_> = clients.lines().filter(|l| !l.contains(" sub=0 ")).collect();
    assert_eq!(subscribers.len(), 1, "{clients}");
    assert!(subscribers[0].contains(" sub=2 "), "{clients}");

    publish(&redis, "ignored", &numbered("x", 3));
    publish(&redis, "news", &numbered("n", 5));
    publish(&redis, "other", &numbered("o", 2));
    assert_eq!(sorted(recorded(&redis, "one", 5)), numbered("n", 5));
    assert_eq!(sorted(recorded(&redis, "two", 5)), numbered("n", 5));
    assert_eq!(sorted(recorded(&redis, "three", 2)), numbered("o", 2));
    assert_eq!(redis.cmd(&["PUBSUB", "NUMSUB", "ignored"]), "ignored\n0");
    assert!(up.terminate().success());
    // Nothing arrived late either (all handlers finished before exit).
    assert_eq!(redis.cmd(&["LLEN", "one:messages"]), "5");
}

#[test]
fn resubscribes_after_redis_restarts() {
    // Handlers record on a second server that stays up, so only the trigger's
    // connection sees the restart.
    let mut redis = RedisServer::start();
    let record = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "[application.trigger.redis]\naddress = \"{}\"\n\n\
         [[trigger.redis]]\nchannel = \"messages\"\ncomponent = \"worker\"\n\n{}",
        redis.url(),
        c_component("worker", "c", &record),
    );
    let spin_toml = manifest(dir.path(), &body);
    let up = Up::start(
        &["-f", spin_toml.to_str().unwrap()],
        &[],
        &["Active Channels on"],
    );
    redis.wait_subscribed("messages", 1);
    publish(&redis, "messages", &numbered("before", 3));
    assert_eq!(sorted(recorded(&record, "c", 3)), numbered("before", 3));

    redis.stop();
    up.wait_for_log("lost the connection to", 1);
    up.wait_for_log("cannot subscribe on", 1);
    redis.restart(); // same port
    redis.wait_subscribed("messages", 1);
    publish(&redis, "messages", &numbered("after", 4));
    let all = recorded(&record, "c", 7);
    assert_eq!(sorted(all[3..].to_vec()), numbered("after", 4));
    assert!(up.terminate().success());
}

#[test]
fn http_and_redis_triggers_run_together() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let http_wasm = app_dir("examples/c-http").join("app.wasm");
    let body = format!(
        "[variables]\nredis_url = {{ required = true }}\n\n\
         [application.trigger.redis]\naddress = \"{{{{ redis_url }}}}\"\n\n\
         [[trigger.http]]\nroute = \"/c/...\"\ncomponent = \"web\"\n\n\
         [[trigger.redis]]\nchannel = \"jobs\"\ncomponent = \"worker\"\n\n\
         [component.web]\nsource = {:?}\n\n{}",
        http_wasm.display().to_string(),
        c_component("worker", "w", &redis),
    );
    let spin_toml = manifest(dir.path(), &body);
    let url = redis.url();
    let up = Up::start(
        &["-f", spin_toml.to_str().unwrap(), "--listen", "127.0.0.1:0"],
        &[("SPIN_VARIABLE_REDIS_URL", &url)],
        &["Serving http://", "Active Channels on"],
    );
    let base = up
        .stdout
        .iter()
        .find_map(|l| l.strip_prefix("Serving "))
        .unwrap()
        .to_string();
    let resp = client().get(format!("{base}/c/hello")).send().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().unwrap(), "Hello from C!");
    redis.wait_subscribed("jobs", 1);
    publish(&redis, "jobs", &numbered("job", 3));
    assert_eq!(sorted(recorded(&redis, "w", 3)), numbered("job", 3));
    assert!(up.terminate().success());
}

#[test]
fn bad_redis_config_fails_startup_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = c_wasm().display().to_string();
    let component = format!("[component.worker]\nsource = {wasm:?}\n");
    let cases = [
        (
            format!("[[trigger.redis]]\nchannel = \"c\"\ncomponent = \"worker\"\n\n{component}"),
            "has no `address`",
        ),
        (
            format!("[application.trigger.redis]\naddress = \"redis://127.0.0.1:1\"\n\n[[trigger.redis]]\nchannel = \"c\"\ncomponent = \"nobody\"\n\n{component}"),
            "refers to component `nobody`",
        ),
        (
            format!("[application.trigger.redis]\naddress = \"127.0.0.1:6379\"\n\n[[trigger.redis]]\nchannel = \"c\"\ncomponent = \"worker\"\n\n{component}"),
            "`address`",
        ),
        (
            format!("[[trigger.redis]]\nchannel = \"c\"\ncomponent = \"worker\"\naddress = \"redis://:{{{{ nope }}}}@h\"\n\n{component}"),
            "`address`",
        ),
        (
            format!("[application.trigger.redis]\naddress = \"redis://127.0.0.1:1\"\n\n[[trigger.redis]]\ncomponent = \"worker\"\n\n{component}"),
            "`channel` is missing",
        ),
    ];
    for (body, expected) in cases {
        let spin_toml = manifest(dir.path(), &body);
        let err = fail(&["-f", spin_toml.to_str().unwrap()], &[]);
        assert!(err.contains(expected), "{body}\n--- stderr:\n{err}");
        assert!(
            err.contains("redis-worker") || err.contains("redis-nobody"),
            "the error names the trigger: {err}"
        );
    }
    // A component that is not a Redis handler.
    let http_wasm = repo_root().join("examples/c-http/app.wasm");
    let spin_toml = manifest(
        dir.path(),
        &format!(
            "[application.trigger.redis]\naddress = \"redis://127.0.0.1:1\"\n\n[[trigger.redis]]\nchannel = \"c\"\ncomponent = \"web\"\n\n[component.web]\nsource = {:?}\n",
            http_wasm.display().to_string()
        ),
    );
    let err = fail(&["-f", spin_toml.to_str().unwrap()], &[]);
    assert!(err.contains("fermyon:spin/inbound-redis"), "{err}");
}
