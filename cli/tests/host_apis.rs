//! Spin host APIs through a real Python guest (e2e/apps/host-apis): key-value,
//! wasi:keyvalue, SQLite, variables, outbound Redis and HTTP, service chaining.

mod common;

use std::path::Path;

use common::redis::RedisServer;
use common::{app_dir, assert_redis_publish_and_denied_address, urlencode, Up};

const TOKEN: &str = "s3cr3t";

fn start(extra: &[&str], rc: Option<&Path>, state: &Path) -> Up {
    let dir = app_dir("e2e/apps/host-apis");
    let mut args = vec![
        "-f",
        dir.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ];
    if let Some(rc) = rc {
        args.extend(["--runtime-config-file", rc.to_str().unwrap()]);
    }
    args.extend(extra);
    Up::start_with_env(&args, &[("SPIN_VARIABLE_SECRET_TOKEN", TOKEN)])
}

/// `other` is granted to the component, so it must be defined.
fn runtime_config(dir: &Path, default_store: &str) -> std::path::PathBuf {
    let path = dir.join("runtime-config.toml");
    std::fs::write(
        &path,
        format!("[key_value_store.other]\ntype = \"spin\"\npath = \"other.db\"\n\n{default_store}"),
    )
    .unwrap();
    path
}

#[test]
fn key_value_lands_in_sqlite_by_default_and_in_redis_when_configured() {
    let redis = RedisServer::start();
    let state = tempfile::tempdir().unwrap();
    let rc = runtime_config(state.path(), "");
    {
        let up = start(&[], Some(&rc), state.path());
        assert_eq!(
            up.send("PUT", "/kv/default/greeting", "hello"),
            (200, "ok".into())
        );
        assert_eq!(up.get("/kv/default/greeting"), (200, "hello".into()));
        assert_eq!(up.get("/kv-exists/default/greeting"), (200, "true".into()));
        assert_eq!(up.get("/kv-exists/default/nope"), (200, "false".into()));
        assert_eq!(up.send("PUT", "/kv/other/o", "1"), (200, "ok".into()));
        assert_eq!(up.get("/kv-keys/default"), (200, "[\"greeting\"]".into()));
        assert_eq!(up.get("/kv-keys/other"), (200, "[\"o\"]".into()));
        assert_eq!(up.send("DELETE", "/kv/other/o", ""), (200, "ok".into()));
        assert_eq!(up.get("/kv/other/o"), (404, "not found".into()));
    }
    assert!(state.path().join("sqlite_key_value.db").is_file());
    assert!(state.path().join("other.db").is_file());
    assert_eq!(redis.cmd(&["DBSIZE"]), "0");
    // Data survives a restart of the app.
    {
        let up = start(&[], Some(&rc), state.path());
        assert_eq!(up.get("/kv/default/greeting"), (200, "hello".into()));
    }

    // Same app, unchanged: `default` now points at Redis.
    let rc = runtime_config(
        state.path(),
        &format!(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"{}\"\n",
            redis.url()
        ),
    );
    let up = start(&[], Some(&rc), state.path());
    assert_eq!(up.get("/kv/default/greeting"), (404, "not found".into()));
    assert_eq!(
        up.send("PUT", "/kv/default/k", "in-redis"),
        (200, "ok".into())
    );
    assert_eq!(redis.cmd(&["GET", "k"]), "in-redis");
    assert_eq!(up.get("/kv-keys/default"), (200, "[\"k\"]".into()));
}

#[test]
fn wasi_keyvalue_store_atomics_batch_and_cas() {
    let state = tempfile::tempdir().unwrap();
    let rc = runtime_config(state.path(), "");
    let up = start(&[], Some(&rc), state.path());
    assert_eq!(up.send("PUT", "/wkv/default/a", "1"), (200, "ok".into()));
    assert_eq!(up.get("/wkv/default/a"), (200, "1".into()));
    assert_eq!(
        up.send("POST", "/wkv-incr/default/counter?by=5", ""),
        (200, "5".into())
    );
    assert_eq!(
        up.send("POST", "/wkv-incr/default/counter?by=-2", ""),
        (200, "3".into())
    );
    let (status, body) = up.send("POST", "/wkv-batch/default", r#"{"x": "1", "y": "2"}"#);
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v, serde_json::json!({"x": "1", "y": "2"}));
    assert_eq!(
        up.send("DELETE", "/wkv-batch/default", r#"["x"]"#),
        (200, "ok".into())
    );
    assert_eq!(up.get("/wkv/default/x"), (404, "not found".into()));
    let (status, body) = up.send("POST", "/wkv-cas/default/a", "2");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["previous"],
        "1"
    );
    assert_eq!(up.get("/wkv/default/a"), (200, "2".into()));
    let (_, keys) = up.get("/wkv-keys/default");
    assert_eq!(keys, r#"["a","counter","y"]"#.replace(',', ", "));
}

#[test]
fn stores_not_granted_or_not_defined_are_refused() {
    let state = tempfile::tempdir().unwrap();
    let rc = runtime_config(state.path(), "");
    let up = start(&[], Some(&rc), state.path());
    let (status, body) = up.get("/kv/secret-store/x");
    assert_eq!(status, 409);
    assert!(body.contains("AccessDenied"), "{body}");
    let (status, body) = up.get("/wkv/secret-store/x");
    assert_eq!(status, 409);
    assert!(body.contains("AccessDenied"), "{body}");
    let log = up.wait_for_log("secret-store");
    assert!(log.contains("key_value_stores"), "{log}");
    // The server keeps serving.
    assert_eq!(up.get("/whoami").0, 200);
}

#[test]
fn sqlite_both_interface_versions() {
    let state = tempfile::tempdir().unwrap();
    let rc = runtime_config(state.path(), "");
    let up = start(
        &[
            "--sqlite",
            "CREATE TABLE pets (id INTEGER PRIMARY KEY, name TEXT, age REAL, pic BLOB)",
        ],
        Some(&rc),
        state.path(),
    );
    let (s, b) = up.send(
        "POST",
        "/sqlite/default?params=%5B%22rex%22%2C%203.5%5D",
        "INSERT INTO pets (name, age) VALUES (?, ?)",
    );
    assert_eq!(s, 200, "{b}");
    let (s, b) = up.send(
        "POST",
        "/sqlite3/default?params=%5B%22tom%22%2C%20null%5D",
        "INSERT INTO pets (name, age) VALUES (?, ?)",
    );
    assert_eq!(s, 200, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["last_insert_rowid"], 2);
    assert_eq!(v["changes"], 1);
    let (s, b) = up.send(
        "POST",
        "/sqlite/default",
        "SELECT id, name, age FROM pets ORDER BY id",
    );
    assert_eq!(s, 200, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["columns"], serde_json::json!(["id", "name", "age"]));
    assert_eq!(
        v["rows"],
        serde_json::json!([[1, "rex", 3.5], [2, "tom", null]])
    );
    let (s, b) = up.send("POST", "/sqlite/default", "SELECT * FROM no_such_table");
    assert_eq!(s, 409);
    assert!(b.contains("no such table"), "{b}");
    let (s, b) = up.send("POST", "/sqlite/elsewhere", "SELECT 1");
    assert_eq!(s, 409);
    assert!(b.contains("AccessDenied"), "{b}");
    drop(up);
    assert!(state.path().join("sqlite_db.db").is_file());
}

#[test]
fn variables_from_defaults_env_cli_and_wasi_config() {
    let state = tempfile::tempdir().unwrap();
    let rc = runtime_config(state.path(), "");
    let up = start(&[], Some(&rc), state.path());
    assert_eq!(up.get("/var/greeting"), (200, "hello".into()));
    assert_eq!(up.get("/var/token"), (200, TOKEN.into()));
    assert_eq!(up.get("/var/combined"), (200, format!("hello-{TOKEN}")));
    assert_eq!(up.get("/config/greeting"), (200, "hello".into()));
    assert_eq!(up.get("/config/nope"), (404, "not found".into()));
    let (s, b) = up.get("/config-all");
    assert_eq!(s, 200);
    let all: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(all["combined"], format!("hello-{TOKEN}"));
    let (s, b) = up.get("/var/nope");
    assert_eq!(s, 409);
    assert!(b.contains("Undefined"), "{b}");
    drop(up);

    let up = start(&["--variable", "greeting=hi"], Some(&rc), state.path());
    assert_eq!(up.get("/var/combined"), (200, format!("hi-{TOKEN}")));
}

#[test]
fn missing_required_variable_stops_startup_with_the_fix() {
    let dir = app_dir("e2e/apps/host-apis");
    let state = tempfile::tempdir().unwrap();
    let rc = runtime_config(state.path(), "");
    let (status, err) = Up::fail(&[
        "-f",
        dir.to_str().unwrap(),
        "--state-dir",
        state.path().to_str().unwrap(),
        "--runtime-config-file",
        rc.to_str().unwrap(),
    ]);
    assert!(!status.success());
    assert!(
        err.contains("secret_token") && err.contains("SPIN_VARIABLE_SECRET_TOKEN"),
        "{err}"
    );
}

#[test]
fn bad_runtime_config_names_key_and_file() {
    let dir = app_dir("e2e/apps/host-apis");
    let state = tempfile::tempdir().unwrap();
    let rc = state.path().join("bad.toml");
    std::fs::write(
        &rc,
        "[key_value_store.other]\ntype = \"spin\"\n[key_value_store.default]\ntype = \"mongodb\"\n",
    )
    .unwrap();
    let (status, err) = Up::fail(&[
        "-f",
        dir.to_str().unwrap(),
        "--runtime-config-file",
        rc.to_str().unwrap(),
    ]);
    assert!(!status.success());
    assert!(
        err.contains("key_value_store.default.type") && err.contains("bad.toml"),
        "{err}"
    );
}

#[test]
fn outbound_redis_commands_and_denied_address() {
    let redis = RedisServer::start();
    let state = tempfile::tempdir().unwrap();
    let rc = runtime_config(state.path(), "");
    let up = start(&[], Some(&rc), state.path());
    let addr = urlencode(&redis.url());
    let op = |op: &str, q: &str, body: &str| {
        up.send("POST", &format!("/redis/{op}?address={addr}&{q}"), body)
    };
    assert_eq!(op("set", "key=a", "1"), (200, "ok".into()));
    assert_eq!(op("get", "key=a", ""), (200, "1".into()));
    assert_eq!(op("incr", "key=n", ""), (200, "1".into()));
    assert_eq!(op("sadd", "key=s", r#"["x","y"]"#), (200, "2".into()));
    assert_eq!(op("smembers", "key=s", ""), (200, r#"["x", "y"]"#.into()));
    assert_eq!(op("srem", "key=s", r#"["x"]"#), (200, "1".into()));
    assert_eq!(op("del", "key=a&key=n", ""), (200, "2".into()));
    let (s, b) = op("execute", "", r#"["SET", "e", "v"]"#);
    assert_eq!((s, b.as_str()), (200, r#"[{"status": "OK"}]"#));
    assert_eq!(redis.cmd(&["GET", "e"]), "v");
    assert_redis_publish_and_denied_address(&up, &redis);
}

#[test]
fn redis_outage_fails_cleanly_and_recovers_without_restart() {
    let mut redis = RedisServer::start();
    let state = tempfile::tempdir().unwrap();
    let rc = runtime_config(
        state.path(),
        &format!(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"{}\"\n",
            redis.url()
        ),
    );
    let up = start(&[], Some(&rc), state.path());
    assert_eq!(up.send("PUT", "/kv/default/a", "1"), (200, "ok".into()));
    redis.stop();
    let (s, b) = up.send("PUT", "/kv/default/a", "2");
    assert_eq!(s, 409, "{b}");
    assert!(b.contains("Error_Other"), "{b}");
    assert_eq!(up.get("/whoami").0, 200);
    redis.restart();
    // The pooled connection is dead but reconnects on first use: no request is lost.
    assert_eq!(up.send("PUT", "/kv/default/a", "3"), (200, "ok".into()));
    assert_eq!(redis.cmd(&["GET", "a"]), "3");
}

#[test]
fn outbound_http_allowed_denied_self_and_chaining() {
    let state = tempfile::tempdir().unwrap();
    let rc = runtime_config(state.path(), "");
    let up = start(&[], Some(&rc), state.path());
    // Allowed by http://127.0.0.1:* — the app calls itself over the network.
    let own = urlencode(&up.url("/whoami"));
    let (s, b) = up.get(&format!("/http?url={own}"));
    assert_eq!((s, b.as_str()), (200, "status=200\nhost-apis:/whoami"));
    // Not allowed: the documented error and a log line with the entry to add.
    let (s, b) = up.get("/http?url=http%3A%2F%2Flocalhost%3A9%2Fx");
    assert_eq!(s, 409);
    assert!(b.contains("HttpRequestDenied"), "{b}");
    let log = up.wait_for_log("localhost:9");
    assert!(
        log.contains("\"http://localhost:9\"") && log.contains("allowed_outbound_hosts"),
        "{log}"
    );
    // Local service chaining to a private component, in-process.
    let (s, b) = up.get("/chain?url=http%3A%2F%2Fpeer.spin.internal%2Fhello");
    assert_eq!((s, b.as_str()), (200, "status=200\npeer:/hello"));
    // Self request through the self.alt host.
    let (s, b) = up.get("/chain?url=http%3A%2F%2Fself.alt%2Fwhoami");
    assert_eq!((s, b.as_str()), (200, "status=200\nhost-apis:/whoami"));
}

#[test]
fn unsupported_interfaces_fail_at_call_time_and_ungranted_databases_are_denied() {
    let state = tempfile::tempdir().unwrap();
    let rc = runtime_config(state.path(), "");
    let up = start(&[], Some(&rc), state.path());
    // Interfaces with a text error case return it; the guest handles it.
    let (status, body) = up.get("/llm");
    assert_eq!(status, 409, "/llm: {body}");
    assert!(
        body.contains("fermyon:spin/llm@2.0.0#infer")
            && body.contains("not supported by this runtime"),
        "/llm: {body}"
    );
    // The outbound database and MQTT interfaces are served: this app grants none of these
    // addresses, so each open gets Spin's denial before anything is dialled.
    let cases = [
        (
            "/open/mysql?address=mysql%3A%2F%2F127.0.0.1%2Fdb",
            "address mysql://127.0.0.1/db is not permitted",
        ),
        (
            "/open/postgres4?address=postgres%3A%2F%2F127.0.0.1%2Fdb",
            "address postgres://127.0.0.1",
        ),
        (
            "/open/mqtt?address=mqtt%3A%2F%2F127.0.0.1",
            "address mqtt://127.0.0.1 is not permitted",
        ),
    ];
    for (path, denial) in cases {
        let (status, body) = up.get(path);
        assert_eq!(status, 409, "{path}: {body}");
        assert!(
            body.contains("ConnectionFailed")
                && body.contains(denial)
                && body.contains("is not permitted"),
            "{path}: {body}"
        );
    }
    assert_eq!(up.get("/whoami").0, 200);
}
