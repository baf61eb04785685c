//! The Helm chart installed into a real control plane (spinkube-testenv: etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler and a kwok node), with a real helm, over the whole life of a
//! release: install, operator start, webhooks, a scaffolded app, upgrade, app deletion, uninstall; and
//! the same objects as plain manifests (`kubectl apply -k config/default`, see the last test).
//!
//! There is no kubelet or container runtime here (kwok only fakes Pods), so "the operator runs in the
//! cluster" is emulated: after `helm install` the test reads the operator Deployment the chart created
//! back from the API server and starts the real `spin-operator` binary on the host with exactly that
//! container's args and env (`$(VAR)` references and downward-API env resolved as the kubelet would:
//! POD_NAMESPACE = the release namespace, POD_NAME = a made-up pod name), authenticated as the chart's
//! ServiceAccount (a TokenRequest token), so the chart's RBAC is what the operator gets. Only the bind
//! addresses are replaced (see [`OVERRIDDEN`]): the webhook listens on the ClusterIP of the chart's
//! webhook Service at the Service port (kube-apiserver dials `ClusterIP:port` itself, no kube-proxy;
//! testenv's service CIDR is loopback), metrics and health on free 127.0.0.1 ports. The test checks
//! that the replaced addresses are the ones the chart's Services and probes point at (named ports).
//!
//! One test runs the steps in order on its own control plane (about a minute):
//! 1. `helm install` with default values: CRDs, RuntimeClass, the default executor in `default`, the
//!    webhook configurations (no caBundle yet) and the empty certificate Secret exist;
//! 2. the operator starts from the Deployment, gets ready (the chart's readiness probe path), fills the
//!    Secret with a certificate for the webhook Service and patches every webhook's caBundle with its CA;
//! 3. the webhooks answer through the Service: an invalid SpinApp is denied with the operator's message,
//!    a SpinApp without executor gets `containerd-shim-spin`;
//! 4. `cli/tests/golden/scaffold/plain.yml` (byte-exact `spin kube scaffold` output) applied as is in
//!    `default` is reconciled: Deployment, Service; its pods wait for a node the node installer
//!    labelled and its Ready condition says so; once the fake node is labelled, Ready pods (kwok)
//!    and SpinApp Ready=True;
//! 5. `helm upgrade --set replicaCount=2 --set logging.format=json`: the rendered args gain
//!    `--leader-elect` and `--log-format=json`; caBundle and certificate survive the upgrade and the
//!    webhooks keep answering; the operator restarted with the new args takes the Lease (chart Role)
//!    and reconciles;
//! 6. the SpinApps are deleted (garbage collection removes their children), then `helm uninstall`
//!    runs while the operator still runs: no object of the release remains in any namespace except
//!    the CRDs (helm never deletes crds/, by design) and what the operator made outside the chart
//!    (the leader Lease, the `spin-ca` Secret: reported, not failed on).
//!
//! Throughout, the operator log must not show any 403 / forbidden (the chart's RBAC must be enough).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, repo_root, wait_for, Kube, WAIT};
use k8s_openapi::api::core::v1::Secret;
use serde_json::Value;
use spinkube_operator::webhook::cert_manager::bundle_from_secret;
use spinkube_operator::webhook::certs;
use spinkube_testenv::{ControlPlane, Options};

const RELEASE: &str = "spin-operator";
const RELEASE_NS: &str = "spinkube";
const INSTANCE: &str = "app.kubernetes.io/instance=spin-operator";
const APP_NS: &str = "default";
const EXECUTOR: &str = "containerd-shim-spin";

/// The container args the test replaces, and why; every other arg is used as rendered.
/// - `--webhook-bind-address`: the rendered `0.0.0.0:9443` is the pod's port behind the Service; on the
///   host the operator listens where kube-apiserver dials the Service, `<ClusterIP>:443`.
/// - `--metrics-bind-address`, `--health-probe-bind-address`: the rendered `0.0.0.0:8080` / `:8081`
///   could collide with parallel tests; free 127.0.0.1 ports instead.
///
/// `--kubeconfig` (the ServiceAccount's token) is added: in a pod, the in-cluster config does that.
const OVERRIDDEN: [&str; 3] = [
    "--webhook-bind-address",
    "--metrics-bind-address",
    "--health-probe-bind-address",
];

// ---------- helm ----------

/// Runs helm against `cp` with its config, cache and data dirs inside the control plane's temp dir.
fn helm(cp: &ControlPlane, args: &[&str]) -> Result<String, String> {
    let home = cp.dir().join("helm");
    let out = Command::new(spinkube_testenv::helm().expect("helm"))
        .args(args)
        .arg("--kubeconfig")
        .arg(cp.kubeconfig())
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .expect("run helm");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

fn chart() -> String {
    repo_root()
        .join("charts/spin-operator")
        .display()
        .to_string()
}

// ---------- reading the cluster ----------

fn list(cp: &ControlPlane, args: &[&str]) -> Vec<Value> {
    try_list(cp, args).unwrap_or_else(|e| panic!("kubectl get {args:?}: {e}"))
}

fn try_list(cp: &ControlPlane, args: &[&str]) -> Result<Vec<Value>, String> {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    let v: Value = serde_json::from_str(&cp.run(&all)?).map_err(|e| e.to_string())?;
    Ok(v["items"].as_array().cloned().unwrap_or_default())
}

/// The one object of `kind` in namespace `ns` with the release's instance label and `component`.
fn release_object(cp: &ControlPlane, ns: &str, kind: &str, component: &str) -> Value {
    let sel = format!("{INSTANCE},app.kubernetes.io/component={component}");
    let items = list(cp, &["-n", ns, kind, "-l", &sel]);
    assert_eq!(items.len(), 1, "one {kind} with {sel}: {items:#?}");
    items[0].clone()
}

fn name_of(obj: &Value) -> String {
    obj["metadata"]["name"]
        .as_str()
        .expect("metadata.name")
        .to_string()
}

/// `--name=value` (or `--name value`) from an argument list.
fn flag(args: &[String], name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    args.iter().enumerate().find_map(|(i, a)| {
        if let Some(v) = a.strip_prefix(&prefix) {
            Some(v.to_string())
        } else if a == name {
            args.get(i + 1).cloned()
        } else {
            None
        }
    })
}

/// Kubernetes' `$(VAR)` expansion of container args and env values: `$$` is a literal `$`, a
/// reference to an unknown variable stays as written.
fn expand(s: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        if let Some(t) = tail.strip_prefix('$') {
            out.push('$');
            rest = t;
        } else if let Some(end) = tail.strip_prefix('(').and_then(|t| t.find(')')) {
            let name = &tail[1..=end];
            match vars.get(name) {
                Some(v) => out.push_str(v),
                None => out.push_str(&rest[i..i + 3 + end]),
            }
            rest = &tail[end + 2..];
        } else {
            out.push('$');
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// The container port named `name`.
fn container_port(container: &Value, name: &str) -> u16 {
    container["ports"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .and_then(|p| p["containerPort"].as_u64())
        .unwrap_or_else(|| panic!("container port {name:?} in {}", container["ports"])) as u16
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {addr:?}"))
}

/// How the chart runs the operator, read back from its Deployment.
struct Rendered {
    /// Where the Deployment is (the pod's namespace).
    namespace: String,
    deployment: Value,
    service_account: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    readiness_path: String,
    liveness_path: String,
}

fn rendered_operator(cp: &ControlPlane, namespace: &str, pod_name: &str) -> Rendered {
    let deployment = release_object(cp, namespace, "deployment", "operator");
    let pod = &deployment["spec"]["template"]["spec"];
    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1, "one container: {containers:#?}");
    let c = &containers[0];
    // The image's entrypoint is the binary; the chart sets no command.
    assert!(c["command"].is_null(), "command: {}", c["command"]);
    let service_account = pod["serviceAccountName"]
        .as_str()
        .expect("serviceAccountName")
        .to_string();

    let mut vars = BTreeMap::new();
    let mut env = Vec::new();
    for e in c["env"].as_array().cloned().unwrap_or_default() {
        let name = e["name"].as_str().expect("env name").to_string();
        let value = if let Some(v) = e["value"].as_str() {
            expand(v, &vars)
        } else if let Some(path) = e.pointer("/valueFrom/fieldRef/fieldPath") {
            match path.as_str() {
                Some("metadata.namespace") => namespace.to_string(),
                Some("metadata.name") => pod_name.to_string(),
                other => panic!("env {name}: downward API field {other:?} not emulated"),
            }
        } else if e["valueFrom"].is_null() {
            String::new()
        } else {
            panic!("env {name}: {} not emulated", e["valueFrom"]);
        };
        vars.insert(name.clone(), value.clone());
        env.push((name, value));
    }
    let args: Vec<String> = c["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| expand(a.as_str().expect("string arg"), &vars))
        .collect();
    assert!(
        args.iter().all(|a| !a.contains("$(")),
        "unresolved references in {args:?}"
    );

    // What the Services and probes reach must be what the rendered flags bind, since the host run
    // replaces those addresses: health probes -> "health", metrics Service -> "metrics", webhook
    // Service -> "webhook".
    let probe = |p: &str| {
        let get = &c[p]["httpGet"];
        let port = get["port"].as_str().expect("probe port by name");
        assert_eq!(
            container_port(c, port),
            port_of(&flag(&args, "--health-probe-bind-address").expect("health flag")),
            "{p} port"
        );
        get["path"].as_str().expect("probe path").to_string()
    };
    let (readiness_path, liveness_path) = (probe("readinessProbe"), probe("livenessProbe"));
    assert_eq!(
        container_port(c, "metrics"),
        port_of(&flag(&args, "--metrics-bind-address").expect("metrics flag"))
    );
    match flag(&args, "--webhook-bind-address") {
        Some(addr) => assert_eq!(container_port(c, "webhook"), port_of(&addr)),
        None => assert!(
            args.contains(&"--disable-webhooks".to_string()),
            "no webhook address, yet webhooks on: {args:?}"
        ),
    }
    Rendered {
        namespace: namespace.to_string(),
        deployment,
        service_account,
        args,
        env,
        readiness_path,
        liveness_path,
    }
}

/// `<ClusterIP>:<port>` of a Service port (by name), after checking it targets `target_port_name`
/// and selects the operator's pods.
fn service_address(svc: &Value, port_name: &str, target: &str, pod_labels: &Value) -> String {
    let port = svc["spec"]["ports"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == port_name))
        .unwrap_or_else(|| panic!("port {port_name} in {}", svc["spec"]));
    assert_eq!(port["targetPort"], target, "{}", svc["spec"]);
    for (k, v) in svc["spec"]["selector"].as_object().expect("selector") {
        assert_eq!(&pod_labels[k], v, "Service selects the operator pods");
    }
    format!(
        "{}:{}",
        svc["spec"]["clusterIP"].as_str().expect("clusterIP"),
        port["port"]
    )
}

// ---------- the operator on the host ----------

struct HostOperator {
    child: Child,
    args: Vec<String>,
    health_port: u16,
    log: PathBuf,
}

impl HostOperator {
    /// Starts `spin-operator` as the Deployment's container would run, waits for the readiness probe.
    fn start(cp: &ControlPlane, r: &Rendered, webhook_addr: &str, run: u32) -> HostOperator {
        let (metrics_port, health_port) = (free_port(), free_port());
        let replacement = |name: &str| match name {
            "--webhook-bind-address" => webhook_addr.to_string(),
            "--metrics-bind-address" => format!("127.0.0.1:{metrics_port}"),
            "--health-probe-bind-address" => format!("127.0.0.1:{health_port}"),
            _ => unreachable!(),
        };
        let mut args = Vec::new();
        for a in &r.args {
            match OVERRIDDEN
                .iter()
                .find(|f| a.strip_prefix(*f).is_some_and(|v| v.starts_with('=')))
            {
                Some(f) => args.push(format!("{f}={}", replacement(f))),
                None => args.push(a.clone()),
            }
        }
        for f in OVERRIDDEN {
            let times = r
                .args
                .iter()
                .filter(|a| a.starts_with(&format!("{f}=")))
                .count();
            // Without webhooks there is no webhook address to replace.
            let want = usize::from(f != "--webhook-bind-address" || !webhook_addr.is_empty());
            assert_eq!(
                times, want,
                "the chart passes {f}=... {want} time(s): {:?}",
                r.args
            );
        }
        let kubeconfig = cp
            .service_account_kubeconfig(&r.namespace, &r.service_account)
            .expect("ServiceAccount kubeconfig");
        args.push(format!("--kubeconfig={}", kubeconfig.display()));

        let log = cp.logs_dir().join(format!("spin-operator-{run}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_spin-operator"));
        // Only the container's env, as in the pod.
        cmd.env_clear()
            .envs(r.env.iter().map(|(k, v)| (k, v)))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file);
        let child = spinkube_testenv::spawn_tied(cmd).expect("start spin-operator");
        let op = HostOperator {
            child,
            args,
            health_port,
            log,
        };
        wait_for("operator readiness probe", WAIT, || {
            match op.get(&r.readiness_path) {
                Ok(200) => Ok(()),
                other => Err(format!("{other:?}; log:\n{}", op.log_tail())),
            }
        });
        assert_eq!(op.get(&r.liveness_path), Ok(200), "liveness probe");
        op
    }

    fn get(&self, path: &str) -> Result<u16, String> {
        reqwest::blocking::get(format!("http://127.0.0.1:{}{path}", self.health_port))
            .map(|r| r.status().as_u16())
            .map_err(|e| e.to_string())
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let s = self.log_text();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// SIGTERM, then wait for the exit (killing it after 40 s).
    fn stop(&mut self) -> std::process::ExitStatus {
        // SAFETY: signalling our own child by pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if start.elapsed() > Duration::from_secs(40) {
                let _ = self.child.kill();
                panic!("operator ignored SIGTERM for 40 s:\n{}", self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for HostOperator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lines of an operator log that show an authorization failure (403 / forbidden).
fn forbidden_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| {
            let lower = l.to_ascii_lowercase();
            lower.contains("forbidden") || has_token(l, "403")
        })
        .map(str::to_string)
        .collect()
}

/// `word` surrounded by characters that cannot be part of a number (so "12.403Z" does not count).
fn has_token(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + word.len()..].chars().next();
        let part = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.');
        !part(before) && !part(after)
    })
}

fn assert_no_forbidden(log: &str) {
    let bad = forbidden_lines(log);
    assert!(
        bad.is_empty(),
        "the operator was refused by the API server (chart RBAC too narrow?):\n{}",
        bad.join("\n")
    );
}

// ---------- webhooks and certificate ----------

/// The release's webhook configurations (mutating, validating), checked against the operator flags.
fn webhook_configurations(cp: &ControlPlane, args: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for (kind, flag_name) in [
        (
            "mutatingwebhookconfigurations",
            "--mutating-webhook-configuration",
        ),
        (
            "validatingwebhookconfigurations",
            "--validating-webhook-configuration",
        ),
    ] {
        let items = list(cp, &[kind, "-l", INSTANCE]);
        assert_eq!(items.len(), 1, "one {kind} in the release: {items:#?}");
        assert_eq!(
            Some(name_of(&items[0])),
            flag(args, flag_name),
            "{flag_name}"
        );
        out.push(items[0].clone());
    }
    out
}

/// caBundle of every webhook of both configurations (None where unset).
fn ca_bundles(cp: &ControlPlane, args: &[String]) -> Vec<(String, Option<String>)> {
    webhook_configurations(cp, args)
        .iter()
        .flat_map(|cfg| {
            cfg["webhooks"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|h| {
                    (
                        h["name"].as_str().unwrap_or_default().to_string(),
                        h.pointer("/clientConfig/caBundle")
                            .and_then(|v| v.as_str())
                            .map(str::to_string),
                    )
                })
        })
        .collect()
}

/// The certificate Secret as the operator left it: (ca.crt base64, serving certificate serial).
fn stored_certificate(cp: &ControlPlane, r: &Rendered) -> Result<(String, String), String> {
    let (ns, args) = (r.namespace.as_str(), &r.args);
    let name = flag(args, "--webhook-cert-secret").expect("--webhook-cert-secret");
    let json = cp.get(ns, "secret", &name)?;
    let ca_b64 = json["data"]["ca.crt"]
        .as_str()
        .ok_or_else(|| format!("no ca.crt yet in {}", json["data"]))?
        .to_string();
    let secret: Secret = serde_json::from_value(json).map_err(|e| e.to_string())?;
    let info = certs::inspect(&bundle_from_secret(&secret)).map_err(|e| e.to_string())?;
    let service = flag(args, "--webhook-service-name").expect("--webhook-service-name");
    let want = format!("{service}.{ns}.svc");
    if !info.sans.contains(&want) {
        return Err(format!("certificate names {:?} lack {want}", info.sans));
    }
    Ok((ca_b64, info.serial_hex))
}

/// Waits until the Secret holds a certificate and every webhook's caBundle is its CA.
fn wait_certificate_and_ca_bundles(cp: &ControlPlane, r: &Rendered) -> (String, String) {
    wait_for("webhook certificate and caBundles", WAIT, || {
        let (ca, serial) = stored_certificate(cp, r)?;
        let bundles = ca_bundles(cp, &r.args);
        if bundles.len() == 3 && bundles.iter().all(|(_, b)| b.as_deref() == Some(&ca)) {
            Ok((ca, serial))
        } else {
            Err(format!("caBundles {bundles:?}"))
        }
    })
}

fn spinapp(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata:\n  name: {name}\nspec:\n  image: ghcr.io/x/app:v1\n{spec}"
    )
}

/// The validating webhook denies an invalid SpinApp with the operator's message; the mutating one
/// defaults the executor (server-side dry run: admission runs, nothing is stored).
fn assert_webhooks_answer(cp: &ControlPlane) {
    let err = cp
        .apply(
            APP_NS,
            &spinapp(
                "invalid",
                "  executor: containerd-shim-spin\n  replicas: 2\n  enableAutoscaling: true\n",
            ),
        )
        .expect_err("replicas with enableAutoscaling must be denied");
    assert!(
        err.contains("admission webhook \"vspinapp.core.spinkube.dev\" denied the request")
            && err.contains("replicas (2) cannot be set when spec.enableAutoscaling is true"),
        "{err}"
    );
    let out = cp
        .cp()
        .kubectl_stdin(
            &[
                "-n",
                APP_NS,
                "create",
                "--dry-run=server",
                "-o",
                "json",
                "-f",
                "-",
            ],
            &spinapp("dry-run", "  replicas: 1\n"),
        )
        .expect("dry-run create");
    let app: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(app["spec"]["executor"], EXECUTOR, "{app}");
    // The executor webhook (for executors other than the chart's own).
    let err = cp
        .apply(
            APP_NS,
            "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinAppExecutor\nmetadata:\n  name: both\nspec:\n  createDeployment: true\n  deploymentConfig:\n    runtimeClassName: a\n    spinImage: b\n",
        )
        .expect_err("invalid executor must be denied");
    assert!(
        err.contains("admission webhook \"vspinappexecutor.core.spinkube.dev\" denied the request")
            && err.contains("mutually exclusive"),
        "{err}"
    );
}

fn ready_condition(app: &Value) -> Option<String> {
    app["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
        .and_then(|c| c["status"].as_str())
        .map(str::to_string)
}

fn wait_app_ready(cp: &ControlPlane, name: &str, replicas: u64) {
    wait_for(&format!("SpinApp {name} Ready"), WAIT, || {
        let app = cp.get(APP_NS, "spinapp", name)?;
        let ready = app["status"]["readyReplicas"].as_u64();
        if ready_condition(&app).as_deref() == Some("True") && ready == Some(replicas) {
            Ok(())
        } else {
            Err(app["status"].to_string())
        }
    });
}

/// The RuntimeClass sends Spin pods only to nodes the node installer labelled, and kwok runs no
/// installer: waits until the app's Ready condition names the missing label, then labels the fake
/// node as the installer would.
fn ready_the_node_after_the_app_says_why(cp: &ControlPlane, name: &str) {
    wait_for(
        &format!("SpinApp {name} to name the node label"),
        WAIT,
        || {
            let app = cp.get(APP_NS, "spinapp", name)?;
            let text = app["status"]["conditions"].to_string();
            if text.contains("cannot be scheduled") && text.contains("spinkube.dev/shim=ready") {
                Ok(())
            } else {
                Err(text)
            }
        },
    );
    cp.run(&[
        "label",
        "node",
        spinkube_testenv::KWOK_NODE,
        "spinkube.dev/shim=ready",
    ])
    .expect("label the kwok node");
}

/// Deletes every SpinApp in the apps' namespace and waits until they are gone.
fn delete_all_apps(cp: &ControlPlane) {
    cp.run(&[
        "-n",
        APP_NS,
        "delete",
        "spinapps",
        "--all",
        "--wait=true",
        "--timeout=60s",
    ])
    .expect("delete SpinApps");
}

/// Once no SpinApp uses it, the default executor loses its finalizer (so an uninstall can delete it).
fn wait_executor_unfinalized(cp: &ControlPlane) {
    wait_for("finalizer removed from the unused executor", WAIT, || {
        let ex = cp.get(APP_NS, "spinappexecutor", EXECUTOR)?;
        if ex["metadata"]["finalizers"].is_null() {
            Ok(())
        } else {
            Err(ex["metadata"]["finalizers"].to_string())
        }
    });
}

// ---------- leftovers ----------

/// Every object (in every namespace, of every listable type but events) that carries the release's
/// instance label or whose name mentions the release; `kind/namespace/name`.
fn release_leftovers(cp: &ControlPlane) -> Vec<String> {
    // A type can go away between discovery and the list (CRDs being deleted): look again.
    let mut last = String::new();
    for _ in 0..5 {
        let types = cp
            .run(&["api-resources", "--verbs=list", "-o", "name"])
            .expect("api-resources");
        let types: Vec<&str> = types
            .lines()
            .filter(|t| !t.is_empty() && !t.starts_with("events"))
            .collect();
        match try_list(cp, &[&types.join(","), "-A"]) {
            Ok(items) => return leftovers_among(items),
            Err(e) => last = e,
        }
    }
    panic!("listing every type failed 5 times: {last}")
}

fn leftovers_among(items: Vec<Value>) -> Vec<String> {
    let mut out = Vec::new();
    for item in items {
        let labelled = item["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE;
        let name = name_of(&item);
        if labelled || name.contains(RELEASE) {
            out.push(format!(
                "{}/{}/{}{}",
                item["kind"].as_str().unwrap_or_default(),
                item["metadata"]["namespace"].as_str().unwrap_or_default(),
                name,
                match item["metadata"]["finalizers"].as_array() {
                    Some(f) if !f.is_empty() => format!(
                        " (deleting: {}, finalizers {f:?})",
                        !item["metadata"]["deletionTimestamp"].is_null()
                    ),
                    _ => String::new(),
                }
            ));
        }
    }
    out.sort();
    out
}

// ---------- the test ----------

/// The whole life of a release, as `charts/spin-operator/README.md` tells users to run it.
#[test]
fn helm_install_upgrade_uninstall_leaves_nothing_behind() {
    let started = Instant::now();
    let cp = ControlPlane::start(Options {
        kwok: true,
        ..Options::default()
    })
    .expect("control plane");
    let cp = &cp;
    let step = |what: &str| eprintln!("[{:>5.1?}] {what}", started.elapsed());

    // 1. helm install with default values (kwok pulls no image, so the default image is fine).
    step("helm install");
    let out = helm(
        cp,
        &[
            "install",
            RELEASE,
            &chart(),
            "-n",
            RELEASE_NS,
            "--create-namespace",
            "--wait=false",
        ],
    )
    .unwrap_or_else(|e| panic!("helm install failed:\n{e}"));
    assert!(out.contains("STATUS: deployed"), "{out}");
    for crd in [
        "spinapps.core.spinkube.dev",
        "spinappexecutors.core.spinkube.dev",
    ] {
        let c = cp.get("", "crd", crd).expect("CRD installed from crds/");
        let established = c["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        });
        assert!(established, "{crd} established");
    }
    // kube-controller-manager learns new types for garbage collection only every 30 s; restart it
    // so the SpinApps' children are collected at once in step 6 (what a long-running cluster has).
    cp.restart_controller_manager()
        .expect("restart kube-controller-manager");
    let rc = cp
        .get("", "runtimeclass", "wasmtime-spin-v2")
        .expect("RuntimeClass");
    assert_eq!(rc["handler"], "spin");
    assert_eq!(
        rc["metadata"]["labels"]["app.kubernetes.io/instance"],
        RELEASE
    );
    let executor = cp
        .get(APP_NS, "spinappexecutor", EXECUTOR)
        .expect("default executor in default");
    assert_eq!(
        executor["spec"]["deploymentConfig"]["runtimeClassName"],
        "wasmtime-spin-v2"
    );

    let pod_name = "spin-operator-7d9f8b6c5d-host1";
    let rendered = rendered_operator(cp, RELEASE_NS, pod_name);
    let bundles = ca_bundles(cp, &rendered.args);
    assert_eq!(bundles.len(), 3, "{bundles:?}");
    assert!(
        bundles.iter().all(|(_, b)| b.is_none()),
        "the chart ships no caBundle: {bundles:?}"
    );
    let secret_name = flag(&rendered.args, "--webhook-cert-secret").expect("cert secret flag");
    let secret = release_object(cp, RELEASE_NS, "secret", "webhook");
    assert_eq!(name_of(&secret), secret_name);
    assert!(
        secret["data"].as_object().is_none_or(|d| d.is_empty()),
        "placeholder Secret is empty: {}",
        secret["data"]
    );
    let pod_labels = rendered.deployment["spec"]["template"]["metadata"]["labels"].clone();
    let webhook_svc = release_object(cp, RELEASE_NS, "service", "webhook");
    assert_eq!(
        Some(name_of(&webhook_svc)),
        flag(&rendered.args, "--webhook-service-name")
    );
    let webhook_addr = service_address(&webhook_svc, "https", "webhook", &pod_labels);
    service_address(
        &release_object(cp, RELEASE_NS, "service", "metrics"),
        "metrics",
        "metrics",
        &pod_labels,
    );
    assert_eq!(
        rendered.args,
        [
            format!("--namespace={RELEASE_NS}"),
            "--metrics-bind-address=0.0.0.0:8080".into(),
            "--health-probe-bind-address=0.0.0.0:8081".into(),
            "--webhook-bind-address=0.0.0.0:9443".into(),
            "--webhook-service-name=spin-operator-webhook".into(),
            "--webhook-cert-secret=spin-operator-webhook-cert".into(),
            "--mutating-webhook-configuration=spin-operator-mutating-webhook-configuration".into(),
            "--validating-webhook-configuration=spin-operator-validating-webhook-configuration"
                .into(),
            "--log-format=text".into(),
        ],
        "default values, $(POD_NAMESPACE) resolved"
    );

    // 2. The operator, run as the Deployment says, as the chart's ServiceAccount.
    step("start operator");
    let mut op = HostOperator::start(cp, &rendered, &webhook_addr, 1);
    eprintln!("operator args: {:?}", op.args);
    let (ca, serial) = wait_certificate_and_ca_bundles(cp, &rendered);

    // 3. Webhooks through the Service; a SpinApp without executor is defaulted and kept.
    step("webhooks");
    assert_webhooks_answer(cp);
    cp.apply(APP_NS, &spinapp("defaulted", "  replicas: 1\n"))
        .expect("SpinApp without executor");
    assert_eq!(
        cp.get(APP_NS, "spinapp", "defaulted").expect("app")["spec"]["executor"],
        EXECUTOR
    );

    // 4. `spin kube scaffold` output as is.
    step("scaffolded app");
    let scaffold = std::fs::read_to_string(repo_root().join("cli/tests/golden/scaffold/plain.yml"))
        .expect("plain.yml");
    cp.apply(APP_NS, &scaffold).expect("scaffolded SpinApp");
    let dep = wait_for("Deployment example-app", WAIT, || {
        cp.get(APP_NS, "deployment", "example-app")
    });
    assert_eq!(
        dep["spec"]["template"]["spec"]["runtimeClassName"],
        "wasmtime-spin-v2"
    );
    assert_eq!(
        dep["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/foo/example-app:v0.1.0"
    );
    let svc = wait_for("Service example-app", WAIT, || {
        cp.get(APP_NS, "service", "example-app")
    });
    assert_eq!(svc["spec"]["ports"][0]["port"], 80);
    ready_the_node_after_the_app_says_why(cp, "example-app");
    wait_app_ready(cp, "example-app", 2);
    wait_app_ready(cp, "defaulted", 1);
    let pods = list(
        cp,
        &[
            "-n",
            APP_NS,
            "pods",
            "-l",
            "core.spinkube.dev/app-name=example-app",
        ],
    );
    assert_eq!(pods.len(), 2);
    assert!(pods
        .iter()
        .all(|p| p["status"]["conditions"].as_array().is_some_and(|cs| cs
            .iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True"))));
    let ex = cp
        .get(APP_NS, "spinappexecutor", EXECUTOR)
        .expect("executor");
    assert_eq!(
        ex["metadata"]["finalizers"],
        serde_json::json!(["core.spinkube.dev/finalizer"]),
        "the operator guards the executor"
    );
    assert_no_forbidden(&op.log_text());

    // 5. helm upgrade with changed values.
    step("helm upgrade");
    let out = helm(
        cp,
        &[
            "upgrade",
            RELEASE,
            &chart(),
            "-n",
            RELEASE_NS,
            "--set",
            "replicaCount=2",
            "--set",
            "logging.format=json",
            "--wait=false",
        ],
    )
    .unwrap_or_else(|e| panic!("helm upgrade failed:\n{e}"));
    assert!(
        out.contains("STATUS: deployed") && out.contains("REVISION: 2"),
        "{out}"
    );
    let upgraded = rendered_operator(cp, RELEASE_NS, pod_name);
    assert_eq!(upgraded.deployment["spec"]["replicas"], 2);
    let mut want = rendered.args.clone();
    want.retain(|a| a != "--log-format=text");
    want.extend([
        "--leader-elect".to_string(),
        "--leader-election-id=spin-operator-leader".to_string(),
        "--log-format=json".to_string(),
    ]);
    assert_eq!(upgraded.args, want, "args after the upgrade");
    // The upgrade kept what the operator wrote, before any operator could re-patch it.
    let bundles = ca_bundles(cp, &upgraded.args);
    assert!(
        bundles.len() == 3 && bundles.iter().all(|(_, b)| b.as_deref() == Some(&ca)),
        "caBundle after helm upgrade: {bundles:?}"
    );
    assert_eq!(
        stored_certificate(cp, &upgraded).expect("certificate after upgrade"),
        (ca.clone(), serial.clone()),
        "helm upgrade kept the certificate Secret"
    );
    assert_webhooks_answer(cp);
    // Restart with the new args (as the rollout would).
    step("restart operator with upgraded args");
    assert!(op.stop().success(), "clean exit on SIGTERM");
    assert_no_forbidden(&op.log_text());
    drop(op);
    let mut op = HostOperator::start(cp, &upgraded, &webhook_addr, 2);
    eprintln!("operator args: {:?}", op.args);
    assert!(
        op.args.contains(&"--leader-elect".to_string()),
        "{:?}",
        op.args
    );
    let lease = wait_for("leader Lease held by the operator", WAIT, || {
        let l = cp.get(RELEASE_NS, "lease", "spin-operator-leader")?;
        if l["spec"]["holderIdentity"] == pod_name {
            Ok(l)
        } else {
            Err(l["spec"].to_string())
        }
    });
    assert!(lease["metadata"]["labels"].is_null() || lease["metadata"]["labels"].is_object());
    assert_eq!(
        wait_certificate_and_ca_bundles(cp, &upgraded),
        (ca.clone(), serial.clone()),
        "the restarted operator keeps the stored certificate"
    );
    assert_webhooks_answer(cp);
    // The leader reconciles: scale the scaffolded app.
    cp.run(&[
        "-n",
        APP_NS,
        "patch",
        "spinapp",
        "example-app",
        "--type=merge",
        "-p",
        r#"{"spec":{"replicas":3}}"#,
    ])
    .expect("scale");
    wait_app_ready(cp, "example-app", 3);
    assert!(
        op.log_text().lines().any(|l| l.starts_with('{')),
        "--log-format=json is in effect"
    );

    // 6. Delete the apps, then uninstall with the operator running.
    step("delete SpinApps");
    delete_all_apps(cp);
    wait_for("SpinApp children garbage-collected", WAIT, || {
        let left: Vec<String> = list(
            cp,
            &[
                "-n",
                APP_NS,
                "deployments,replicasets,pods,services,secrets",
                "-l",
                "core.spinkube.dev/app-name",
            ],
        )
        .iter()
        .map(name_of)
        .collect();
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("{left:?}"))
        }
    });
    // Unused now, the executor carries no finalizer: `helm uninstall` can delete it after the
    // operator and its RBAC are gone.
    wait_executor_unfinalized(cp);
    assert_no_forbidden(&op.log_text());
    let log_before_uninstall = op.log_text().len();

    step("helm uninstall");
    let out = helm(cp, &["uninstall", RELEASE, "-n", RELEASE_NS])
        .unwrap_or_else(|e| panic!("helm uninstall failed:\n{e}"));
    assert!(out.contains("uninstalled"), "{out}");
    // The leader Lease is the operator's (made at run time, unlabelled): helm does not know it.
    let expected = ["Lease/spinkube/spin-operator-leader".to_string()];
    let gone = wait_for_opt(Duration::from_secs(30), || {
        (release_leftovers(cp) == expected).then_some(())
    });
    let left = release_leftovers(cp);
    let after_uninstall = op.log_text()[log_before_uninstall..].to_string();
    assert!(
        gone.is_some(),
        "helm uninstall left release objects behind (besides {expected:?}):\n{}\n\
         operator log after the uninstall:\n{}",
        left.join("\n"),
        after_uninstall
    );
    assert!(
        helm(cp, &["list", "-A", "-a", "-q"])
            .expect("helm list")
            .trim()
            .is_empty(),
        "no release (nor its history Secrets) left"
    );
    // Helm never deletes CRDs from crds/ (by design): they, and so the API, stay.
    for crd in [
        "spinapps.core.spinkube.dev",
        "spinappexecutors.core.spinkube.dev",
    ] {
        assert!(cp.exists("", "crd", crd), "{crd} kept by helm");
    }
    // Also kept, by design: the namespace (helm never deletes --create-namespace namespaces) and the
    // default CA Secret the operator made for the apps in `default` (shared, unowned).
    assert!(cp.exists("", "namespace", RELEASE_NS));
    let spin_ca = cp.get(APP_NS, "secret", "spin-ca").ok();
    eprintln!(
        "kept after helm uninstall: CRDs, namespace {RELEASE_NS}, {left:?}, default/spin-ca: {}",
        spin_ca.is_some()
    );
    op.stop();
    // Up to the uninstall the chart's RBAC was all the operator needed; after it, its ServiceAccount
    // and RBAC are gone, and refusals are expected (counted, not failed on).
    assert_no_forbidden(&op.log_text()[..log_before_uninstall]);
    eprintln!(
        "operator log lines after the uninstall (RBAC and ServiceAccount gone): {}",
        after_uninstall.lines().count()
    );
    step("done");
}

/// Polls `f` until it returns Some or `timeout` passes.
fn wait_for_opt<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn container_args_expand_like_the_kubelet() {
    let vars = BTreeMap::from([("A".to_string(), "x".to_string())]);
    assert_eq!(expand("--n=$(A)", &vars), "--n=x");
    assert_eq!(expand("$(A)$(B)$$(A)$", &vars), "x$(B)$(A)$");
    assert_eq!(expand("$(unclosed", &vars), "$(unclosed");
    assert!(has_token("code: 403, reason", "403"));
    assert!(!has_token("12:00:01.403Z 4030", "403"));
}

/// `ci/minimal-values.yaml` on a real control plane: webhooks, the default executor and the
/// RuntimeClass off, an existing ServiceAccount (made first, as its owner would), leader election on
/// a fixed Lease. The operator runs as that ServiceAccount with the chart's RBAC, reconciles an app
/// on an executor the user made, and `helm uninstall` leaves nothing of the release.
#[test]
fn helm_install_with_everything_optional_off() {
    let cp = ControlPlane::start(Options {
        kwok: true,
        ..Options::default()
    })
    .expect("control plane");
    let cp = &cp;
    cp.run(&["create", "namespace", RELEASE_NS])
        .expect("namespace");
    cp.run(&[
        "-n",
        RELEASE_NS,
        "create",
        "serviceaccount",
        "existing-operator-sa",
    ])
    .expect("the existing ServiceAccount");
    let values = format!("{}/ci/minimal-values.yaml", chart());
    let out = helm(
        cp,
        &[
            "install",
            RELEASE,
            &chart(),
            "-n",
            RELEASE_NS,
            "-f",
            &values,
            "--wait=false",
        ],
    )
    .unwrap_or_else(|e| panic!("helm install failed:\n{e}"));
    assert!(out.contains("STATUS: deployed"), "{out}");
    cp.restart_controller_manager()
        .expect("restart kube-controller-manager");
    for kind in [
        "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations",
        "runtimeclasses",
        "spinappexecutors",
    ] {
        assert!(
            list(cp, &[kind, "-A", "-l", INSTANCE]).is_empty(),
            "no {kind}"
        );
    }

    let pod_name = "spinkube-5c8d7f9b4-host1";
    let rendered = rendered_operator(cp, RELEASE_NS, pod_name);
    assert_eq!(rendered.service_account, "existing-operator-sa");
    assert!(
        rendered.args.contains(&"--disable-webhooks".to_string())
            && rendered
                .args
                .contains(&"--leader-election-id=spinkube-lock".to_string()),
        "{:?}",
        rendered.args
    );
    let mut op = HostOperator::start(cp, &rendered, "", 1);
    wait_for("leader Lease spinkube-lock held", WAIT, || {
        let l = cp.get(RELEASE_NS, "lease", "spinkube-lock")?;
        if l["spec"]["holderIdentity"] == pod_name {
            Ok(())
        } else {
            Err(l["spec"].to_string())
        }
    });

    // The user's own RuntimeClass and executor (no webhook defaults anything: the app names it).
    cp.apply(
        "",
        "apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata:\n  name: wasmtime-spin-v2\nhandler: spin\n",
    )
    .expect("RuntimeClass");
    cp.apply(
        APP_NS,
        "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinAppExecutor\nmetadata:\n  name: containerd-shim-spin\nspec:\n  createDeployment: true\n  deploymentConfig:\n    runtimeClassName: wasmtime-spin-v2\n",
    )
    .expect("executor");
    cp.apply(
        APP_NS,
        &spinapp("plain", "  executor: containerd-shim-spin\n  replicas: 1\n"),
    )
    .expect("SpinApp");
    wait_app_ready(cp, "plain", 1);
    // Without the mutating webhook the schema still demands an executor, naming the field.
    let err = cp
        .apply(APP_NS, &spinapp("no-executor", "  replicas: 1\n"))
        .expect_err("executor is required");
    assert!(err.contains("spec.executor: Required value"), "{err}");
    assert_no_forbidden(&op.log_text());

    delete_all_apps(cp);
    wait_executor_unfinalized(cp);
    let log_before_uninstall = op.log_text().len();
    let out = helm(cp, &["uninstall", RELEASE, "-n", RELEASE_NS])
        .unwrap_or_else(|e| panic!("helm uninstall failed:\n{e}"));
    assert!(out.contains("uninstalled"), "{out}");
    let gone = wait_for_opt(Duration::from_secs(30), || {
        release_leftovers(cp).is_empty().then_some(())
    });
    assert!(
        gone.is_some(),
        "helm uninstall left release objects behind:\n{}",
        release_leftovers(cp).join("\n")
    );
    // What the release did not make stays: the ServiceAccount, the user's RuntimeClass and executor.
    assert!(cp.exists(RELEASE_NS, "serviceaccount", "existing-operator-sa"));
    assert!(cp.exists("", "runtimeclass", "wasmtime-spin-v2"));
    assert!(cp.exists(APP_NS, "spinappexecutor", EXECUTOR));
    op.stop();
    assert_no_forbidden(&op.log_text()[..log_before_uninstall]);
}

/// The plain manifests, as `config/README.md` tells users without Helm to install them:
/// `kubectl apply -k config/default`, then the RuntimeClass and the default executor samples. The
/// operator started from the applied Deployment (as in the Helm test) gets ready, fills in its webhook
/// certificate, its webhooks answer, `config/samples/simple.yaml` becomes Ready, and
/// `kubectl delete -k` (plus `delete -f` of the two samples) leaves nothing of the install behind.
#[test]
fn plain_manifests_apply_run_and_delete_cleanly() {
    const NS: &str = "spin-operator";
    let cp = ControlPlane::start(Options {
        kwok: true,
        ..Options::default()
    })
    .expect("control plane");
    let cp = &cp;
    let config = |p: &str| repo_root().join("config").join(p).display().to_string();

    let out = cp
        .run(&["apply", "-k", &config("default")])
        .unwrap_or_else(|e| panic!("kubectl apply -k config/default failed:\n{e}"));
    for created in [
        "namespace/spin-operator created",
        "customresourcedefinition.apiextensions.k8s.io/spinapps.core.spinkube.dev created",
        "deployment.apps/spin-operator created",
        "validatingwebhookconfiguration.admissionregistration.k8s.io/spin-operator-validating-webhook-configuration created",
    ] {
        assert!(out.contains(created), "{created:?} in:\n{out}");
    }
    cp.run(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/spinapps.core.spinkube.dev",
        "crd/spinappexecutors.core.spinkube.dev",
    ])
    .expect("CRDs established");
    cp.restart_controller_manager()
        .expect("restart kube-controller-manager");
    cp.run(&["apply", "-f", &config("samples/spin-runtime-class.yaml")])
        .expect("RuntimeClass sample");
    cp.run(&[
        "-n",
        APP_NS,
        "apply",
        "-f",
        &config("samples/spin-shim-executor.yaml"),
    ])
    .expect("executor sample");

    let rendered = rendered_operator(cp, NS, "spin-operator-6f7c9d8b5-host1");
    assert!(
        rendered.args.contains(&format!("--namespace={NS}")),
        "{:?}",
        rendered.args
    );
    let pod_labels = rendered.deployment["spec"]["template"]["metadata"]["labels"].clone();
    let webhook_addr = service_address(
        &release_object(cp, NS, "service", "webhook"),
        "https",
        "webhook",
        &pod_labels,
    );
    let mut op = HostOperator::start(cp, &rendered, &webhook_addr, 1);
    wait_certificate_and_ca_bundles(cp, &rendered);
    assert_webhooks_answer(cp);

    cp.run(&["-n", APP_NS, "apply", "-f", &config("samples/simple.yaml")])
        .expect("simple sample");
    ready_the_node_after_the_app_says_why(cp, "simple-spinapp");
    wait_app_ready(cp, "simple-spinapp", 1);
    assert!(cp.exists(APP_NS, "service", "simple-spinapp"));
    assert_no_forbidden(&op.log_text());

    delete_all_apps(cp);
    wait_executor_unfinalized(cp);
    cp.run(&[
        "-n",
        APP_NS,
        "delete",
        "-f",
        &config("samples/spin-shim-executor.yaml"),
    ])
    .expect("delete executor");
    cp.run(&["delete", "-f", &config("samples/spin-runtime-class.yaml")])
        .expect("delete RuntimeClass");
    cp.run(&["delete", "-k", &config("default"), "--wait=false"])
        .expect("kubectl delete -k config/default");
    // The namespace (with the Lease the operator made in it) goes once its contents are deleted.
    let gone = wait_for_opt(Duration::from_secs(60), || {
        release_leftovers(cp).is_empty().then_some(())
    });
    assert!(
        gone.is_some(),
        "kubectl delete -k left objects behind:\n{}",
        release_leftovers(cp).join("\n")
    );
    for crd in [
        "spinapps.core.spinkube.dev",
        "spinappexecutors.core.spinkube.dev",
    ] {
        assert!(
            !cp.exists("", "crd", crd),
            "{crd} deleted with the kustomization"
        );
    }
    op.stop();
}
