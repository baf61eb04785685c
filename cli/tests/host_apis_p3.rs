//! The async Spin host APIs (`spin:*@3`) and the p3 Redis trigger through real spin-sdk 7
//! guests (e2e/apps/host-apis-p3): key-value, variables, SQLite 3.1, outbound Redis and HTTP,
//! service chaining, `#[redis_subscriber]`.

mod common;

use std::path::Path;

use common::redis::RedisServer;
use common::{app_dir, assert_redis_publish_and_denied_address, urlencode, wait_until, Up};

fn start(redis: &RedisServer, state: &Path, env: &[(&str, &str)]) -> Up {
    let dir = app_dir("e2e/apps/host-apis-p3");
    let args = [
        "-f",
        dir.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ];
    let address = redis.url();
    let mut all_env = vec![("SPIN_VARIABLE_REDIS_ADDRESS", address.as_str())];
    all_env.extend_from_slice(env);
    Up::start_with_env(&args, &all_env)
}

#[test]
fn key_value_v3_reads_writes_streams_keys_and_refuses_ungranted_stores() {
    let redis = RedisServer::start();
    let state = tempfile::tempdir().unwrap();
    {
        let up = start(&redis, state.path(), &[]);
        assert_eq!(up.send("PUT", "/kv/default/b", "2"), (200, "ok".into()));
        assert_eq!(up.send("PUT", "/kv/default/a", "1"), (200, "ok".into()));
        assert_eq!(up.get("/kv/default/a"), (200, "1".into()));
        assert_eq!(up.get("/kv-keys/default"), (200, "a,b".into()));
        assert_eq!(up.send("DELETE", "/kv/default/b", ""), (200, "ok".into()));
        assert_eq!(up.get("/kv/default/b"), (404, "not found".into()));
        let (status, body) = up.get("/kv/secret/x");
        assert_eq!(status, 409);
        assert!(body.contains("AccessDenied"), "{body}");
        let log = up.wait_for_log("`secret` denied");
        assert!(log.contains("key_value_stores"), "{log}");
    }
    // The same default store as p2 apps use: a SQLite file in the state dir, kept across runs.
    assert!(state.path().join("sqlite_key_value.db").is_file());
    let up = start(&redis, state.path(), &[]);
    assert_eq!(up.get("/kv/default/a"), (200, "1".into()));
}

#[test]
fn variables_v3_and_sqlite_v3_1_streamed_rows() {
    let redis = RedisServer::start();
    let state = tempfile::tempdir().unwrap();
    let up = start(&redis, state.path(), &[("SPIN_VARIABLE_GREETING", "hi")]);
    assert_eq!(up.get("/var/greeting"), (200, "hi".into()));
    let (status, body) = up.get("/var/nope");
    assert_eq!(status, 409);
    assert!(
        body.contains("Undefined") && body.contains("[component.host-apis-p3.variables]"),
        "{body}"
    );

    let sql = |statement: &str| up.send("POST", "/sql/default", statement);
    let (status, body) = sql("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        sql("INSERT INTO t (name) VALUES ('x'), ('y')"),
        (200, "columns=\nrowid=2 changes=2".into())
    );
    assert_eq!(
        sql("SELECT id, name FROM t ORDER BY id"),
        (
            200,
            "columns=id,name\nrow=1,x\nrow=2,y\nrowid=2 changes=2".into()
        )
    );
    let (status, body) = sql("SELECT * FROM missing");
    assert_eq!(status, 409);
    assert!(
        body.contains("Io") && body.contains("no such table"),
        "{body}"
    );
    let (status, body) = up.send("POST", "/sql/other", "SELECT 1");
    assert_eq!(status, 409);
    assert!(body.contains("AccessDenied"), "{body}");
}

#[test]
fn outbound_redis_v3_and_http_from_a_p3_guest() {
    let redis = RedisServer::start();
    let state = tempfile::tempdir().unwrap();
    let up = start(&redis, state.path(), &[]);
    let addr = urlencode(&redis.url());
    let op = |op: &str, q: &str, body: &str| {
        up.send("POST", &format!("/redis/{op}?address={addr}&{q}"), body)
    };
    assert_eq!(op("set", "key=a", "1"), (200, "ok".into()));
    assert_eq!(op("get", "key=a", ""), (200, "1".into()));
    assert_eq!(op("incr", "key=n", ""), (200, "1".into()));
    assert_eq!(op("incr", "key=n", ""), (200, "2".into()));
    assert_eq!(op("execute", "", "RPUSH l x y"), (200, "int:2".into()));
    assert_eq!(
        op("execute", "", "LRANGE l 0 -1"),
        (200, "bin:x,bin:y".into())
    );
    assert_eq!(op("del", "key=a", ""), (200, "1".into()));
    assert_eq!(redis.cmd(&["GET", "n"]), "2");
    assert_redis_publish_and_denied_address(&up, &redis);

    // wasi:http@0.3 client: to itself over the network, to a private component in-process,
    // and refused where allowed_outbound_hosts says no.
    let own = urlencode(&up.url("/whoami"));
    assert_eq!(
        up.get(&format!("/http?url={own}")),
        (200, "status=200\nhost-apis-p3:/whoami".into())
    );
    let peer = urlencode("http://peer.spin.internal/whoami");
    assert_eq!(
        up.get(&format!("/http?url={peer}")),
        (200, "status=200\npeer:/whoami".into())
    );
    let (s, b) = up.get(&format!("/http?url={}", urlencode("http://localhost:9/x")));
    assert_eq!(s, 409, "{b}");
    assert!(b.contains("HttpRequestDenied"), "{b}");
    let log = up.wait_for_log("localhost:9");
    assert!(log.contains("allowed_outbound_hosts"), "{log}");
}

#[test]
fn p3_redis_trigger_handles_every_message_and_survives_errors_and_traps() {
    let redis = RedisServer::start();
    let state = tempfile::tempdir().unwrap();
    let up = start(&redis, state.path(), &[]);
    redis.wait_subscribed("p3-messages", 1);
    let messages: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    for m in &messages[..10] {
        redis.cmd(&["PUBLISH", "p3-messages", m]);
    }
    redis.cmd(&["PUBLISH", "p3-messages", "error"]);
    redis.cmd(&["PUBLISH", "p3-messages", "trap"]);
    for m in &messages[10..] {
        redis.cmd(&["PUBLISH", "p3-messages", m]);
    }
    wait_until("20 messages in `received`", || {
        (redis.cmd(&["LLEN", "received"]) == "20").then_some(())
    });
    let mut received: Vec<String> = redis
        .cmd(&["LRANGE", "received", "0", "-1"])
        .lines()
        .map(str::to_string)
        .collect();
    received.sort();
    let mut expected = messages.clone();
    expected.sort();
    assert_eq!(received, expected);
    let log = up.wait_for_log("asks the handler to trap");
    assert!(
        log.contains("component `p3-redis` failed to handle a message")
            && log.contains("error` result"),
        "{log}"
    );
}

/// wasi:sockets name lookup from a p3 guest goes through `allowed_outbound_hosts`, as from a p2
/// one: an IP literal answers as itself, a name no entry names is refused before any lookup
/// (`localhost` would resolve on every machine, so only the gate can refuse it).
#[test]
fn p3_name_lookup_is_gated_by_allowed_outbound_hosts() {
    let redis = RedisServer::start();
    let state = tempfile::tempdir().unwrap();
    let up = start(&redis, state.path(), &[]);
    assert_eq!(up.get("/lookup?name=127.0.0.1"), (200, "127.0.0.1".into()));
    let (status, body) = up.get("/lookup?name=localhost");
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("AccessDenied"), "{body}");
}
