//! The chart's node installer on a real node whose containerd starts without the `spin` runtime
//! (a cluster of its own: this test installs, upgrades and uninstalls the chart). One test, as the
//! steps build on each other: a wrong config path fails clearly and touches nothing, `helm
//! upgrade` to the right one readies the node and the waiting app serves, a new shim build
//! replaces the binary while the app keeps serving, and `helm uninstall` gives containerd's
//! config back byte for byte.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use spinkube_e2e::cluster::{
    NODE_NAME, OPERATOR_NAMESPACE, RELEASE, SHIM_EXECUTOR, SHIM_READY_LABEL,
};
use spinkube_e2e::Cluster;

const LIMIT: Duration = Duration::from_secs(180);
const APP: &str = "hello";
const SHIM: &str = "containerd-shim-spin-v2";

#[test]
fn the_chart_readies_the_node_upgrades_the_shim_and_gives_the_config_back() {
    if unsafe { libc::getuid() } != 0 {
        panic!("the node installer test needs root (a real node)");
    }
    let cluster = Cluster::start_bare().expect("cluster");
    let config = cluster.node_containerd_config();
    let original = std::fs::read(&config).unwrap();
    assert!(!runtimes(&cluster).contains(&"spin".to_string()));

    // 1. A config path that is not there: the installer fails naming it and what to do, the node
    //    is neither touched nor labelled, and an app says why its pod waits.
    cluster.push_images("e2e", None).unwrap();
    cluster
        .helm_with_sets(
            "install",
            &["nodeInstaller.containerdConfig=/nonexistent/containerd/config.toml"],
            false,
        )
        .unwrap();
    let message = eventually("the installer's error", || {
        let pods = installer_pods(&cluster);
        let text = pods.to_string();
        text.contains("no containerd config at /nonexistent/containerd/config.toml")
            .then_some(text)
    });
    assert!(
        message.contains("nodeInstaller.containerdConfig"),
        "{message}"
    );
    assert_eq!(node_label(&cluster), "", "an unready node is not labelled");
    assert_eq!(std::fs::read(&config).unwrap(), original);
    assert!(!cluster.node_shim_dir().join(SHIM).exists());

    let ns = cluster.cp.create_namespace("installer").unwrap();
    cluster
        .kubectl_stdin(&["-n", &ns, "apply", "-f", "-"], SHIM_EXECUTOR)
        .unwrap();
    let image = cluster
        .push_app("examples/rust-http", "installer-hello:v1")
        .unwrap();
    let manifest = format!(
        "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata:\n  name: {APP}\nspec:\n  \
         image: {image}\n  executor: containerd-shim-spin\n  replicas: 1\n"
    );
    cluster
        .kubectl_stdin(&["-n", &ns, "apply", "-f", "-"], &manifest)
        .unwrap();
    let why = eventually(
        "the app's Ready condition to name the missing label",
        || {
            let m = cluster
                .kubectl(&[
                    "-n",
                    &ns,
                    "get",
                    "spinapp",
                    APP,
                    "-o",
                    "jsonpath={.status.conditions[?(@.type==\"Ready\")].message}",
                ])
                .unwrap_or_default();
            m.contains("cannot be scheduled").then_some(m)
        },
    );
    assert!(
        why.contains("spinkube.dev/shim=ready") && why.contains("node installer"),
        "{why}"
    );

    // 2. The right path: the node is readied and the waiting app serves.
    let t = Instant::now();
    cluster.helm_with_sets("upgrade", &[], true).unwrap();
    cluster.wait_node_readied(LIMIT).unwrap();
    eprintln!("node readied {:.0?} after the upgrade", t.elapsed());
    let installed = std::fs::read_to_string(&config).unwrap();
    assert!(
        installed.starts_with(std::str::from_utf8(&original).unwrap()),
        "the original config comes first, unchanged"
    );
    let shim_path = cluster.node_shim_dir().join(SHIM);
    assert!(installed.contains(&format!("runtime_path = '{}'", shim_path.display())));
    assert_eq!(
        std::fs::read(backup_of(&config)).unwrap(),
        original,
        "the original is backed up"
    );
    assert!(
        runtimes(&cluster).contains(&"spin".to_string()),
        "containerd was restarted and loaded the runtime"
    );
    let first_build = sha256(&shim_path);
    assert_eq!(node_annotation(&cluster), first_build);
    let (pod, ip) = serving_pod(&cluster, &ns);
    assert_eq!(get(&ip), "Hello from Rust!");

    // 3. A new shim build: the DaemonSet rolls, the binary is replaced in place, the config stays
    //    as it is (no containerd restart), and the running app keeps serving.
    let new_shim = tempfile::tempdir().unwrap();
    let rebuilt = new_shim.path().join(SHIM);
    let mut bytes = std::fs::read(&shim_path).unwrap();
    bytes.extend_from_slice(b"\n# another build\n");
    std::fs::write(&rebuilt, bytes).unwrap();
    cluster.push_images("e2e-2", Some(&rebuilt)).unwrap();
    cluster
        .helm_with_sets("upgrade", &["nodeInstaller.image.tag=e2e-2"], true)
        .unwrap();
    let second_build = sha256(&rebuilt);
    eventually("the node to report the new shim build", || {
        (node_annotation(&cluster) == second_build).then_some(())
    });
    assert_eq!(sha256(&shim_path), second_build);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), installed);
    assert_eq!(
        serving_pod(&cluster, &ns),
        (pod.clone(), ip.clone()),
        "the app pod was left running"
    );
    assert_eq!(get(&ip), "Hello from Rust!");
    // A pod started now runs the new build.
    cluster
        .kubectl(&["-n", &ns, "delete", "pod", &pod, "--wait=true"])
        .unwrap();
    let (_, new_ip) = eventually("a replacement pod serving", || {
        let (p, ip) = serving_pod_now(&cluster, &ns)?;
        (p != pod).then_some((p, ip))
    });
    assert_eq!(get(&new_ip), "Hello from Rust!");

    // 4. `helm uninstall`: the cleanup Job gives the config back byte for byte, removes the shim
    //    and the label, and containerd runs without the runtime again.
    cluster
        .kubectl(&["-n", &ns, "delete", "spinapp", APP, "--wait=true"])
        .unwrap();
    cluster
        .helm(&[
            "uninstall",
            RELEASE,
            "--namespace",
            OPERATOR_NAMESPACE,
            "--wait",
            "--timeout",
            "300s",
        ])
        .unwrap_or_else(|e| panic!("{e:#}\n{}", cluster.diagnostics(OPERATOR_NAMESPACE)));
    assert_eq!(
        std::fs::read(&config).unwrap(),
        original,
        "the original config, byte for byte"
    );
    assert!(!backup_of(&config).exists());
    assert!(!shim_path.exists());
    assert_eq!(node_label(&cluster), "");
    assert!(!runtimes(&cluster).contains(&"spin".to_string()));
    cluster.teardown();
}

/// Polls `probe` every 250 ms until it returns a value; panics after [`LIMIT`].
fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            started.elapsed() < LIMIT,
            "timed out after {LIMIT:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn installer_pods(cluster: &Cluster) -> Value {
    let out = cluster
        .kubectl(&[
            "-n",
            OPERATOR_NAMESPACE,
            "get",
            "pods",
            "-l",
            "app.kubernetes.io/component=node-installer",
            "-o",
            "json",
        ])
        .unwrap_or_default();
    serde_json::from_str(&out).unwrap_or(Value::Null)
}

fn node_json(cluster: &Cluster) -> Value {
    serde_json::from_str(
        &cluster
            .kubectl(&["get", "node", NODE_NAME, "-o", "json"])
            .unwrap(),
    )
    .unwrap()
}

fn node_label(cluster: &Cluster) -> String {
    node_json(cluster)["metadata"]["labels"][SHIM_READY_LABEL]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn node_annotation(cluster: &Cluster) -> String {
    node_json(cluster)["metadata"]["annotations"]["spinkube.dev/shim-sha256"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The runtimes the node's containerd has loaded (`crictl info`).
fn runtimes(cluster: &Cluster) -> Vec<String> {
    let node = cluster.node();
    let info = node.as_ref().unwrap().containerd.crictl_ok(["info"]);
    let info: Value = serde_json::from_str(&info).unwrap();
    info["config"]["containerd"]["runtimes"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn backup_of(config: &Path) -> PathBuf {
    let mut name = config.as_os_str().to_owned();
    name.push(".spinkube-backup");
    PathBuf::from(name)
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// (name, IP) of the app's one ready pod.
fn serving_pod(cluster: &Cluster, ns: &str) -> (String, String) {
    eventually("the app's pod to be ready", || serving_pod_now(cluster, ns))
}

fn serving_pod_now(cluster: &Cluster, ns: &str) -> Option<(String, String)> {
    let out = cluster
        .kubectl(&[
            "-n",
            ns,
            "get",
            "pods",
            "-l",
            &format!("core.spinkube.dev/app-name={APP}"),
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.status.podIP} {.status.containerStatuses[0].ready} {.metadata.deletionTimestamp}{\"\\n\"}{end}",
        ])
        .ok()?;
    out.lines().find_map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        (f.len() >= 3 && f[2] == "true" && f.get(3).is_none_or(|d| d.is_empty()))
            .then(|| (f[0].to_string(), f[1].to_string()))
    })
}

/// The body of `GET http://IP/`, retried while the pod starts listening.
fn get(ip: &str) -> String {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .unwrap();
    let url = format!("http://{ip}/");
    eventually(&format!("GET {url}"), || {
        let resp = client.get(&url).send().ok()?;
        resp.status()
            .is_success()
            .then(|| resp.text().unwrap_or_default())
    })
}
