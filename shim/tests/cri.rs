//! The shim behind containerd's CRI, as the kubelet drives it: `crictl` runs a pod sandbox
//! (the pause image, built here) with its own network namespace on a CNI bridge subnet this test
//! owns, then a Spin container in it; the app answers on the pod IP.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::containerd::{wait_for, Containerd, Options};
use common::registry::Registry;
use common::{get, push};

const PAUSE_IMAGE: &str = "spinkube.local/pause:3.10";
/// containerd's CRI works in this namespace.
const CRI_NAMESPACE: &str = "k8s.io";

fn pause_image_archive() -> String {
    let script = common::repo_root().join("e2e/pause/build-image.sh");
    let out = Command::new("bash")
        .arg(&script)
        .env("PAUSE_IMAGE", PAUSE_IMAGE)
        .output()
        .expect("run e2e/pause/build-image.sh");
    assert!(
        out.status.success(),
        "building the pause image: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A /24 inside 10.200.0.0/13 picked from the process id, so parallel runs differ.
fn pod_subnet() -> (String, String) {
    let n = std::process::id() % 2048;
    let (b, c) = (200 + n / 256, n % 256);
    (format!("10.{b}.{c}.0/24"), format!("10.{b}.{c}."))
}

fn json(path: &Path, value: serde_json::Value) {
    std::fs::write(path, value.to_string()).unwrap();
}

#[test]
fn a_spin_pod_answers_on_its_pod_ip() {
    let reg = Registry::start();
    let image = reg.reference("probe:cri");
    push("e2e/apps/shim-probe", &image);
    let (subnet, prefix) = pod_subnet();
    let ctd = Containerd::start(&Options {
        shim_dir: common::shim_dir(),
        registry: Some(reg.host()),
        pod_subnet: Some(subnet.clone()),
        sandbox_image: Some(PAUSE_IMAGE.into()),
        ..Options::default()
    });
    let archive = pause_image_archive();
    let status = ctd
        .ctr_in(CRI_NAMESPACE)
        .args(["images", "import", &archive])
        .status()
        .unwrap();
    assert!(
        status.success(),
        "ctr images import {archive}\n{}",
        ctd.log_tail()
    );

    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let pod = dir.path().join("pod.json");
    json(
        &pod,
        serde_json::json!({
            "metadata": {"name": "probe", "namespace": "default", "uid": "probe-uid", "attempt": 0},
            "log_directory": logs,
            "linux": {"security_context": {"namespace_options": {"network": 0}}}
        }),
    );
    let container = dir.path().join("container.json");
    json(
        &container,
        serde_json::json!({
            "metadata": {"name": "app"},
            "image": {"image": image},
            "command": ["/"],
            "envs": [{"key": "SPIN_VARIABLE_GREETING", "value": "hello pod"}],
            "log_path": "app.log",
            "linux": {"resources": {"memory_limit_in_bytes": 268435456}}
        }),
    );
    ctd.crictl_ok(["pull", &image]);
    let pod_id = ctd
        .crictl_ok(["runp", "--runtime", "spin", &pod.to_string_lossy()])
        .trim()
        .to_string();
    let inspect: serde_json::Value =
        serde_json::from_str(&ctd.crictl_ok(["inspectp", "-o", "json", &pod_id])).unwrap();
    let ip = inspect["status"]["network"]["ip"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        ip.starts_with(&prefix),
        "pod IP {ip:?} is not from the test's subnet {subnet}"
    );
    let ctr_id = ctd
        .crictl_ok([
            "create",
            &pod_id,
            &container.to_string_lossy(),
            &pod.to_string_lossy(),
        ])
        .trim()
        .to_string();
    ctd.crictl_ok(["start", &ctr_id]);
    let addr = SocketAddr::new(ip.parse::<IpAddr>().unwrap(), 80);
    let log = logs.join("app.log");
    wait_for("the app on the pod IP", Duration::from_secs(120), || {
        let state = ctd.crictl_ok([
            "inspect",
            "-o",
            "go-template",
            "--template",
            "{{.status.state}}",
            &ctr_id,
        ]);
        assert!(
            !state.contains("EXITED"),
            "container exited:\n{}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default(),
            ctd.log_tail()
        );
        get(addr, "/hello").ok().filter(|(s, _)| *s == 200)
    });
    assert_eq!(get(addr, "/var").unwrap(), (200, "hello pod".into()));
    // `crictl logs` (the kubelet's view) shows the runtime's output.
    let out = ctd
        .crictl_command()
        .args(["logs", &ctr_id])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("Serving http://0.0.0.0:80"),
        "crictl logs: {text}"
    );

    ctd.crictl_ok(["stop", "--timeout", "10", &ctr_id]);
    let exit = ctd.crictl_ok([
        "inspect",
        "-o",
        "go-template",
        "--template",
        "{{.status.exitCode}}",
        &ctr_id,
    ]);
    assert_eq!(exit.trim(), "0", "exit code after stop");
    ctd.crictl_ok(["rm", &ctr_id]);
    ctd.crictl_ok(["stopp", &pod_id]);
    ctd.crictl_ok(["rmp", &pod_id]);
    assert!(ctd.crictl_ok(["pods", "-q"]).trim().is_empty());
    assert!(
        get(addr, "/hello").is_err(),
        "the pod IP still answers after the pod was removed"
    );
}
