//! Runs the real `spin-operator` binary against a real control plane (spinkube-testenv), with its
//! webhooks reached the way a cluster reaches them: through a Service whose ClusterIP is a loopback
//! address the operator binds (testenv's service CIDR lives in 127.0.0.0/8).

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use spinkube_testenv::ControlPlane;

pub const OPERATOR_NS: &str = "spinkube";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Polls `f` until it returns Some, or panics with `what` and the last observation after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < timeout {
        match f() {
            Ok(v) => return v,
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out after {timeout:?} waiting for {what}; last: {last}");
}

pub const WAIT: Duration = Duration::from_secs(60);

pub trait Kube {
    fn cp(&self) -> &ControlPlane;

    fn apply(&self, ns: &str, yaml: &str) -> Result<String, String> {
        self.cp()
            .kubectl_stdin(&["-n", ns, "apply", "-f", "-"], yaml)
            .map_err(|e| format!("{e:#}"))
    }

    fn run(&self, args: &[&str]) -> Result<String, String> {
        self.cp().kubectl_run(args).map_err(|e| format!("{e:#}"))
    }

    fn get(&self, ns: &str, kind: &str, name: &str) -> Result<Value, String> {
        let out = self.run(&["-n", ns, "get", kind, name, "-o", "json"])?;
        serde_json::from_str(&out).map_err(|e| e.to_string())
    }

    fn exists(&self, ns: &str, kind: &str, name: &str) -> bool {
        self.run(&[
            "-n",
            ns,
            "get",
            kind,
            name,
            "--ignore-not-found",
            "-o",
            "name",
        ])
        .map(|o| !o.trim().is_empty())
        .unwrap_or(true)
    }
}

impl Kube for ControlPlane {
    fn cp(&self) -> &ControlPlane {
        self
    }
}

/// The webhook Service and configurations, as the chart installs them (service-based clientConfig).
pub fn webhook_fixtures(svc: &str) -> String {
    let rule = |ops: &str, resource: &str| {
        format!("    rules:\n    - apiGroups: [core.spinkube.dev]\n      apiVersions: [v1alpha1]\n      operations: [{ops}]\n      resources: [{resource}]\n")
    };
    let hook = |name: &str, path: &str, rules: String| {
        format!(
            "- name: {name}\n  admissionReviewVersions: [v1]\n  sideEffects: None\n  failurePolicy: Fail\n  clientConfig:\n    service:\n      name: {svc}\n      namespace: {OPERATOR_NS}\n      path: {path}\n      port: 443\n{}",
            rules.replace("    rules:", "  rules:").replace("\n    ", "\n  ")
        )
    };
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {svc}\n  namespace: {OPERATOR_NS}\nspec:\n  ports:\n  - port: 443\n    targetPort: 9443\n---\n\
apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: spin-operator-mutating-webhook-configuration\nwebhooks:\n{}---\n\
apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata:\n  name: spin-operator-validating-webhook-configuration\nwebhooks:\n{}{}",
        hook("mspinapp.kb.io", "/mutate-core-spinkube-dev-v1alpha1-spinapp", rule("CREATE, UPDATE", "spinapps")),
        hook("vspinapp.kb.io", "/validate-core-spinkube-dev-v1alpha1-spinapp", rule("CREATE, UPDATE", "spinapps")),
        hook("vspinappexecutor.kb.io", "/validate-core-spinkube-dev-v1alpha1-spinappexecutor", rule("CREATE, UPDATE, DELETE", "spinappexecutors")),
    )
}

/// Installs CRDs, the operator namespace and the webhook fixtures; returns `<ClusterIP>:443` of the webhook
/// Service, where the operator must listen.
pub fn install(cp: &ControlPlane) -> String {
    for crd in [
        "spinapps.core.spinkube.dev.yaml",
        "spinappexecutors.core.spinkube.dev.yaml",
    ] {
        let path = repo_root().join("crds").join(crd);
        cp.kubectl_run(&[
            "apply",
            "--server-side",
            "-f",
            path.to_str().expect("utf8 path"),
        ])
        .expect("install CRD");
    }
    for crd in [
        "spinapps.core.spinkube.dev",
        "spinappexecutors.core.spinkube.dev",
    ] {
        cp.kubectl_run(&[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            &format!("crd/{crd}"),
        ])
        .expect("CRD established");
    }
    let _ = cp.kubectl_run(&["create", "namespace", OPERATOR_NS]);
    // Pods naming a RuntimeClass that does not exist are rejected at admission.
    cp.kubectl_stdin(&["apply", "-f", "-"], "apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata:\n  name: wasmtime-spin-v2\nhandler: spin\n")
        .expect("RuntimeClass");
    cp.kubectl_stdin(
        &["apply", "-f", "-"],
        &webhook_fixtures("spin-operator-webhook"),
    )
    .expect("webhook fixtures");
    let svc: Value = serde_json::from_str(
        &cp.kubectl_run(&[
            "-n",
            OPERATOR_NS,
            "get",
            "service",
            "spin-operator-webhook",
            "-o",
            "json",
        ])
        .expect("svc"),
    )
    .expect("json");
    format!(
        "{}:443",
        svc["spec"]["clusterIP"].as_str().expect("clusterIP")
    )
}

/// A running operator process.
pub struct Operator {
    pub child: Child,
    pub metrics_port: u16,
    pub health_port: u16,
    pub log: PathBuf,
}

impl Operator {
    /// Starts `spin-operator` with webhooks on `webhook_addr` (`<ClusterIP>:443` to serve the Service).
    pub fn start(cp: &ControlPlane, webhook_addr: &str, extra: &[&str]) -> Operator {
        let (metrics_port, health_port) = (free_port(), free_port());
        let log = cp
            .logs_dir()
            .join(format!("spin-operator-{metrics_port}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_spin-operator"));
        cmd.args([
            "--kubeconfig",
            cp.kubeconfig().to_str().expect("utf8"),
            "--namespace",
            OPERATOR_NS,
        ])
        .args([
            "--metrics-bind-address",
            &format!("127.0.0.1:{metrics_port}"),
        ])
        .args([
            "--health-probe-bind-address",
            &format!("127.0.0.1:{health_port}"),
        ])
        .args(["--webhook-bind-address", webhook_addr])
        .args(extra)
        .env("RUST_LOG", "info,spinkube_operator=debug")
        .stdout(Stdio::null())
        .stderr(file);
        let child = spinkube_testenv::spawn_tied(cmd).expect("start spin-operator");
        let op = Operator {
            child,
            metrics_port,
            health_port,
            log,
        };
        wait_for("operator /readyz", WAIT, || {
            match op.http(op.health_port, "/readyz") {
                Ok((200, _)) => Ok(()),
                Ok((code, body)) => Err(format!("{code} {body}")),
                Err(e) => Err(format!("{e}; log: {}", op.log_tail())),
            }
        });
        op
    }

    pub fn http(&self, port: u16, path: &str) -> Result<(u16, String), String> {
        let resp = reqwest::blocking::get(format!("http://127.0.0.1:{port}{path}"))
            .map_err(|e| e.to_string())?;
        let code = resp.status().as_u16();
        Ok((code, resp.text().unwrap_or_default()))
    }

    pub fn metrics(&self) -> String {
        self.http(self.metrics_port, "/metrics")
            .map(|(_, b)| b)
            .unwrap_or_default()
    }

    /// The whole log, with ANSI colours removed.
    pub fn log_text(&self) -> String {
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut out = String::with_capacity(s.len());
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                // CSI sequences end with a letter.
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    pub fn log_tail(&self) -> String {
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// SIGTERM, and the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
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
                panic!(
                    "operator did not exit 40s after SIGTERM; log:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Operator {
    /// SIGKILL: a crash, no cleanup of any kind.
    pub fn crash(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shared operator's `--retry-delay` and `--max-retry-delay`.
pub const RETRY_DELAY: Duration = Duration::from_millis(250);
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(2);

/// The shared control plane with CRDs, webhooks and one operator for every test of this binary.
pub fn shared() -> &'static ControlPlane {
    operator();
    ControlPlane::shared()
}

pub fn operator() -> &'static Mutex<Operator> {
    static OPERATOR: OnceLock<Mutex<Operator>> = OnceLock::new();
    OPERATOR.get_or_init(|| {
        let cp = ControlPlane::shared();
        let ip = install(cp);
        // The samples' RuntimeClass schedules Spin pods onto nodes the node installer labelled;
        // kwok runs no installer, so the fake node gets the label it would set.
        cp.kubectl_run(&[
            "label",
            "node",
            spinkube_testenv::KWOK_NODE,
            "spinkube.dev/shim=ready",
            "--overwrite",
        ])
        .expect("label the kwok node");
        // Short retry delays, so tests of refusals see backoff reach its cap in seconds.
        Mutex::new(Operator::start(
            cp,
            &ip,
            &[
                "--retry-delay",
                &RETRY_DELAY.as_secs_f64().to_string(),
                "--max-retry-delay",
                &MAX_RETRY_DELAY.as_secs_f64().to_string(),
            ],
        ))
    })
}

pub fn shim_executor(name: &str) -> String {
    format!(
        "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinAppExecutor\nmetadata:\n  name: {name}\nspec:\n  createDeployment: true\n  deploymentConfig:\n    runtimeClassName: wasmtime-spin-v2\n    installDefaultCACerts: true\n"
    )
}
