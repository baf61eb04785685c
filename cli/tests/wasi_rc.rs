//! Guests built against the 2023 release candidates of WASI 0.2 (Spin 2.0 and
//! 2.1 era SDKs), served by `spinkube up` (e2e/apps/wasi-rc).

mod common;

use common::{app_dir, client, Up};

/// Checks one rc component end to end: status, the header and body it set,
/// the request data it read, and what it got from the other rc interfaces.
fn check(up: &Up, version: &str, prefix: &str) {
    let c = client();
    let r = c
        .get(up.url(&format!("{prefix}/hello?x=1")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-wasi-http"], version);
    assert_eq!(r.headers()["content-type"], "text/plain");
    let body = r.text().unwrap();
    assert!(
        body.starts_with(&format!("hello from wasi:http {version}\n")),
        "{body}"
    );
    for line in [
        "method: GET".to_string(),
        format!("path: {prefix}/hello?x=1"),
        "body: ".to_string(),
        format!("greeting: hello {}", &version[8..]),
        "slept 1ms: true".to_string(),
        "wall clock: true".to_string(),
        "random: 16 bytes".to_string(),
    ] {
        assert!(
            body.lines().any(|l| l == line),
            "missing `{line}` in:\n{body}"
        );
    }

    // A body larger than one stream read/write both ways.
    let payload = "x".repeat(100_000);
    let r = c
        .post(up.url(&format!("{prefix}/echo")))
        .body(payload.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-wasi-http"], version);
    let body = r.text().unwrap();
    assert!(body.lines().any(|l| l == "method: POST"), "{body}");
    assert!(
        body.lines().any(|l| l == format!("body: {payload}")),
        "the request body did not round-trip ({} bytes back)",
        body.len()
    );
}

#[test]
fn rc_2023_10_18_and_2023_11_10_handlers_answer() {
    let dir = app_dir("e2e/apps/wasi-rc");
    let wasm = std::fs::read(dir.join("rc-2023-10-18.wasm")).unwrap();
    assert_eq!(
        &wasm[4..8],
        &[0x0d, 0, 1, 0],
        "the test guests must be components"
    );
    let up = Up::start(&["-f", dir.to_str().unwrap()]);
    check(&up, "rc-2023-10-18", "/10-18");
    check(&up, "rc-2023-11-10", "/11-10");
}
