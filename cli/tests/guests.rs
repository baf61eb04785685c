//! Real guests from each SDK, served by `spinkube up`.

mod common;

use common::{app_dir, client, Up};

#[test]
fn python_wasi_http_app_answers_with_spin_headers() {
    let dir = app_dir("examples/python-http");
    let up = Up::start(&["-f", dir.to_str().unwrap()]);
    let c = client();

    let r = c.get(up.url("/")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain");
    assert_eq!(r.text().unwrap(), "Hello from Python!");

    let r = c
        .post(up.url("/echo?x=1"))
        .header("spin-full-url", "forged")
        .body("ping")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().unwrap();
    assert_eq!(v["method"], "POST");
    assert_eq!(v["body"], "ping");
    let h = &v["headers"];
    let port = up.base.rsplit(':').next().unwrap();
    assert_eq!(
        h["spin-full-url"],
        format!("http://127.0.0.1:{port}/echo?x=1")
    );
    assert_eq!(h["spin-path-info"], "/echo");
    assert_eq!(h["spin-matched-route"], "/...");
    assert_eq!(h["spin-raw-component-route"], "/...");
    assert_eq!(h["spin-component-route"], "");
    assert!(h["spin-client-addr"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
}

#[test]
fn js_app_answers() {
    let dir = app_dir("examples/js-http");
    let up = Up::start(&["-f", dir.to_str().unwrap()]);
    let c = client();
    // JS guests need a fresh instance per request: ask twice.
    for _ in 0..2 {
        let r = c.get(up.url("/anything")).send().unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().unwrap(), "Hello from JS!");
    }
}

#[test]
fn rust_core_module_is_componentized_with_the_adapter() {
    let dir = app_dir("examples/rust-http");
    let wasm = std::fs::read(dir.join("app.wasm")).unwrap();
    assert_eq!(
        &wasm[4..8],
        &[1, 0, 0, 0],
        "the Rust example must be a core module"
    );
    let up = Up::start(&["-f", dir.to_str().unwrap()]);
    let r = client().get(up.url("/")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-example"], "rust");
    assert_eq!(r.text().unwrap(), "Hello from Rust!");
}

/// Isolation: a p2 guest gets a fresh instance per request, so a global counter it bumps reads
/// 1 on every request, also when requests run at once and instance slots are reused (their
/// memory is reset, not unmapped). Both builds of the Rust hello: core module and component.
#[test]
fn a_p2_guests_global_state_never_outlives_its_request_under_concurrency() {
    for app in ["examples/rust-http", "examples/rust-wasip2-http"] {
        let dir = app_dir(app);
        let up = Up::start(&["-f", dir.to_str().unwrap()]);
        let counts: Vec<String> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        let c = client();
                        (0..25)
                            .map(|_| {
                                let r = c.get(up.url("/count")).send().unwrap();
                                assert_eq!(r.status(), 200);
                                r.text().unwrap()
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect()
        });
        assert_eq!(counts.len(), 200);
        let carried: Vec<&String> = counts.iter().filter(|c| *c != "1").collect();
        assert!(
            carried.is_empty(),
            "{app}: an instance saw another request's state: {carried:?}"
        );
    }
}

#[test]
fn c_legacy_inbound_http_component() {
    let dir = app_dir("examples/c-http");
    let up = Up::start(&["-f", dir.to_str().unwrap()]);
    let c = client();
    let r = c.get(up.url("/c/hello")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain");
    assert_eq!(r.text().unwrap(), "Hello from C!");
    let r = c.get(up.url("/c/missing")).send().unwrap();
    assert_eq!(r.status(), 404);
    // Outside the component's route: the router answers.
    assert_eq!(c.get(up.url("/elsewhere")).send().unwrap().status(), 404);
}

#[test]
fn wagi_module_gets_cgi_environment_and_stdin() {
    let dir = app_dir("examples/c-wagi");
    let up = Up::start(&["-f", dir.to_str().unwrap()]);
    let r = client()
        .post(up.url("/wagi/some/path?greet=world"))
        .body("request body")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-wagi"], "yes");
    assert_eq!(r.headers()["content-type"], "text/plain");
    let body = r.text().unwrap();
    assert!(body.contains("Hello from Wagi!"), "{body}");
    assert!(body.contains("PATH_INFO=/some/path"), "{body}");
    assert!(body.contains("QUERY_STRING=greet=world"), "{body}");
    assert!(body.contains("X_MATCHED_ROUTE=/wagi/..."), "{body}");
    assert!(body.contains("REQUEST_METHOD=POST"), "{body}");
    assert!(body.contains("ARGS=/wagi/some/path greet world"), "{body}");
    assert!(body.contains("BODY=request body"), "{body}");
}

/// spin-sdk 7 (`#[http_service]`, a WASI p3 component exporting `wasi:http/handler@0.3.0`):
/// served with Spin 4's instance reuse, 128 requests per instance by default.
#[test]
fn rust_p3_component_is_served_with_instance_reuse() {
    let dir = app_dir("examples/rust-p3-http");
    let up = Up::start(&["-f", dir.to_str().unwrap()]);
    let get = |path: &str| up.get(path);
    // One instance serves 128 requests, then a fresh one takes over.
    let counts: Vec<u64> = (0..130)
        .map(|_| {
            let (status, body) = get("/count");
            assert_eq!(status, 200, "{body}");
            body.parse().unwrap()
        })
        .collect();
    assert_eq!(counts[..128], (1..=128).collect::<Vec<_>>()[..]);
    assert_eq!(counts[128..], [1, 2]);
    assert_eq!(get("/").1, "Hello from Rust p3!");
    // The guest sees the full URL, scheme and authority included.
    let port = up.base.rsplit(':').next().unwrap();
    assert_eq!(
        get("/url?x=1").1,
        format!("http://127.0.0.1:{port}/url?x=1")
    );
    // A trap fails that request and drops the instance: the next one starts afresh.
    assert_eq!(get("/trap").0, 500);
    assert_eq!(get("/count"), (200, "1".to_string()));
}

/// `--max-instance-reuse-count 1`: every request of a p3 component gets a fresh instance.
#[test]
fn reuse_count_one_gives_every_p3_request_a_fresh_instance() {
    let dir = app_dir("examples/rust-p3-http");
    let up = Up::start(&[
        "-f",
        dir.to_str().unwrap(),
        "--max-instance-reuse-count",
        "1",
    ]);
    let c = client();
    for _ in 0..3 {
        let r = c.get(up.url("/count")).send().unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().unwrap(), "1");
    }
}

/// Python spin-sdk 5 (componentize-py 0.25, world spin:up/http-trigger@4.1.0): a p3 component
/// that also imports WASI's 0.3.0 release candidates, which get stubs; the SDK calls 0.3.0.
#[test]
fn python_p3_component_serves_with_reuse_key_value_and_variables() {
    let (up, state) = up_with_own_state("examples/python-p3-http");
    let c = client();
    let get = |path: &str| up.get(path);
    assert_eq!(get("/"), (200, "Hello from Python p3!".to_string()));

    let r = c.post(up.url("/echo?x=1")).body("ping").send().unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().unwrap();
    assert_eq!(v["method"], "POST");
    assert_eq!(v["uri"], "/echo?x=1");
    assert_eq!(v["body"], "ping");
    assert_eq!(v["headers"]["spin-path-info"], "/echo");
    assert_eq!(v["headers"]["spin-matched-route"], "/...");

    // The instance that served the two requests above serves the next ones too.
    let counts: Vec<String> = (0..3).map(|_| get("/count").1).collect();
    assert_eq!(counts, ["3", "4", "5"]);

    let kv: Vec<String> = (0..3).map(|_| get("/kv").1).collect();
    assert_eq!(kv, ["1", "2", "3"]);
    assert!(state.path().join("sqlite_key_value.db").is_file());
    assert_eq!(get("/greeting"), (200, "Hello from a variable".to_string()));
}

/// Python spin-sdk 4 targets WASI 0.3.0-rc-2026-03-15, which the runtime serves with its 0.3.0
/// hosts; as in Spin, its handler gets a fresh instance per request.
#[test]
fn python_sdk4_release_candidate_component_runs_fresh_per_request() {
    let (up, _state) = up_with_own_state("e2e/apps/python-sdk4");
    let get = |path: &str| up.get(path);
    assert_eq!(get("/"), (200, "Hello from Python spin-sdk 4!".to_string()));
    let counts: Vec<String> = (0..3).map(|_| get("/count").1).collect();
    assert_eq!(counts, ["1", "1", "1"]);
    let kv: Vec<String> = (0..3).map(|_| get("/kv").1).collect();
    assert_eq!(kv, ["1", "2", "3"]);
}

/// `spinkube up` of the app at `rel` with a fresh state dir, so key-value data starts empty.
fn up_with_own_state(rel: &str) -> (Up, tempfile::TempDir) {
    let dir = app_dir(rel);
    let state = tempfile::tempdir().unwrap();
    let up = Up::start(&[
        "-f",
        dir.to_str().unwrap(),
        "--state-dir",
        state.path().to_str().unwrap(),
    ]);
    (up, state)
}
