//! Bad input and misbehaving guests: clear errors, and the server keeps serving.

mod common;

use std::path::Path;

use common::{app_dir, client, signal, Up};

fn write_app(dir: &Path, manifest: &str, wasm_from: Option<&Path>) {
    std::fs::write(dir.join("spin.toml"), manifest).unwrap();
    if let Some(src) = wasm_from {
        std::fs::copy(src, dir.join("app.wasm")).unwrap();
    }
}

#[test]
fn trapping_guest_gives_500_and_a_log_line_naming_the_component() {
    let dir = app_dir("e2e/apps/faults");
    let up = Up::start(&["-f", dir.to_str().unwrap()]);
    let c = client();
    for path in ["/trap", "/panic-abort"] {
        let r = c.get(up.url(path)).send().unwrap();
        assert_eq!(r.status(), 500, "{path}");
        assert_eq!(c.get(up.url("/ok")).send().unwrap().text().unwrap(), "ok");
    }
    let log = up.wait_for_log("component=faults");
    assert!(
        log.contains("component=faults") && log.contains("/trap"),
        "{log}"
    );
}

#[test]
fn guest_that_never_returns_is_cut_off_and_others_are_still_served() {
    let dir = app_dir("e2e/apps/faults");
    let up = Up::start(&["-f", dir.to_str().unwrap(), "--request-timeout", "1s"]);
    let c = client();
    // While one request spins, others are answered (the guest yields between epochs).
    let looping = {
        let url = up.url("/loop");
        std::thread::spawn(move || client().get(url).send().unwrap().status())
    };
    assert_eq!(c.get(up.url("/ok")).send().unwrap().text().unwrap(), "ok");
    assert_eq!(looping.join().unwrap(), 500);
    let log = up.wait_for_log("timed out");
    assert!(
        log.contains("timed out") && log.contains("component=faults"),
        "{log}"
    );
    assert_eq!(c.get(up.url("/ok")).send().unwrap().text().unwrap(), "ok");
}

#[test]
fn memory_limit_is_enforced() {
    let dir = app_dir("e2e/apps/faults");
    let up = Up::start(&["-f", dir.to_str().unwrap(), "--max-instance-memory", "32Mi"]);
    let c = client();
    // The guest allocates until malloc fails: the limit stops it well before 4 GiB.
    let r = c.get(up.url("/alloc")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().unwrap(), "allocated");
    assert_eq!(c.get(up.url("/ok")).send().unwrap().text().unwrap(), "ok");
}

#[test]
fn sigterm_finishes_in_flight_requests_then_exits_0() {
    let dir = app_dir("e2e/apps/faults");
    let up = Up::start_with_env(
        &["-f", dir.to_str().unwrap(), "--request-timeout", "2s"],
        &[("RUST_LOG", "info,spinkube_runtime::http=debug")],
    );
    let url = up.url("/loop");
    let in_flight =
        std::thread::spawn(move || client().get(url).send().map(|r| r.status().as_u16()));
    // The server logs each request as it dispatches it: stop only once the guest runs.
    let log = up.wait_for_log("dispatching GET /loop");
    assert!(log.contains("dispatching GET /loop"), "{log}");
    signal(up.pid(), "TERM");
    let status = in_flight
        .join()
        .unwrap()
        .expect("in-flight request must get a response");
    assert_eq!(status, 500);
    assert!(up.terminate().success());
}

#[test]
fn component_without_a_handler_fails_startup_clearly() {
    let dir = app_dir("e2e/apps/no-handler");
    let (status, err) = Up::fail(&["-f", dir.to_str().unwrap()]);
    assert!(!status.success());
    assert!(err.contains("exports no HTTP handler"), "{err}");
    assert!(err.contains("wasi:http/incoming-handler"), "{err}");
}

#[test]
fn malformed_manifest_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write_app(
        dir.path(),
        "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]\n",
        None,
    );
    let (status, err) = Up::fail(&["-f", dir.path().to_str().unwrap()]);
    assert!(!status.success());
    assert!(
        err.contains("spin.toml is not a valid Spin manifest"),
        "{err}"
    );
    assert!(err.contains("line 4"), "{err}");
}

#[test]
fn missing_wasm_file_says_to_build() {
    let dir = tempfile::tempdir().unwrap();
    write_app(
        dir.path(),
        "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"hello\"\n[component.hello]\nsource = \"target/hello.wasm\"\n",
        None,
    );
    let (status, err) = Up::fail(&["-f", dir.path().to_str().unwrap()]);
    assert!(!status.success());
    assert!(
        err.contains("component `hello`") && err.contains("hello.wasm does not exist"),
        "{err}"
    );
    assert!(err.contains("spin build"), "{err}");
}

#[test]
fn not_a_wasm_file_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.wasm"), "#!/bin/sh\necho hi\n").unwrap();
    write_app(
        dir.path(),
        "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"hello\"\n[component.hello]\nsource = \"app.wasm\"\n",
        None,
    );
    let (status, err) = Up::fail(&["-f", dir.path().to_str().unwrap()]);
    assert!(!status.success());
    assert!(
        err.contains("component `hello`") && err.contains("not a WebAssembly"),
        "{err}"
    );
}

#[test]
fn a_wagi_source_that_is_not_wasm_gets_the_magic_bytes_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.wasm"), "echo hello\n").unwrap();
    write_app(
        dir.path(),
        "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"hello\"\nexecutor = { type = \"wagi\" }\n[component.hello]\nsource = \"app.wasm\"\n",
        None,
    );
    let (status, err) = Up::fail(&["-f", dir.path().to_str().unwrap()]);
    assert!(!status.success());
    assert!(
        err.contains("does not start with the Wasm magic bytes"),
        "{err}"
    );
    assert!(err.contains("app.wasm"), "{err}");
    assert!(!err.contains("expected '('"), "{err}");
}

#[test]
fn a_truncated_core_module_is_called_truncated_with_its_offset_and_file() {
    let built = app_dir("examples/rust-http").join("app.wasm");
    let bytes = std::fs::read(&built).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.wasm"), &bytes[..bytes.len() / 2]).unwrap();
    write_app(
        dir.path(),
        "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"hello\"\n[component.hello]\nsource = \"app.wasm\"\n",
        None,
    );
    let (status, err) = Up::fail(&["-f", dir.path().to_str().unwrap(), "--disable-cache"]);
    assert!(!status.success());
    assert!(err.contains("truncated or malformed"), "{err}");
    assert!(err.contains("at offset"), "{err}");
    assert!(err.contains("app.wasm"), "{err}");
    assert!(!err.contains("without an embedded component type"), "{err}");
}

#[test]
fn a_missing_runtime_config_file_is_named_once() {
    let dir = app_dir("e2e/apps/faults");
    let (status, err) = Up::fail(&[
        "-f",
        dir.to_str().unwrap(),
        "--runtime-config-file",
        "/nonexistent/rc.toml",
    ]);
    assert!(!status.success());
    assert!(err.contains("/nonexistent/rc.toml"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

#[test]
fn options_asterisk_is_answered_by_the_server() {
    use std::io::{Read, Write};
    let dir = app_dir("e2e/apps/faults");
    let up = Up::start(&["-f", dir.to_str().unwrap()]);
    let addr = up.base.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"OPTIONS * HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(
        out.to_ascii_lowercase().contains("allow: options, get"),
        "{out}"
    );
    // The guest never saw it (it would answer 404 `unknown fault`).
    assert!(!out.contains("unknown fault"), "{out}");
}
