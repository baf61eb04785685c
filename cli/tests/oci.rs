//! `spinkube push` / `pull` / `up --from REF` against a real registry (`docker-registry`).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::registry::Registry;
use common::{app_dir, client, Up};
use serde_json::Value;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const WASM_LAYER: &str = "application/vnd.wasm.content.layer.v1+wasm";
const DATA_LAYER: &str = "application/vnd.wasm.content.layer.v1+data";
const ARCHIVE_LAYER: &str = "application/vnd.wasm.content.bundle.v1.tar+gzip";
const LOCKED_LAYER: &str = "application/vnd.fermyon.spin.application.v1+config";

/// One test's private OCI cache and Docker config; the compile cache stays shared (fast reruns).
struct Env {
    cache: tempfile::TempDir,
    docker: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            cache: tempfile::tempdir().unwrap(),
            docker: tempfile::tempdir().unwrap(),
        }
    }

    fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "SPINKUBE_CACHE_DIR",
                self.cache.path().display().to_string(),
            ),
            ("DOCKER_CONFIG", self.docker.path().display().to_string()),
        ]
    }

    /// Runs `spinkube ARGS` with `stdin` piped in.
    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_spinkube"))
            .args(args)
            .envs(self.vars())
            .env("RUST_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        eprintln!(
            "$ spinkube {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, "")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "spinkube {args:?} failed");
        String::from_utf8(out.stdout).unwrap()
    }

    /// Fails with a non-zero exit; returns stderr.
    fn fails(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run_with_stdin(args, stdin);
        assert!(!out.status.success(), "spinkube {args:?} should fail");
        String::from_utf8(out.stderr).unwrap()
    }

    /// `up --from REF`, with the engine's compile cache left at its usual place.
    fn up(&self, from: &str, extra: &[&str]) -> Up {
        let engine_cache = engine_cache();
        let mut args = vec![
            "--from",
            from,
            "--cache-dir",
            engine_cache.to_str().unwrap(),
        ];
        args.extend(extra);
        let vars = self.vars();
        let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Up::start_with_env(&args, &env)
    }

    fn blobs(&self) -> Vec<String> {
        let dir = self.cache.path().join("oci/blobs/sha256");
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn write_docker_config(&self, host: &str, user: &str, password: &str) {
        let auth = base64(format!("{user}:{password}").as_bytes());
        let cfg = format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#);
        std::fs::write(self.docker.path().join("config.json"), cfg).unwrap();
    }
}

fn engine_cache() -> PathBuf {
    std::env::var_os("SPINKUBE_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|x| PathBuf::from(x).join("spinkube")))
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/spinkube"))
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn sha256_file(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    format!("sha256:{}", s.split_whitespace().next().unwrap())
}

fn manifest(reg: &Registry, repo: &str, tag: &str) -> Value {
    let url = format!("http://{}/v2/{repo}/manifests/{tag}", reg.host());
    let r = client()
        .get(url)
        .header("Accept", OCI_MANIFEST)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().unwrap()
}

fn blob(reg: &Registry, repo: &str, digest: &str) -> Vec<u8> {
    let url = format!("http://{}/v2/{repo}/blobs/{digest}", reg.host());
    client().get(url).send().unwrap().bytes().unwrap().to_vec()
}

/// (status, x-greeting, body) for each path.
fn responses(up: &Up, paths: &[&str]) -> Vec<(u16, String, Vec<u8>)> {
    let c = client();
    paths
        .iter()
        .map(|p| {
            let r = c.get(up.url(p)).send().unwrap();
            let g = r
                .headers()
                .get("x-greeting")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            (r.status().as_u16(), g, r.bytes().unwrap().to_vec())
        })
        .collect()
}

/// Equal responses; on failure prints statuses and sizes rather than whole bodies.
fn assert_same(got: &[(u16, String, Vec<u8>)], want: &[(u16, String, Vec<u8>)]) {
    let summary = |v: &[(u16, String, Vec<u8>)]| -> Vec<(u16, String, usize)> {
        v.iter().map(|(s, g, b)| (*s, g.clone(), b.len())).collect()
    };
    assert!(
        got == want,
        "got {:?}\nwant {:?}",
        summary(got),
        summary(want)
    );
}

const FILE_PATHS: &[&str] = &[
    "/one/static/shared.txt",
    "/one/static/tiny.txt",
    "/one/static/data.bin",
    "/one/static/nested/deep.txt",
    "/two/two.txt",
    "/two/static/shared.txt",
    "/two/static/data.bin",
];

#[test]
fn files_app_artifact_matches_spin_layout_and_runs_like_the_directory() {
    let reg = Registry::start();
    let env = Env::new();
    let dir = app_dir("e2e/apps/oci-files");
    let r = reg.reference("oci-files:v1");
    let out = env.ok(&["push", "-f", dir.to_str().unwrap(), &r]);
    assert!(out.contains(&format!("Pushed {r}@sha256:")), "{out}");

    let m = manifest(&reg, "oci-files", "v1");
    assert_eq!(m["schemaVersion"], 2);
    assert_eq!(m["mediaType"], OCI_MANIFEST);
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    let layers = m["layers"].as_array().unwrap();
    let types: Vec<&str> = layers
        .iter()
        .map(|l| l["mediaType"].as_str().unwrap())
        .collect();
    // Both components share app.wasm and static/shared.txt: one layer each. tiny.txt (5 bytes) is inlined.
    assert_eq!(
        types,
        [
            WASM_LAYER,
            DATA_LAYER,
            DATA_LAYER,
            DATA_LAYER,
            DATA_LAYER,
            LOCKED_LAYER
        ],
        "{m:#}"
    );
    let wasm_digest = sha256_file(&dir.join("app.wasm"));
    assert_eq!(layers[0]["digest"], wasm_digest.as_str());
    assert_eq!(
        layers[0]["size"],
        std::fs::metadata(dir.join("app.wasm")).unwrap().len()
    );
    let ann = &m["annotations"];
    assert_eq!(ann["org.opencontainers.image.title"], "oci-files");
    assert_eq!(ann["org.opencontainers.image.version"], "1.2.3");
    assert_eq!(
        ann["org.opencontainers.image.authors"],
        "SpinKube tests <tests@example.com>"
    );
    assert!(ann["org.opencontainers.image.description"]
        .as_str()
        .unwrap()
        .contains("push/pull"));
    assert!(ann["org.opencontainers.image.created"]
        .as_str()
        .unwrap()
        .starts_with("20"));

    let config: Value = serde_json::from_slice(&blob(
        &reg,
        "oci-files",
        m["config"]["digest"].as_str().unwrap(),
    ))
    .unwrap();
    assert_eq!(config["architecture"], "wasm");
    assert_eq!(config["os"], "Wasip1");
    let locked_digest = layers[5]["digest"].as_str().unwrap();
    assert_eq!(
        config["config"]["Labels"]["com.fermyon.spin.lockedAppDigest"],
        locked_digest
    );

    let locked: Value = serde_json::from_slice(&blob(&reg, "oci-files", locked_digest)).unwrap();
    assert_eq!(locked["spin_lock_version"], 0);
    assert!(
        locked["metadata"].get("origin").is_none(),
        "origin is dropped"
    );
    assert_eq!(locked["variables"]["token"]["secret"], true);
    assert_eq!(locked["variables"]["greeting"]["default"], "hello");
    let one = &locked["components"][0];
    assert_eq!(one["id"], "one");
    assert_eq!(one["source"]["content_type"], "application/wasm");
    assert_eq!(one["source"]["digest"], wasm_digest.as_str());
    assert!(one["source"].get("source").is_none(), "{one:#}");
    assert_eq!(one["config"]["message"], "{{ greeting }}");
    let files: Vec<(&str, &str)> = one["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["digest"].as_str().unwrap()))
        .collect();
    let want: Vec<String> = ["data.bin", "nested/deep.txt", "shared.txt", "tiny.txt"]
        .iter()
        .map(|f| sha256_file(&dir.join("static").join(f)))
        .collect();
    assert_eq!(
        files,
        [
            ("static/data.bin", want[0].as_str()),
            ("static/nested/deep.txt", want[1].as_str()),
            ("static/shared.txt", want[2].as_str()),
            ("static/tiny.txt", want[3].as_str()),
        ]
    );
    assert_eq!(one["files"][3]["inline"], "dGlueQo=");
    for f in &one["files"].as_array().unwrap()[..3] {
        assert!(
            f.get("inline").is_none() && f.get("source").is_none(),
            "{f}"
        );
        assert!(
            layers.iter().any(|l| l["digest"] == f["digest"]),
            "{f} has a layer"
        );
    }

    let from_dir = {
        let up = env.up(dir.to_str().unwrap(), &["--variable", "token=t"]);
        responses(&up, FILE_PATHS)
    };
    let up = env.up(&r, &["--variable", "token=t"]);
    let from_registry = responses(&up, FILE_PATHS);
    assert_same(&from_registry, &from_dir);
    assert_eq!(from_registry[0].0, 200);
    assert_eq!(from_registry[0].1, "from-one");
    assert_eq!(from_registry[4].1, "from-two");
    assert_eq!(
        from_registry[2].2,
        std::fs::read(dir.join("static/data.bin")).unwrap()
    );
}

#[test]
fn archive_layers_when_forced_like_spin() {
    let reg = Registry::start();
    let env = Env::new();
    let dir = app_dir("e2e/apps/oci-files");
    let r = reg.reference("archived:v1");
    let out = Command::new(env!("CARGO_BIN_EXE_spinkube"))
        .args(["push", "-f", dir.to_str().unwrap(), &r])
        .envs(env.vars())
        .env("SPIN_OCI_ARCHIVE_LAYERS", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = manifest(&reg, "archived", "v1");
    let types: Vec<&str> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["mediaType"].as_str().unwrap())
        .collect();
    // One archive per component: like Spin, the loader gathers a component's files in one directory.
    assert_eq!(
        types,
        [WASM_LAYER, ARCHIVE_LAYER, ARCHIVE_LAYER, LOCKED_LAYER]
    );
    let from_dir = {
        let up = env.up(dir.to_str().unwrap(), &["--variable", "token=t"]);
        responses(&up, FILE_PATHS)
    };
    let up = env.up(&r, &["--variable", "token=t"]);
    assert_same(&responses(&up, FILE_PATHS), &from_dir);
}

#[test]
fn examples_run_from_the_registry_like_from_their_directories() {
    let reg = Registry::start();
    let env = Env::new();
    for (example, paths) in [
        ("examples/c-http", &["/c/hello", "/c/echo?x=1"][..]),
        // (Python's /echo shows the client port, which differs per run.)
        ("examples/python-http", &["/", "/hello"][..]),
    ] {
        let dir = app_dir(example);
        let name = example.rsplit('/').next().unwrap();
        let r = reg.reference(&format!("{name}:latest"));
        env.ok(&["push", "-f", dir.to_str().unwrap(), &r]);
        let local = {
            let up = env.up(dir.to_str().unwrap(), &[]);
            responses(&up, paths)
        };
        let up = env.up(&r, &[]);
        assert_same(&responses(&up, paths), &local);
    }
}

#[test]
fn second_pull_downloads_nothing_and_runs_offline_by_digest() {
    let mut reg = Registry::start();
    let env = Env::new();
    let dir = app_dir("examples/c-http");
    let r = reg.reference("c-http:v1");
    let pushed = env.ok(&["push", "-f", dir.to_str().unwrap(), &r]);
    let digest = pushed.trim().rsplit('@').next().unwrap().to_string();

    let first = env.ok(&["pull", &r]);
    assert!(
        first.contains("(3 blobs downloaded, 0 already cached)"),
        "{first}"
    );
    let gets = reg.blob_gets();
    assert_eq!(gets, 3, "{}", reg.log());
    let again = env.ok(&["pull", &r]);
    assert!(
        again.contains("(0 blobs downloaded, 3 already cached)"),
        "{again}"
    );
    assert_eq!(reg.blob_gets(), gets, "no blob was fetched again");
    // manifest + config + 2 layers, all verified
    assert_eq!(env.blobs().len(), 4, "{:?}", env.blobs());

    reg.stop();
    let pinned = format!("{}/c-http@{digest}", reg.host());
    let up = env.up(&pinned, &[]);
    assert_eq!(client().get(up.url("/c/x")).send().unwrap().status(), 200);
    drop(up);
    let err = env.fails(&["pull", &r], "");
    assert!(err.contains("cannot reach the registry"), "{err}");
}

#[test]
fn faults_give_clear_errors_and_cache_nothing_unverified() {
    let reg = Registry::start();
    let env = Env::new();
    let err = env.fails(&["pull", &reg.reference("nothing:here")], "");
    assert!(
        err.contains("not found in the registry (HTTP 404)"),
        "{err}"
    );
    let err = env.fails(&["up", "--from", &reg.reference("nothing:here")], "");
    assert!(err.contains("nothing:here") && err.contains("404"), "{err}");

    let dir = app_dir("examples/c-http");
    let r = reg.reference("c-http:v1");
    env.ok(&["push", "-f", dir.to_str().unwrap(), &r]);
    let wasm = sha256_file(&dir.join("app.wasm"));
    let stored = reg.blob_path(&wasm);
    let original = std::fs::read(&stored).unwrap();

    // Same length, different bytes.
    let mut tampered = original.clone();
    tampered[100] ^= 0xff;
    std::fs::write(&stored, &tampered).unwrap();
    let err = env.fails(&["pull", &r], "");
    assert!(err.contains("digest") && err.contains(&wasm), "{err}");
    let hex = wasm.trim_start_matches("sha256:").to_string();
    assert!(
        !env.blobs().contains(&hex),
        "tampered blob must not be cached"
    );
    assert!(
        env.blobs().iter().all(|b| !b.starts_with(".partial")),
        "{:?}",
        env.blobs()
    );

    // Truncated.
    std::fs::write(&stored, &original[..original.len() / 2]).unwrap();
    let err = env.fails(&["up", "--from", &r], "");
    assert!(err.contains(&wasm), "{err}");
    assert!(!env.blobs().contains(&hex));

    std::fs::write(&stored, &original).unwrap();
    env.ok(&["pull", &r]);
    assert!(env.blobs().contains(&hex));

    let err = env.fails(&["push", "-f", "/nonexistent/spin.toml", &r], "");
    assert!(err.contains("cannot read Spin manifest"), "{err}");
}

#[test]
fn credentials_from_stdin_and_docker_config() {
    let reg = Registry::start_with_auth("alice", "s3cret");
    assert_eq!(reg.v2_status(), Some(401));
    let env = Env::new();
    let dir = app_dir("examples/c-http");
    let r = reg.reference("private/c-http:v1");
    let d = dir.to_str().unwrap();

    let err = env.fails(&["push", "-f", d, &r], "");
    assert!(
        err.contains("HTTP 401") && err.contains("--password-stdin"),
        "{err}"
    );
    let err = env.fails(
        &[
            "push",
            "-f",
            d,
            &r,
            "--username",
            "alice",
            "--password-stdin",
        ],
        "wrong\n",
    );
    assert!(err.contains("HTTP 401"), "{err}");
    let ok = env.run_with_stdin(
        &[
            "push",
            "-f",
            d,
            &r,
            "--username",
            "alice",
            "--password-stdin",
        ],
        "s3cret\n",
    );
    assert!(ok.status.success());

    let err = env.fails(&["pull", &r], "");
    assert!(err.contains("HTTP 401"), "{err}");
    env.write_docker_config(&reg.host(), "alice", "nope");
    let err = env.fails(&["pull", &r], "");
    assert!(
        err.contains("HTTP 401") && err.contains("Docker config"),
        "{err}"
    );
    env.write_docker_config(&format!("https://{}/v1/", reg.host()), "alice", "s3cret");
    env.ok(&["pull", &r]);
    let up = env.up(&r, &[]);
    assert_eq!(client().get(up.url("/c/x")).send().unwrap().status(), 200);
}

#[test]
fn single_wasm_artifacts_like_wkg_oci_push_run() {
    let reg = Registry::start();
    let env = Env::new();
    let wasm_path = app_dir("examples/c-http").join("app.wasm");
    let wasm = std::fs::read(&wasm_path).unwrap();
    let wasm_digest = sha256_file(&wasm_path);
    let config = br#"{"architecture":"wasm","os":"wasip2","layerDigests":[]}"#.to_vec();
    let cfg_file = env.cache.path().join("wasm-config.json");
    std::fs::write(&cfg_file, &config).unwrap();
    let cfg_digest = sha256_file(&cfg_file);
    let c = client();
    for (digest, bytes) in [(&wasm_digest, wasm.clone()), (&cfg_digest, config.clone())] {
        let start = c
            .post(format!("http://{}/v2/component/blobs/uploads/", reg.host()))
            .send()
            .unwrap();
        assert_eq!(start.status(), 202);
        let location = start.headers()["location"].to_str().unwrap().to_string();
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = if location.starts_with("http") {
            location.clone()
        } else {
            format!("http://{}{location}", reg.host())
        };
        let put = c
            .put(format!("{url}{sep}digest={digest}"))
            .body(bytes)
            .send()
            .unwrap();
        assert_eq!(put.status(), 201);
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.wasm.config.v0+json", "digest": cfg_digest, "size": config.len()},
        "layers": [{"mediaType": "application/wasm", "digest": wasm_digest, "size": wasm.len()}],
    });
    let put = c
        .put(format!("http://{}/v2/component/manifests/v1", reg.host()))
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest.to_string())
        .send()
        .unwrap();
    assert_eq!(put.status(), 201);
    let up = env.up(&reg.reference("component:v1"), &[]);
    assert!(
        up.stdout_lines.iter().any(|l| l.contains("component:")),
        "{:?}",
        up.stdout_lines
    );
    assert_eq!(c.get(up.url("/anything")).send().unwrap().status(), 200);
}
