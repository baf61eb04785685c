//! Integration tests against a real control plane (builds/installs the binaries on first use,
//! see `e2e/k8s/install.sh`).

use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use spinkube_testenv::{ControlPlane, Options};

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn configmap_roundtrip() {
    let cp = ControlPlane::shared();
    let ns = cp.create_namespace("configmap").unwrap();
    cp.kubectl_stdin(
        &["apply", "-n", &ns, "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\ndata:\n  greeting: hi there\n",
    )
    .unwrap();
    let got = cp
        .kubectl_run(&[
            "get",
            "configmap",
            "hello",
            "-n",
            &ns,
            "-o",
            "jsonpath={.data.greeting}",
        ])
        .unwrap();
    assert_eq!(got, "hi there");
    assert!(cp.server().starts_with("https://127.0.0.1:"));
    assert!(cp.kubeconfig().is_file());
    assert!(cp.logs_dir().join("kube-apiserver.log").is_file());
}

#[test]
fn deployment_becomes_ready_with_kwok() {
    let cp = ControlPlane::shared();
    let ns = cp.create_namespace("deploy").unwrap();
    let start = Instant::now();
    cp.kubectl_run(&[
        "create",
        "deployment",
        "web",
        "-n",
        &ns,
        "--image=example.invalid/web:1",
        "--replicas=3",
    ])
    .unwrap();
    wait_until("readyReplicas=3", Duration::from_secs(60), || {
        cp.kubectl_run(&[
            "get",
            "deployment",
            "web",
            "-n",
            &ns,
            "-o",
            "jsonpath={.status.readyReplicas}",
        ])
        .unwrap()
            == "3"
    });
    eprintln!("deployment ready in {:?}", start.elapsed());
    let phases = cp
        .kubectl_run(&[
            "get",
            "pods",
            "-n",
            &ns,
            "-o",
            "jsonpath={.items[*].status.phase}",
        ])
        .unwrap();
    assert_eq!(phases, "Running Running Running");
}

#[test]
fn service_account_kubeconfig_is_least_privilege() {
    let cp = ControlPlane::shared();
    let ns = cp.create_namespace("rbac").unwrap();
    cp.kubectl_run(&["create", "serviceaccount", "reader", "-n", &ns])
        .unwrap();
    cp.kubectl_run(&[
        "create",
        "role",
        "cm-reader",
        "-n",
        &ns,
        "--verb=get,list",
        "--resource=configmaps",
    ])
    .unwrap();
    cp.kubectl_run(&[
        "create",
        "rolebinding",
        "cm-reader",
        "-n",
        &ns,
        "--role=cm-reader",
        &format!("--serviceaccount={ns}:reader"),
    ])
    .unwrap();
    let kc = cp.service_account_kubeconfig(&ns, "reader").unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(cp.binaries().kubectl())
            .arg("--kubeconfig")
            .arg(&kc)
            .args(args)
            .output()
            .unwrap()
    };
    let ok = run(&[
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    ]);
    assert!(ok.status.success(), "{ok:?}");
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout),
        format!("system:serviceaccount:{ns}:reader")
    );
    assert!(run(&["get", "configmaps", "-n", &ns]).status.success());
    let denied = run(&["get", "secrets", "-n", &ns]);
    assert!(!denied.status.success());
    assert!(String::from_utf8_lossy(&denied.stderr).contains("forbidden"));
}

/// Question 1: a loopback service CIDR gives Services 127.x ClusterIPs, and kube-apiserver
/// dials a Service-referenced webhook at ClusterIP:port, where the test can listen.
#[test]
fn loopback_cluster_ip_reaches_a_host_listener() {
    let cp = ControlPlane::shared();
    assert!(
        cp.service_cidr().starts_with("127."),
        "{}",
        cp.service_cidr()
    );
    let ns = cp.create_namespace("webhook").unwrap();
    cp.kubectl_stdin(
        &["apply", "-n", &ns, "-f", "-"],
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: hook\nspec:\n  ports:\n  - port: 9443\n",
    )
    .unwrap();
    let ip = cp
        .kubectl_run(&[
            "get",
            "service",
            "hook",
            "-n",
            &ns,
            "-o",
            "jsonpath={.spec.clusterIP}",
        ])
        .unwrap();
    assert!(ip.starts_with("127."), "ClusterIP {ip}");
    let listener = TcpListener::bind((ip.as_str(), 9443)).unwrap();

    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD.encode(cp.ca_cert_pem());
    let name = format!("{ns}.hook.test");
    cp.kubectl_stdin(
        &["apply", "-f", "-"],
        &format!(
            "apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: {name}
webhooks:
- name: {name}
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Ignore
  timeoutSeconds: 2
  clientConfig:
    caBundle: {ca}
    service: {{namespace: {ns}, name: hook, port: 9443, path: /validate}}
  namespaceSelector:
    matchLabels: {{kubernetes.io/metadata.name: {ns}}}
  rules:
  - {{apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}}
"
        ),
    )
    .unwrap();

    // The webhook configuration takes effect asynchronously: keep creating ConfigMaps until
    // the apiserver connects; failurePolicy Ignore lets each create succeed.
    listener.set_nonblocking(true).unwrap();
    let start = Instant::now();
    let mut i = 0;
    let mut conn = loop {
        match listener.accept() {
            Ok((c, _)) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "apiserver never dialed {ip}:9443"
        );
        if i < 50 {
            let mut child = cp
                .kubectl()
                .args(["create", "configmap", &format!("c{i}"), "-n", &ns])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            i += 1;
            // Don't wait on it: the create blocks until the webhook call gives up.
            std::thread::spawn(move || child.wait());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut first = [0u8; 1];
    conn.read_exact(&mut first).unwrap();
    assert_eq!(first[0], 0x16, "expected a TLS handshake");
    drop(conn);
    cp.kubectl_run(&["delete", "validatingwebhookconfiguration", &name])
        .unwrap();
}

#[test]
fn restart_apiserver_keeps_objects() {
    let cp = ControlPlane::start(Options::default()).unwrap();
    let ns = cp.create_namespace("restart").unwrap();
    cp.kubectl_run(&[
        "create",
        "configmap",
        "kept",
        "-n",
        &ns,
        "--from-literal=k=v",
    ])
    .unwrap();
    let start = Instant::now();
    cp.restart_apiserver().unwrap();
    eprintln!("apiserver restarted in {:?}", start.elapsed());
    let v = cp
        .kubectl_run(&[
            "get",
            "configmap",
            "kept",
            "-n",
            &ns,
            "-o",
            "jsonpath={.data.k}",
        ])
        .unwrap();
    assert_eq!(v, "v");
    let dir = cp.dir().to_path_buf();
    drop(cp);
    assert!(!dir.exists(), "temp dir removed on drop");
}

#[test]
fn explicit_service_cidr() {
    let cp = ControlPlane::start(Options {
        kwok: false,
        service_cidr: Some("127.0.100.0/24".into()),
        ..Options::default()
    })
    .unwrap();
    let ns = cp.create_namespace("cidr").unwrap();
    cp.kubectl_stdin(
        &["apply", "-n", &ns, "-f", "-"],
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: fixed\nspec:\n  clusterIP: 127.0.100.53\n  ports:\n  - port: 80\n",
    )
    .unwrap();
    let ip = cp
        .kubectl_run(&[
            "get",
            "svc",
            "fixed",
            "-n",
            &ns,
            "-o",
            "jsonpath={.spec.clusterIP}",
        ])
        .unwrap();
    assert_eq!(ip, "127.0.100.53");
    let kubernetes = cp
        .kubectl_run(&[
            "get",
            "svc",
            "kubernetes",
            "-n",
            "default",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ])
        .unwrap();
    assert_eq!(kubernetes, "127.0.100.1");
}

#[test]
fn crd_owned_objects_are_garbage_collected() {
    let cp = ControlPlane::shared();
    let dir = tempfile::tempdir().unwrap();
    let crd = dir.path().join("widgets.yaml");
    std::fs::write(
        &crd,
        "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.testenv.spinkube.dev
spec:
  group: testenv.spinkube.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
",
    )
    .unwrap();
    cp.install_crds(&[&crd]).unwrap();
    let ns = cp.create_namespace("gc").unwrap();
    cp.kubectl_stdin(
        &["apply", "-n", &ns, "-f", "-"],
        "apiVersion: testenv.spinkube.dev/v1\nkind: Widget\nmetadata:\n  name: w\n",
    )
    .unwrap();
    let uid = cp
        .kubectl_run(&[
            "get",
            "widget",
            "w",
            "-n",
            &ns,
            "-o",
            "jsonpath={.metadata.uid}",
        ])
        .unwrap();
    cp.kubectl_stdin(
        &["apply", "-n", &ns, "-f", "-"],
        &format!(
            "apiVersion: v1
kind: ConfigMap
metadata:
  name: owned
  ownerReferences:
  - {{apiVersion: testenv.spinkube.dev/v1, kind: Widget, name: w, uid: {uid}}}
"
        ),
    )
    .unwrap();
    let start = Instant::now();
    cp.kubectl_run(&["delete", "widget", "w", "-n", &ns, "--wait=false"])
        .unwrap();
    wait_until(
        "the owned ConfigMap to be collected",
        Duration::from_secs(20),
        || {
            cp.kubectl_run(&[
                "get",
                "configmap",
                "owned",
                "-n",
                &ns,
                "--ignore-not-found",
                "-o",
                "name",
            ])
            .unwrap()
            .is_empty()
        },
    );
    eprintln!("garbage collected in {:?}", start.elapsed());
}
