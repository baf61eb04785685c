//! Router behaviour through the real server: reserved routes, static
//! responses, private routes, base paths, TLS and the printed route list.

mod common;

use common::{app_dir, client, Up};

fn app_with(manifest: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let wasm = app_dir("examples/c-http").join("app.wasm");
    std::fs::copy(wasm, dir.path().join("app.wasm")).unwrap();
    std::fs::write(dir.path().join("spin.toml"), manifest).unwrap();
    dir
}

const MANIFEST: &str = r#"spin_manifest_version = 2
[application]
name = "routes"
[[trigger.http]]
route = "/c/..."
component = "c"
[[trigger.http]]
route = "/exact"
component = "c"
[[trigger.http]]
route = "/hidden"
component = { source = "app.wasm" }
id = "hidden"
[[trigger.http]]
route = { private = true }
component = "c"
[[trigger.http]]
route = "/teapot"
static_response = { status_code = 418, headers = { x-static = "yes" }, body = "short and stout" }
[component.c]
source = "app.wasm"
"#;

#[test]
fn reserved_static_and_unknown_routes() {
    let dir = app_with(MANIFEST);
    let up = Up::start(&["-f", dir.path().to_str().unwrap()]);
    let c = client();
    let r = c.get(up.url("/.well-known/spin/health")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().unwrap(), "OK");
    let r = c.get(up.url("/.well-known/spin/info")).send().unwrap();
    assert_eq!(r.status(), 200);
    let info: serde_json::Value = r.json().unwrap();
    assert_eq!(info["app"], "routes");

    let r = c.get(up.url("/teapot")).send().unwrap();
    assert_eq!(r.status(), 418);
    assert_eq!(r.headers()["x-static"], "yes");
    assert_eq!(r.text().unwrap(), "short and stout");

    assert_eq!(
        c.get(up.url("/exact")).send().unwrap().text().unwrap(),
        "Hello from C!"
    );
    assert_eq!(c.get(up.url("/exact/more")).send().unwrap().status(), 404);
    assert_eq!(c.get(up.url("/nowhere")).send().unwrap().status(), 404);
}

#[test]
fn responses_carry_only_guest_headers() {
    let dir = app_with(MANIFEST);
    let up = Up::start(&["-f", dir.path().to_str().unwrap()]);
    let r = client().get(up.url("/c/x")).send().unwrap();
    let mut names: Vec<_> = r.headers().keys().map(|k| k.as_str().to_string()).collect();
    names.sort();
    assert_eq!(names, vec!["content-length", "content-type", "date"]);
}

#[test]
fn printed_routes_match_spin_up() {
    let dir = app_with(MANIFEST);
    let up = Up::start(&["-f", dir.path().to_str().unwrap()]);
    let b = &up.base;
    // A static response has no component: its label is the trigger id.
    let expected = [
        format!("Serving {b}"),
        "Available Routes:".to_string(),
        format!("  c: {b}/c (wildcard)"),
        format!("  c: {b}/exact"),
        format!("  hidden: {b}/hidden"),
        format!("  http-4: {b}/teapot"),
    ];
    assert_eq!(up.stdout_lines, expected);
}

#[test]
fn v1_manifest_with_base_path() {
    let dir = app_with(
        r#"spin_manifest_version = "1"
name = "old"
version = "1.0.0"
trigger = { type = "http", base = "/base" }
[[component]]
id = "c"
source = "app.wasm"
[component.trigger]
route = "/hello/..."
"#,
    );
    let up = Up::start(&["-f", dir.path().join("spin.toml").to_str().unwrap()]);
    let c = client();
    assert_eq!(
        c.get(up.url("/base/hello/x"))
            .send()
            .unwrap()
            .text()
            .unwrap(),
        "Hello from C!"
    );
    assert_eq!(c.get(up.url("/hello/x")).send().unwrap().status(), 404);
}

#[test]
fn serves_https_with_spin_tls_env() {
    let dir = app_with(MANIFEST);
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let tls = tempfile::tempdir().unwrap();
    let cert_path = tls.path().join("cert.pem");
    let key_path = tls.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let up = Up::start(&[
        "-f",
        dir.path().to_str().unwrap(),
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ]);
    assert!(up.base.starts_with("https://"), "{}", up.base);
    let r = client().get(up.url("/c/x")).send().unwrap();
    assert_eq!(r.text().unwrap(), "Hello from C!");
}

#[test]
fn busy_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = app_with(MANIFEST);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_spinkube"))
        .args(["up", "-f", dir.path().to_str().unwrap(), "--listen", &addr])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
}
