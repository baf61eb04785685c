use std::path::Path;

use super::*;

fn load(toml_text: &str) -> Result<LockedApp, AppError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.wasm"), b"\0asm\x0d\0\x01\0").unwrap();
    std::fs::write(dir.path().join("spin.toml"), toml_text).unwrap();
    let files = tempfile::tempdir().unwrap();
    load_manifest_file(
        dir.path(),
        &LoadOptions {
            files_root: files.path().to_path_buf(),
        },
    )
}

const V2: &str = r#"
spin_manifest_version = 2
[application]
name = "hello"
version = "1.0.0"
[application.trigger.http]
base = "/"
[variables]
greeting = { default = "hi" }
token = { required = true, secret = true }
[[trigger.http]]
route = "/hello/..."
component = "hello"
[[trigger.http]]
route = "/wagi"
component = "hello"
executor = { type = "wagi" }
[component.hello]
source = "app.wasm"
allowed_outbound_hosts = ["https://example.com"]
allowed_http_hosts = ["legacy.example"]
key_value_stores = ["default"]
sqlite_databases = ["default"]
environment = { A = "1" }
variables = { message = "{{ greeting }}" }
"#;

#[test]
fn v2_manifest_becomes_locked_app() {
    let app = load(V2).unwrap();
    assert_eq!(app.name(), Some("hello"));
    assert_eq!(app.triggers.len(), 2);
    assert_eq!(app.triggers[0].trigger_type, "http");
    assert_eq!(app.triggers[0].trigger_config["component"], "hello");
    assert_eq!(app.triggers[0].trigger_config["route"], "/hello/...");
    assert_eq!(app.triggers[1].trigger_config["executor"]["type"], "wagi");
    assert_ne!(app.triggers[0].id, app.triggers[1].id);
    let c = app.component("hello").unwrap();
    assert!(c
        .source
        .content
        .source
        .as_deref()
        .unwrap()
        .starts_with("file:///"));
    assert_eq!(
        c.metadata_strings("allowed_outbound_hosts"),
        vec![
            "https://example.com",
            "http://legacy.example",
            "https://legacy.example"
        ]
    );
    assert_eq!(c.metadata_strings("databases"), vec!["default"]);
    assert_eq!(c.env["A"], "1");
    assert_eq!(c.config["message"], "{{ greeting }}");
    assert_eq!(app.variables["token"].default, None);
    assert!(app.variables["token"].secret);
    assert_eq!(app.metadata["trigger"]["type"], "http");
    assert!(app.metadata["origin"]
        .as_str()
        .unwrap()
        .ends_with("/spin.toml"));
    // The locked JSON round-trips.
    assert_eq!(LockedApp::from_json(&app.to_json()).unwrap(), app);
}

#[test]
fn v1_manifest_becomes_the_same_shape() {
    let app = load(
        r#"
spin_manifest_version = "1"
name = "old"
version = "0.1.0"
trigger = { type = "http", base = "/base" }
[[component]]
id = "hello"
source = "app.wasm"
[component.trigger]
route = "/hello"
executor = { type = "spin" }
"#,
    )
    .unwrap();
    assert_eq!(app.triggers[0].trigger_config["route"], "/hello");
    assert_eq!(app.triggers[0].trigger_config["component"], "hello");
    assert_eq!(app.trigger_settings("http").unwrap()["base"], "/base");
}

#[test]
fn bad_manifests_name_the_problem() {
    let cases: &[(&str, &str)] = &[
        ("spin_manifest_version = 2\n[application\nname = \"x\"", "not a valid Spin manifest"),
        ("spin_manifest_version = 3\n[application]\nname = \"x\"", "unsupported spin_manifest_version 3"),
        ("[application]\nname = \"x\"", "spin_manifest_version = 2"),
        (
            "spin_manifest_version = 2\n[application]\nname = \"x\"\n[component.a]\nsource = \"app.wasm\"\nsorce = \"typo\"",
            "sorce",
        ),
        (
            "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"missing\"",
            "component `missing`, which is not defined",
        ),
        (
            "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.cron]]\ncomponent = \"a\"\n[component.a]\nsource = \"app.wasm\"",
            "unknown type `cron`",
        ),
        (
            "spin_manifest_version = 2\n[application]\nname = \"x\"\n[component.a]\nsource = \"nope.wasm\"",
            "nope.wasm does not exist",
        ),
        (
            "spin_manifest_version = 2\n[application]\nname = \"x\"\n[component.Bad_Id]\nsource = \"app.wasm\"",
            "kebab-case",
        ),
        (
            "spin_manifest_version = 2\n[application]\nname = \"x\"\n[variables]\nv = { required = true, default = \"x\" }",
            "either `required = true` or have a `default`",
        ),
    ];
    for (text, expected) in cases {
        let err = load(text).expect_err(text).to_string();
        assert!(
            err.contains(expected),
            "expected {expected:?} in error: {err}"
        );
    }
}

#[test]
fn missing_manifest_file_says_how_to_fix() {
    let err = load_manifest_file(
        Path::new("/definitely/not/here/spin.toml"),
        &LoadOptions {
            files_root: std::env::temp_dir(),
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("cannot read Spin manifest") && err.contains("-f"),
        "{err}"
    );
}

#[test]
fn files_are_copied_for_the_guest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.wasm"), b"\0asm\x0d\0\x01\0").unwrap();
    std::fs::create_dir_all(dir.path().join("static/sub")).unwrap();
    std::fs::write(dir.path().join("static/a.txt"), "a").unwrap();
    std::fs::write(dir.path().join("static/sub/b.txt"), "b").unwrap();
    std::fs::write(dir.path().join("static/skip.log"), "x").unwrap();
    std::fs::write(dir.path().join("one.txt"), "1").unwrap();
    std::fs::write(
        dir.path().join("spin.toml"),
        r#"spin_manifest_version = 2
[application]
name = "f"
[component.a]
source = "app.wasm"
files = ["static/**/*", { source = "one.txt", destination = "/etc/one.txt" }]
exclude_files = ["**/*.log"]
"#,
    )
    .unwrap();
    let files = tempfile::tempdir().unwrap();
    let app = load_manifest_file(
        dir.path(),
        &LoadOptions {
            files_root: files.path().to_path_buf(),
        },
    )
    .unwrap();
    let mount = &app.components[0].files[0];
    assert_eq!(mount.path, "/");
    let root = crate::app::content::local_path(&mount.content).unwrap();
    assert_eq!(
        std::fs::read_to_string(root.join("static/a.txt")).unwrap(),
        "a"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("static/sub/b.txt")).unwrap(),
        "b"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("etc/one.txt")).unwrap(),
        "1"
    );
    assert!(!root.join("static/skip.log").exists());
}
