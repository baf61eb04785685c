//! The product end to end on a real one-node cluster ([`Cluster::shared`]): the chart installed
//! with the operator running as a pod from our image, SpinApps made by `spinkube scaffold` from
//! apps pushed with `spinkube push`, pods run by containerd with our shim, reached through their
//! Services (kube-proxy) from a client pod, from the node, and through `kubectl port-forward`.
//!
//! Each test works in its own namespace and deletes it at the end. Needs root, the node tools
//! (`make cluster-tools`) and the workspace binaries (`make e2e-cluster` builds all of it).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use spinkube_e2e::cluster::{bin_dir, repo_root, run_script};
use spinkube_e2e::Cluster;

const READY_LIMIT: Duration = Duration::from_secs(180);

const EXECUTOR: &str = "apiVersion: core.spinkube.dev/v1alpha1
kind: SpinAppExecutor
metadata:
  name: containerd-shim-spin
spec:
  createDeployment: true
  deploymentConfig:
    runtimeClassName: wasmtime-spin-v2
    installDefaultCACerts: true
";

fn cluster() -> &'static Cluster {
    Cluster::shared()
}

/// A namespace for one test, deleted when dropped.
struct Namespace(String);

impl Namespace {
    /// A fresh namespace with the `containerd-shim-spin` executor (executors are namespaced; the
    /// chart makes one in the namespaces its values list).
    fn new(prefix: &str) -> Namespace {
        let ns = Namespace(cluster().cp.create_namespace(prefix).expect("namespace"));
        ns.apply(EXECUTOR);
        ns
    }
    fn kubectl(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", &self.0];
        all.extend_from_slice(args);
        cluster()
            .kubectl(&all)
            .unwrap_or_else(|e| panic!("{e:#}\n{}", cluster().diagnostics(&self.0)))
    }
    fn apply(&self, yaml: &str) {
        cluster()
            .kubectl_stdin(&["-n", &self.0, "apply", "-f", "-"], yaml)
            .unwrap_or_else(|e| panic!("{e:#}"));
    }
    fn wait_for(&self, args: &[&str], want: &str, limit: Duration) {
        let mut all = vec!["-n", &self.0];
        all.extend_from_slice(args);
        cluster()
            .wait_for_output(&all, want, limit)
            .unwrap_or_else(|e| panic!("{e:#}\n{}", cluster().diagnostics(&self.0)));
    }
    fn wait_ready(&self, app: &str) {
        self.wait_for(
            &[
                "get",
                "spinapp",
                app,
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
            ],
            "True",
            READY_LIMIT,
        );
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = cluster().kubectl(&["delete", "namespace", &self.0, "--wait=false"]);
    }
}

/// `spinkube push` of an app dir to `repo:tag` in the cluster's registry; the image reference.
fn push(app: &str, repo_tag: &str) -> String {
    let image = cluster().image(repo_tag);
    let dir = repo_root().join(app);
    assert!(
        dir.join("app.wasm").is_file(),
        "{app}/app.wasm is missing: run `make examples` first"
    );
    let out = Command::new(bin_dir().unwrap().join("spinkube"))
        .args(["push", "-f"])
        .arg(&dir)
        .arg(&image)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "spinkube push: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    image
}

/// `spinkube scaffold ARGS`: the SpinApp manifest.
fn scaffold(args: &[&str]) -> String {
    let out = Command::new(bin_dir().unwrap().join("spinkube"))
        .arg("scaffold")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "spinkube scaffold: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A client image (Debian's static busybox) for requests from inside the cluster network.
fn client_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let image = cluster().image("busybox:e2e");
        run_script(
            "e2e/images/push-files-image.sh",
            &[&image, "/bin/busybox", "0:0", "/bin/busybox=/bin/busybox"],
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
        image
    })
}

/// `wget -qO- URL` from a pod on the cluster network; its output.
fn get_from_pod(ns: &Namespace, name: &str, url: &str) -> String {
    ns.kubectl(&[
        "run",
        name,
        "--image",
        client_image(),
        "--restart=Never",
        "--command",
        "--",
        "/bin/busybox",
        "wget",
        "-q",
        "-T",
        "10",
        "-O",
        "-",
        url,
    ]);
    ns.wait_for(
        &["get", "pod", name, "-o", "jsonpath={.status.phase}"],
        "Succeeded",
        Duration::from_secs(60),
    );
    ns.kubectl(&["logs", name])
}

fn cluster_ip(ns: &Namespace, service: &str) -> String {
    ns.kubectl(&["get", "svc", service, "-o", "jsonpath={.spec.clusterIP}"])
}

fn http_get(url: &str) -> (u16, String) {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .unwrap();
    let resp = client
        .get(url)
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    (resp.status().as_u16(), resp.text().unwrap_or_default())
}

/// Pod IPs of a SpinApp's ready pods.
fn pod_ips(ns: &Namespace, app: &str) -> Vec<String> {
    ns.kubectl(&[
        "get",
        "pods",
        "-l",
        &format!("core.spinkube.dev/app-name={app}"),
        "-o",
        "jsonpath={range .items[*]}{.status.podIP}{\"\\n\"}{end}",
    ])
    .lines()
    .filter(|l| !l.is_empty())
    .map(String::from)
    .collect()
}

#[test]
fn an_app_answers_through_its_service_from_a_pod_the_node_and_port_forward() {
    let started = Instant::now();
    let ns = Namespace::new("http");
    let image = push("examples/rust-http", "rust-http:v1");
    ns.apply(&scaffold(&["--from", &image]));
    ns.wait_ready("rust-http");
    let ip = cluster_ip(&ns, "rust-http");

    let body = get_from_pod(&ns, "client", &format!("http://{ip}/"));
    assert!(body.contains("Hello"), "from a pod: {body:?}");

    let (status, body) = http_get(&format!("http://{ip}/"));
    assert_eq!(status, 200, "from the node: {body}");

    // kubectl port-forward prints the local port it picked.
    let mut pf = cluster()
        .cp
        .kubectl()
        .args(["-n", &ns.0, "port-forward", "svc/rust-http", ":80"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(pf.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("port-forward printed {line:?}"));
    let (status, body) = http_get(&format!("http://127.0.0.1:{port}/"));
    let _ = pf.kill();
    let _ = pf.wait();
    assert_eq!(status, 200, "through port-forward: {body}");
    eprintln!("http test: {:.1?}", started.elapsed());
}

#[test]
fn scaling_gives_that_many_serving_pods_and_deleting_removes_everything() {
    let ns = Namespace::new("scale");
    let image = push("examples/rust-http", "rust-http:v1");
    ns.apply(&scaffold(&["--from", &image, "--replicas", "1"]));
    ns.wait_ready("rust-http");

    ns.kubectl(&["scale", "spinapp", "rust-http", "--replicas", "3"]);
    ns.wait_for(
        &[
            "get",
            "deployment",
            "rust-http",
            "-o",
            "jsonpath={.status.readyReplicas}",
        ],
        "3",
        READY_LIMIT,
    );
    let ips = pod_ips(&ns, "rust-http");
    assert_eq!(ips.len(), 3, "{ips:?}");
    for ip in &ips {
        let (status, _) = http_get(&format!("http://{ip}/"));
        assert_eq!(status, 200, "pod {ip}");
    }

    ns.kubectl(&["scale", "spinapp", "rust-http", "--replicas", "1"]);
    let left = pod_names_when_one(&ns);
    assert!(left.starts_with("rust-http-"), "{left}");

    ns.kubectl(&["delete", "spinapp", "rust-http"]);
    for what in [
        vec![
            "get",
            "deployment",
            "rust-http",
            "--ignore-not-found",
            "-o",
            "name",
        ],
        vec![
            "get",
            "service",
            "rust-http",
            "--ignore-not-found",
            "-o",
            "name",
        ],
        vec![
            "get",
            "pods",
            "-l",
            "core.spinkube.dev/app-name=rust-http",
            "-o",
            "name",
        ],
    ] {
        ns.wait_for(&what, "", READY_LIMIT);
    }
}

/// Waits until the app has one pod and returns its name.
fn pod_names_when_one(ns: &Namespace) -> String {
    let deadline = Instant::now() + READY_LIMIT;
    loop {
        let names = ns.kubectl(&[
            "get",
            "pods",
            "-l",
            "core.spinkube.dev/app-name=rust-http",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ]);
        let names: Vec<&str> = names.split_whitespace().collect();
        if names.len() == 1 {
            return names[0].to_string();
        }
        assert!(Instant::now() < deadline, "pods left: {names:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn variables_from_a_secret_reach_the_guest() {
    let ns = Namespace::new("vars");
    let image = push("e2e/apps/shim-probe", "shim-probe:v1");
    ns.kubectl(&[
        "create",
        "secret",
        "generic",
        "probe",
        "--from-literal=greeting=hello from a secret",
    ]);
    let app = format!(
        "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata:\n  name: probe\nspec:\n  \
         image: {image}\n  executor: containerd-shim-spin\n  replicas: 1\n  variables:\n    \
         - name: greeting\n      valueFrom:\n        secretKeyRef:\n          name: probe\n          key: greeting\n"
    );
    ns.apply(&app);
    ns.wait_ready("probe");
    let ip = cluster_ip(&ns, "probe");
    let (status, body) = http_get(&format!("http://{ip}/var"));
    assert_eq!((status, body.as_str()), (200, "hello from a secret"));
}

#[test]
fn a_missing_required_variable_is_the_spinapps_reason_and_event() {
    let ns = Namespace::new("novar");
    let image = push("e2e/apps/shim-probe", "shim-probe:v1");
    ns.apply(&scaffold(&["--from", &image]));
    // The runtime's own words, via the container's termination message.
    let deadline = Instant::now() + READY_LIMIT;
    let message = loop {
        let m = ns.kubectl(&[
            "get",
            "spinapp",
            "shim-probe",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].message}",
        ]);
        if m.contains("greeting") {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "Ready condition never named the variable; last: {m:?}\n{}",
            cluster().diagnostics(&ns.0)
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(message.contains("required"), "{message}");
    let events = ns.kubectl(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.kind=SpinApp,type=Warning",
        "-o",
        "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}",
    ]);
    assert!(events.contains("greeting"), "events: {events}");
}
