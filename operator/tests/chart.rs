//! The Helm chart (charts/spin-operator) and the plain manifests (config/), checked with a real helm
//! (built once from the Go module proxy by e2e/k8s/build-helm.sh, then cached):
//! - `helm lint --strict` with the default values and every charts/spin-operator/ci/*-values.yaml;
//! - `helm template` with default and non-default values, object by object: the operator's flags,
//!   security context, probes and ports; the webhook configurations (paths, rules, Service, no
//!   caBundle); RBAC against operator/README.md; the default executor and RuntimeClass;
//! - the values schema rejecting unknown and invalid values, and NOTES.txt;
//! - drift: the chart's CRDs and config/crd are the generated crds/ byte for byte, and config/ is what
//!   config/generate.sh renders now;
//! - every sample in config/samples parses into the operator's own types and passes its admission rules;
//! - the operator binary accepts the rendered flags, and fills the chart's empty certificate Secret.
//!
//! Installing the chart into a control plane is tested elsewhere (no cluster here).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::node::v1::RuntimeClass;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use spinkube_operator::admission::{self, validate};
use spinkube_operator::api::{SpinApp, SpinAppExecutor};
use spinkube_operator::webhook::cert_manager::bundle_from_secret;
use spinkube_operator::webhook::certs;

const RELEASE: &str = "spin-operator";
const NAMESPACE: &str = "spin-operator";
const DEFAULT_EXECUTOR_LABEL: &str = "core.spinkube.dev/default-executor";

// ---------- helpers ----------

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("operator/ has a parent")
        .to_path_buf()
}

fn chart() -> PathBuf {
    root().join("charts/spin-operator")
}

/// Runs helm; Ok(stdout) on success, Err(stdout + stderr) otherwise.
fn run_helm(args: &[&str]) -> Result<String, String> {
    let out = Command::new(helm())
        .args(args)
        .current_dir(root())
        .output()
        .expect("run helm");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!("{stdout}{stderr}"))
    }
}

fn ci_values(name: &str) -> String {
    chart().join("ci").join(name).display().to_string()
}

/// Every document of a multi-document YAML stream, as JSON; empty documents are skipped.
fn parse_docs(yaml: &str, what: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|doc| {
            let v = serde_yaml::Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("{what}: invalid YAML: {e}"));
            serde_json::to_value(v).unwrap_or_else(|e| panic!("{what}: not JSON-compatible: {e}"))
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// `helm template` of the chart as release `release` in `NAMESPACE` with the given extra arguments.
fn render_as(release: &str, extra: &[&str]) -> Result<Vec<Value>, String> {
    let chart = chart().display().to_string();
    let mut args = vec!["template", release, &chart, "--namespace", NAMESPACE];
    args.extend_from_slice(extra);
    run_helm(&args).map(|out| parse_docs(&out, "helm template output"))
}

fn render(extra: &[&str]) -> Vec<Value> {
    render_as(RELEASE, extra).unwrap_or_else(|e| panic!("helm template {extra:?} failed:\n{e}"))
}

/// (kind, namespace or "", name) of an object.
fn key(obj: &Value) -> (String, String, String) {
    let s = |p: &str| {
        obj.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (s("/kind"), s("/metadata/namespace"), s("/metadata/name"))
}

fn keys(objs: &[Value]) -> BTreeSet<(String, String, String)> {
    objs.iter().map(key).collect()
}

fn k(kind: &str, ns: &str, name: &str) -> (String, String, String) {
    (kind.to_string(), ns.to_string(), name.to_string())
}

fn all_of<'a>(objs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objs.iter().filter(|o| o["kind"] == kind).collect()
}

/// Whether `obj` belongs to the node installer (its DaemonSet, cleanup Job and their RBAC), which
/// `node_installer_*` tests cover.
fn is_node_installer(obj: &Value) -> bool {
    matches!(
        obj["metadata"]["labels"]["app.kubernetes.io/component"].as_str(),
        Some("node-installer" | "node-cleanup")
    )
}

/// The one operator object of `kind` (node installer objects aside).
fn one<'a>(objs: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = all_of(objs, kind)
        .into_iter()
        .filter(|o| !is_node_installer(o))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {kind}, found {:?}",
        found.iter().map(|o| key(o)).collect::<Vec<_>>()
    );
    found[0]
}

fn typed<T: DeserializeOwned>(obj: &Value) -> T {
    serde_json::from_value(obj.clone()).unwrap_or_else(|e| {
        panic!(
            "{:?} does not deserialize as {}: {e}",
            key(obj),
            std::any::type_name::<T>()
        )
    })
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn container(objs: &[Value]) -> Value {
    let dep = one(objs, "Deployment");
    let containers = dep
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .expect("containers");
    assert_eq!(containers.len(), 1, "one operator container");
    containers[0].clone()
}

fn args(objs: &[Value]) -> Vec<String> {
    strings(&container(objs)["args"])
}

fn chart_app_version() -> String {
    let text = std::fs::read_to_string(chart().join("Chart.yaml")).expect("Chart.yaml");
    let chart: Value = serde_yaml::from_str(&text).expect("Chart.yaml parses");
    assert_eq!(chart["apiVersion"], "v2");
    assert_eq!(chart["name"], "spin-operator");
    assert_eq!(chart["version"], "0.1.0");
    assert_eq!(chart["kubeVersion"], ">=1.27.0-0");
    chart["appVersion"]
        .as_str()
        .expect("appVersion is a string")
        .to_string()
}

/// Fails when a webhook carries a caBundle (the operator patches it in; the chart must never own it).
fn assert_no_ca_bundle(cfg: &Value) {
    for hook in cfg["webhooks"].as_array().expect("webhooks") {
        assert!(
            hook["clientConfig"].get("caBundle").is_none(),
            "{:?} webhook {} has a caBundle in the template",
            key(cfg),
            hook["name"]
        );
    }
}

/// ClusterRole/Role rules flattened to (apiGroup, resource, verb, resourceName or "").
fn flat_rules(rules: &[PolicyRule]) -> BTreeSet<(String, String, String, String)> {
    let mut out = BTreeSet::new();
    for r in rules {
        let names = r.resource_names.clone().unwrap_or_default();
        let names = if names.is_empty() {
            vec![String::new()]
        } else {
            names
        };
        for g in r.api_groups.clone().unwrap_or_default() {
            for res in r.resources.clone().unwrap_or_default() {
                for v in &r.verbs {
                    for n in &names {
                        out.insert((g.clone(), res.clone(), v.clone(), n.clone()));
                    }
                }
            }
        }
    }
    out
}

fn expand(
    groups: &[&str],
    resources: &[&str],
    verbs: &[&str],
    names: &[&str],
) -> BTreeSet<(String, String, String, String)> {
    let names = if names.is_empty() { &[""][..] } else { names };
    let mut out = BTreeSet::new();
    for g in groups {
        for r in resources {
            for v in verbs {
                for n in names {
                    out.insert((g.to_string(), r.to_string(), v.to_string(), n.to_string()));
                }
            }
        }
    }
    out
}

/// operator/README.md "What it needs from the API server (least privilege)", cluster-wide part, with
/// the caBundle patch limited to this release's two webhook configurations.
fn expected_cluster_rules(
    mutating: Option<&str>,
    validating: Option<&str>,
) -> BTreeSet<(String, String, String, String)> {
    let mut want = BTreeSet::new();
    let core = "core.spinkube.dev";
    want.extend(expand(
        &[core],
        &["spinapps"],
        &["get", "list", "watch"],
        &[],
    ));
    want.extend(expand(
        &[core],
        &["spinapps/status"],
        &["get", "patch"],
        &[],
    ));
    want.extend(expand(&[core], &["spinapps/finalizers"], &["update"], &[]));
    want.extend(expand(
        &[core],
        &["spinappexecutors"],
        &["get", "list", "watch", "patch"],
        &[],
    ));
    want.extend(expand(
        &["apps"],
        &["deployments"],
        &["get", "list", "watch", "create", "patch", "delete"],
        &[],
    ));
    want.extend(expand(
        &[""],
        &["services"],
        &["get", "list", "watch", "create", "patch"],
        &[],
    ));
    want.extend(expand(
        &[""],
        &["secrets"],
        &["get", "list", "watch", "create", "patch", "delete"],
        &[],
    ));
    want.extend(expand(
        &[""],
        &["configmaps"],
        &["get", "list", "watch"],
        &[],
    ));
    want.extend(expand(&[""], &["pods"], &["list", "watch"], &[]));
    want.extend(expand(
        &["events.k8s.io", ""],
        &["events"],
        &["create", "patch"],
        &[],
    ));
    want.extend(expand(
        &["admissionregistration.k8s.io"],
        &[
            "mutatingwebhookconfigurations",
            "validatingwebhookconfigurations",
        ],
        &["get", "list", "watch"],
        &[],
    ));
    if let Some(name) = mutating {
        want.extend(expand(
            &["admissionregistration.k8s.io"],
            &["mutatingwebhookconfigurations"],
            &["patch"],
            &[name],
        ));
    }
    if let Some(name) = validating {
        want.extend(expand(
            &["admissionregistration.k8s.io"],
            &["validatingwebhookconfigurations"],
            &["patch"],
            &[name],
        ));
    }
    want
}

/// Every key of `original` (recursively) is still there after a round trip through the operator's
/// types, so no field in a manifest is silently ignored (a typo, or a field the CRD does not have).
/// Keys whose value is a default the types leave out (false, 0, "", [], {}) may be missing.
fn assert_known_fields(original: &Value, round_trip: &Value, path: &str) {
    match (original, round_trip) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                let sub = format!("{path}.{key}");
                match b.get(key) {
                    Some(back) => assert_known_fields(value, back, &sub),
                    None => {
                        let is_default = matches!(value, Value::Null | Value::Bool(false))
                            || value == &json!(0)
                            || value == &json!("")
                            || value == &json!([])
                            || value == &json!({});
                        assert!(is_default, "{sub} is not a field the operator knows");
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{path}: list length changed");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert_known_fields(x, y, &format!("{path}[{i}]"));
            }
        }
        _ => {}
    }
}

fn strip_helm_labels(obj: &mut Value) {
    if let Some(labels) = obj
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove("helm.sh/chart");
        if labels.get("app.kubernetes.io/managed-by") == Some(&json!("Helm")) {
            labels.remove("app.kubernetes.io/managed-by");
        }
    }
}

// ---------- lint ----------

#[test]
fn helm_lint_is_clean_with_default_and_ci_values() {
    let chart_dir = chart().display().to_string();
    let mut runs: Vec<Vec<String>> = vec![vec![]];
    let ci_dir = chart().join("ci");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&ci_dir)
        .expect("charts/spin-operator/ci")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("-values.yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 2,
        "expected ci/*-values.yaml files, found {files:?}"
    );
    for f in files {
        runs.push(vec!["--values".into(), f.display().to_string()]);
    }
    for extra in runs {
        let mut args = vec!["lint", "--strict", chart_dir.as_str()];
        args.extend(extra.iter().map(String::as_str));
        let out = run_helm(&args).unwrap_or_else(|e| panic!("helm {args:?} failed:\n{e}"));
        assert!(out.contains("0 chart(s) failed"), "helm {args:?}:\n{out}");
        assert!(
            !out.contains("[WARNING]") && !out.contains("[ERROR]"),
            "helm {args:?} is not clean:\n{out}"
        );
    }
}

// ---------- default values ----------

#[test]
fn default_render_is_exactly_the_expected_objects() {
    let objs = render(&[]);
    let want: BTreeSet<_> = [
        k("ServiceAccount", NAMESPACE, "spin-operator"),
        k("ClusterRole", "", "spin-operator-manager"),
        k("ClusterRoleBinding", "", "spin-operator-manager"),
        k("Role", NAMESPACE, "spin-operator-leader-election"),
        k("RoleBinding", NAMESPACE, "spin-operator-leader-election"),
        k("Deployment", NAMESPACE, "spin-operator"),
        k("Service", NAMESPACE, "spin-operator-metrics"),
        k("Service", NAMESPACE, "spin-operator-webhook"),
        k("Secret", NAMESPACE, "spin-operator-webhook-cert"),
        k(
            "MutatingWebhookConfiguration",
            "",
            "spin-operator-mutating-webhook-configuration",
        ),
        k(
            "ValidatingWebhookConfiguration",
            "",
            "spin-operator-validating-webhook-configuration",
        ),
        k("SpinAppExecutor", "default", "containerd-shim-spin"),
        k("RuntimeClass", "", "wasmtime-spin-v2"),
        k("ServiceAccount", NAMESPACE, "spin-operator-node-installer"),
        k("ClusterRole", "", "spin-operator-node-installer"),
        k("ClusterRoleBinding", "", "spin-operator-node-installer"),
        k("Role", NAMESPACE, "spin-operator-node-installer"),
        k("RoleBinding", NAMESPACE, "spin-operator-node-installer"),
        k("DaemonSet", NAMESPACE, "spin-operator-node-installer"),
        k("Job", NAMESPACE, "spin-operator-node-cleanup"),
    ]
    .into_iter()
    .collect();
    assert_eq!(keys(&objs), want);
    assert_eq!(objs.len(), want.len(), "no object rendered twice");

    // Every object carries the standard labels; the API versions are the GA ones.
    for obj in &objs {
        let labels = &obj["metadata"]["labels"];
        assert_eq!(
            labels["app.kubernetes.io/name"],
            "spin-operator",
            "{:?}",
            key(obj)
        );
        assert_eq!(
            labels["app.kubernetes.io/instance"],
            RELEASE,
            "{:?}",
            key(obj)
        );
        assert_eq!(
            labels["app.kubernetes.io/managed-by"],
            "Helm",
            "{:?}",
            key(obj)
        );
        assert_eq!(
            labels["helm.sh/chart"],
            "spin-operator-0.1.0",
            "{:?}",
            key(obj)
        );
        let want_api = match obj["kind"].as_str().unwrap_or_default() {
            "Deployment" | "DaemonSet" => "apps/v1",
            "Job" => "batch/v1",
            "ServiceAccount" | "Service" | "Secret" => "v1",
            "ClusterRole" | "ClusterRoleBinding" | "Role" | "RoleBinding" => {
                "rbac.authorization.k8s.io/v1"
            }
            "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration" => {
                "admissionregistration.k8s.io/v1"
            }
            "SpinAppExecutor" => "core.spinkube.dev/v1alpha1",
            "RuntimeClass" => "node.k8s.io/v1",
            other => panic!("unexpected kind {other}"),
        };
        assert_eq!(obj["apiVersion"], want_api, "{:?}", key(obj));
    }
}

#[test]
fn default_deployment_runs_the_operator_locked_down_with_the_right_flags() {
    let objs = render(&[]);
    let dep: Deployment = typed(one(&objs, "Deployment"));
    let spec = dep.spec.as_ref().expect("spec");
    assert_eq!(spec.replicas, Some(1));
    let selector = spec.selector.match_labels.clone().unwrap_or_default();
    assert_eq!(
        selector,
        BTreeMap::from([
            (
                "app.kubernetes.io/name".to_string(),
                "spin-operator".to_string()
            ),
            (
                "app.kubernetes.io/instance".to_string(),
                RELEASE.to_string()
            ),
        ])
    );
    let pod_labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    for (k, v) in &selector {
        assert_eq!(pod_labels.get(k), Some(v), "pod label {k}");
    }
    let pod = spec.template.spec.as_ref().expect("pod spec");
    assert_eq!(pod.service_account_name.as_deref(), Some("spin-operator"));
    let psc = pod.security_context.as_ref().expect("pod securityContext");
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(psc.run_as_user, Some(65532));
    assert_eq!(
        psc.seccomp_profile.as_ref().map(|s| s.type_.as_str()),
        Some("RuntimeDefault")
    );
    assert!(pod.node_selector.is_none() && pod.tolerations.is_none() && pod.affinity.is_none());

    let c = &pod.containers[0];
    assert_eq!(
        c.image.as_deref(),
        Some(format!("ghcr.io/spinkube/spin-operator-rs:{}", chart_app_version()).as_str())
    );
    assert_eq!(c.image_pull_policy.as_deref(), Some("IfNotPresent"));
    assert_eq!(
        c.args.clone().unwrap_or_default(),
        [
            "--namespace=$(POD_NAMESPACE)",
            "--metrics-bind-address=0.0.0.0:8080",
            "--health-probe-bind-address=0.0.0.0:8081",
            "--webhook-bind-address=0.0.0.0:9443",
            "--webhook-service-name=spin-operator-webhook",
            "--webhook-cert-secret=spin-operator-webhook-cert",
            "--mutating-webhook-configuration=spin-operator-mutating-webhook-configuration",
            "--validating-webhook-configuration=spin-operator-validating-webhook-configuration",
            "--log-format=text",
        ]
    );
    // The downward API gives the namespace (and the leader identity).
    let env: BTreeMap<String, Value> = c
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.name.clone(), serde_json::to_value(&e).expect("env json")))
        .collect();
    assert_eq!(
        env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );
    assert_eq!(
        env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    assert_eq!(env["RUST_LOG"]["value"], "info");
    assert_eq!(env.len(), 3);

    let ports: BTreeMap<String, i32> = c
        .ports
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.name.unwrap_or_default(), p.container_port))
        .collect();
    assert_eq!(
        ports,
        BTreeMap::from([
            ("metrics".to_string(), 8080),
            ("health".to_string(), 8081),
            ("webhook".to_string(), 9443),
        ])
    );

    let probe = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
        let get = p
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .expect("httpGet probe");
        (
            get.path.clone().unwrap_or_default(),
            serde_json::to_value(&get.port).expect("port"),
        )
    };
    assert_eq!(
        probe(&c.liveness_probe),
        ("/healthz".to_string(), json!("health"))
    );
    assert_eq!(
        probe(&c.readiness_probe),
        ("/readyz".to_string(), json!("health"))
    );

    let sc = c
        .security_context
        .as_ref()
        .expect("container securityContext");
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(sc.run_as_user, Some(65532));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(
        sc.capabilities.as_ref().and_then(|c| c.drop.clone()),
        Some(vec!["ALL".to_string()])
    );
    assert!(sc
        .capabilities
        .as_ref()
        .and_then(|c| c.add.clone())
        .is_none());
    assert_eq!(
        sc.seccomp_profile.as_ref().map(|s| s.type_.as_str()),
        Some("RuntimeDefault")
    );
    assert!(sc.privileged.is_none() || sc.privileged == Some(false));

    let res = serde_json::to_value(c.resources.as_ref().expect("resources")).expect("json");
    assert_eq!(
        res,
        json!({"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}})
    );
}

#[test]
fn default_webhooks_reach_the_operator_and_leave_ca_bundle_to_it() {
    let objs = render(&[]);
    let service = |cfg: &Value, i: usize| cfg["webhooks"][i]["clientConfig"]["service"].clone();
    let want_service = |path: &str| json!({"name": "spin-operator-webhook", "namespace": NAMESPACE, "path": path, "port": 443});
    let common = |hook: &Value| {
        assert_eq!(hook["failurePolicy"], "Fail", "{}", hook["name"]);
        assert_eq!(hook["sideEffects"], "None", "{}", hook["name"]);
        assert_eq!(
            hook["admissionReviewVersions"],
            json!(["v1"]),
            "{}",
            hook["name"]
        );
        assert_eq!(hook["timeoutSeconds"], 10, "{}", hook["name"]);
        assert!(hook.get("namespaceSelector").is_none(), "{}", hook["name"]);
    };
    let rule = |resource: &str, ops: &[&str]| {
        json!([{
            "apiGroups": ["core.spinkube.dev"],
            "apiVersions": ["v1alpha1"],
            "operations": ops,
            "resources": [resource],
            "scope": "Namespaced",
        }])
    };

    let mutating = one(&objs, "MutatingWebhookConfiguration");
    let _: MutatingWebhookConfiguration = typed(mutating);
    assert_no_ca_bundle(mutating);
    let hooks = mutating["webhooks"].as_array().expect("webhooks");
    assert_eq!(hooks.len(), 1);
    common(&hooks[0]);
    assert_eq!(hooks[0]["name"], "mspinapp.core.spinkube.dev");
    assert_eq!(
        service(mutating, 0),
        want_service(admission::MUTATE_SPINAPP)
    );
    assert_eq!(hooks[0]["rules"], rule("spinapps", &["CREATE", "UPDATE"]));
    assert!(hooks[0].get("objectSelector").is_none());

    let validating = one(&objs, "ValidatingWebhookConfiguration");
    let _: ValidatingWebhookConfiguration = typed(validating);
    assert_no_ca_bundle(validating);
    let hooks = validating["webhooks"].as_array().expect("webhooks");
    assert_eq!(hooks.len(), 2);
    for h in hooks {
        common(h);
    }
    assert_eq!(hooks[0]["name"], "vspinapp.core.spinkube.dev");
    assert_eq!(
        service(validating, 0),
        want_service(admission::VALIDATE_SPINAPP)
    );
    assert_eq!(hooks[0]["rules"], rule("spinapps", &["CREATE", "UPDATE"]));
    assert!(hooks[0].get("objectSelector").is_none());
    assert_eq!(hooks[1]["name"], "vspinappexecutor.core.spinkube.dev");
    assert_eq!(
        service(validating, 1),
        want_service(admission::VALIDATE_EXECUTOR)
    );
    assert_eq!(
        hooks[1]["rules"],
        rule("spinappexecutors", &["CREATE", "UPDATE", "DELETE"])
    );
    // The chart's executors are created and deleted by helm while the operator may not serve.
    assert_eq!(
        hooks[1]["objectSelector"],
        json!({"matchExpressions": [{"key": DEFAULT_EXECUTOR_LABEL, "operator": "DoesNotExist"}]})
    );

    // The Service in front of the webhooks: 443 -> the container's webhook port (9443).
    let svc_obj = objs
        .iter()
        .find(|o| key(o) == k("Service", NAMESPACE, "spin-operator-webhook"))
        .expect("webhook Service");
    let svc: Service = typed(svc_obj);
    let spec = svc.spec.expect("spec");
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    let port = &spec.ports.expect("ports")[0];
    assert_eq!(port.port, 443);
    assert_eq!(
        serde_json::to_value(&port.target_port).expect("json"),
        json!("webhook")
    );
    assert_eq!(
        spec.selector.expect("selector"),
        BTreeMap::from([
            (
                "app.kubernetes.io/name".to_string(),
                "spin-operator".to_string()
            ),
            (
                "app.kubernetes.io/instance".to_string(),
                RELEASE.to_string()
            ),
        ])
    );

    // The certificate Secret: an empty placeholder the operator fills in; helm owns (and deletes) it.
    let secret_obj = one(&objs, "Secret");
    let secret: Secret = typed(secret_obj);
    assert_eq!(
        secret.metadata.name.as_deref(),
        Some("spin-operator-webhook-cert")
    );
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    assert!(
        secret.data.is_none() && secret.string_data.is_none(),
        "{secret_obj}"
    );
    assert!(
        secret_obj
            .pointer("/metadata/annotations/helm.sh~1resource-policy")
            .is_none(),
        "the placeholder must go away on uninstall"
    );
}

/// The placeholder Secret as the chart renders it is one the operator fills in: no usable certificate,
/// so a new CA and serving certificate for the webhook Service's names (the operator then updates the
/// Secret in place; cert_manager.rs keeps its type and metadata).
#[test]
fn placeholder_secret_makes_the_operator_generate_a_certificate() {
    let objs = render(&[]);
    let secret: Secret = typed(one(&objs, "Secret"));
    let stored = bundle_from_secret(&secret);
    let sans = certs::webhook_sans("spin-operator-webhook", NAMESPACE, &[]);
    let now = chrono::Utc::now();
    let reason = certs::needs_rotation(&stored, now, &sans)
        .expect("an empty Secret holds no usable certificate");
    assert!(reason.renews_ca(), "{reason}");
    let fresh = certs::renew(&stored, &reason, &sans, now).expect("generate");
    let info = certs::inspect(&fresh).expect("a consistent bundle");
    assert!(
        info.sans
            .contains("spin-operator-webhook.spin-operator.svc"),
        "{:?}",
        info.sans
    );
    assert_eq!(certs::needs_rotation(&fresh, now, &sans), None);
}

#[test]
fn default_rbac_is_the_readme_least_privilege_contract() {
    let objs = render(&[]);
    let cr: ClusterRole = typed(one(&objs, "ClusterRole"));
    let got = flat_rules(cr.rules.as_deref().unwrap_or_default());
    let want = expected_cluster_rules(
        Some("spin-operator-mutating-webhook-configuration"),
        Some("spin-operator-validating-webhook-configuration"),
    );
    assert_eq!(
        got,
        want,
        "extra: {:?}\nmissing: {:?}",
        got.difference(&want).collect::<Vec<_>>(),
        want.difference(&got).collect::<Vec<_>>()
    );

    // Leases in the operator's namespace only (kube-lease-manager renews with PATCH).
    let role: Role = typed(one(&objs, "Role"));
    assert_eq!(role.metadata.namespace.as_deref(), Some(NAMESPACE));
    assert_eq!(
        flat_rules(role.rules.as_deref().unwrap_or_default()),
        expand(
            &["coordination.k8s.io"],
            &["leases"],
            &["get", "create", "update", "patch"],
            &[]
        )
        .into_iter()
        .chain(expand(
            &[""],
            &["secrets"],
            &["update"],
            &["spin-operator-webhook-cert"]
        ))
        .collect::<BTreeSet<_>>()
    );

    let subject =
        json!([{"kind": "ServiceAccount", "name": "spin-operator", "namespace": NAMESPACE}]);
    let crb: ClusterRoleBinding = typed(one(&objs, "ClusterRoleBinding"));
    assert_eq!(crb.role_ref.kind, "ClusterRole");
    assert_eq!(crb.role_ref.name, "spin-operator-manager");
    assert_eq!(serde_json::to_value(&crb.subjects).expect("json"), subject);
    let rb: RoleBinding = typed(one(&objs, "RoleBinding"));
    assert_eq!(rb.metadata.namespace.as_deref(), Some(NAMESPACE));
    assert_eq!(rb.role_ref.kind, "Role");
    assert_eq!(rb.role_ref.name, "spin-operator-leader-election");
    assert_eq!(serde_json::to_value(&rb.subjects).expect("json"), subject);
    let sa: ServiceAccount = typed(one(&objs, "ServiceAccount"));
    assert_eq!(sa.metadata.namespace.as_deref(), Some(NAMESPACE));

    // Whatever the chart grants, the README names (so the two cannot silently part ways).
    let readme = std::fs::read_to_string(root().join("operator/README.md")).expect("README");
    let section = readme
        .split("least privilege")
        .nth(1)
        .expect("README has the least privilege section");
    let granted: BTreeSet<String> = got
        .iter()
        .chain(flat_rules(role.rules.as_deref().unwrap_or_default()).iter())
        .map(|(_, res, _, _)| res.clone())
        .collect();
    for res in granted {
        // Subresources appear either whole (`spinappexecutors/finalizers`) or as "their `/status`".
        let listed = section.contains(&format!("`{res}`"))
            || res
                .split_once('/')
                .is_some_and(|(_, sub)| section.contains(&format!("`/{sub}`")));
        assert!(
            listed,
            "the chart grants {res}, which operator/README.md does not list"
        );
    }
}

#[test]
fn default_executor_and_runtime_class_run_apps_with_the_shim() {
    let objs = render(&[]);
    let ex_obj = one(&objs, "SpinAppExecutor");
    assert_eq!(
        key(ex_obj),
        k("SpinAppExecutor", "default", "containerd-shim-spin")
    );
    assert_eq!(
        ex_obj["spec"],
        json!({"createDeployment": true, "deploymentConfig": {"runtimeClassName": "wasmtime-spin-v2", "installDefaultCACerts": true}})
    );
    assert_eq!(ex_obj["metadata"]["labels"][DEFAULT_EXECUTOR_LABEL], "true");
    let ex: SpinAppExecutor = typed(ex_obj);
    assert_known_fields(
        ex_obj,
        &serde_json::to_value(&ex).expect("json"),
        "executor",
    );
    assert_eq!(validate::executor(&ex), Vec::<String>::new());

    let rc_obj = one(&objs, "RuntimeClass");
    let rc: RuntimeClass = typed(rc_obj);
    assert_eq!(rc.metadata.name.as_deref(), Some("wasmtime-spin-v2"));
    assert_eq!(rc.handler, "spin");
    assert!(rc.overhead.is_none());
    // Spin pods go only to nodes the node installer has readied.
    assert_eq!(
        rc_obj.get("scheduling"),
        Some(&json!({"nodeSelector": {"spinkube.dev/shim": "ready"}}))
    );

    // The metrics Service.
    let m = objs
        .iter()
        .find(|o| key(o) == k("Service", NAMESPACE, "spin-operator-metrics"))
        .expect("metrics Service");
    assert_eq!(
        m["spec"]["ports"],
        json!([{"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}])
    );
    assert_eq!(
        m["metadata"]["labels"]["app.kubernetes.io/component"],
        "metrics"
    );
}

#[test]
fn node_installer_readies_every_node_and_its_cleanup_undoes_it() {
    let objs = render(&[]);
    let ds = objs
        .iter()
        .find(|o| o["kind"] == "DaemonSet")
        .expect("the installer DaemonSet");
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["hostPID"], true, "finds and restarts containerd");
    assert_eq!(pod["serviceAccountName"], "spin-operator-node-installer");
    assert_eq!(
        pod["volumes"],
        json!([{"name": "host", "hostPath": {"path": "/", "type": "Directory"}}])
    );
    let c = &pod["containers"][0];
    assert_eq!(
        c["image"],
        format!(
            "ghcr.io/spinkube/spinkube-node-installer-rs:{}",
            chart_app_version()
        )
    );
    assert_eq!(c["args"], json!(["install"]));
    assert_eq!(c["securityContext"], json!({"privileged": true}));
    assert_eq!(c["terminationMessagePolicy"], "FallbackToLogsOnError");
    assert_eq!(
        c["volumeMounts"],
        json!([{"name": "host", "mountPath": "/host"}])
    );
    let env: BTreeMap<String, Value> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e.get("value").cloned().unwrap_or(e["valueFrom"].clone()),
            )
        })
        .collect();
    assert_eq!(
        env["NODE_NAME"],
        json!({"fieldRef": {"fieldPath": "spec.nodeName"}})
    );
    assert_eq!(env["HOST_ROOT"], "/host");
    assert_eq!(env["SHIM_DIR"], "/opt/spinkube/bin");
    assert_eq!(env["CONTAINERD_CONFIG"], "");

    // Least privilege: label nodes; the cleanup's per-node pods in its own namespace.
    let cr: ClusterRole = typed(
        objs.iter()
            .find(|o| o["kind"] == "ClusterRole" && is_node_installer(o))
            .unwrap(),
    );
    assert_eq!(
        flat_rules(cr.rules.as_deref().unwrap_or_default()),
        expand(&[""], &["nodes"], &["get", "list", "patch"], &[])
    );
    let role: Role = typed(
        objs.iter()
            .find(|o| o["kind"] == "Role" && is_node_installer(o))
            .unwrap(),
    );
    assert_eq!(
        flat_rules(role.rules.as_deref().unwrap_or_default()),
        expand(&[""], &["pods"], &["get", "create", "delete"], &[])
            .union(&expand(&[""], &["pods/log"], &["get"], &[]))
            .cloned()
            .collect()
    );

    let job = one_node_cleanup(&objs);
    assert_eq!(job["metadata"]["annotations"]["helm.sh/hook"], "pre-delete");
    let jc = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(jc["args"], json!(["cleanup"]));
    assert_eq!(
        jc["image"], c["image"],
        "the cleanup pods run the same image"
    );

    // Values: the installer off leaves the RuntimeClass unselective and cleans up after upgrade;
    // a nodeSelector of one's own keeps the installer's label beside it.
    let off = render(&["--set", "nodeInstaller.enabled=false"]);
    assert!(off.iter().all(|o| o["kind"] != "DaemonSet"));
    assert_eq!(
        one_node_cleanup(&off)["metadata"]["annotations"]["helm.sh/hook"],
        "post-upgrade"
    );
    assert!(one(&off, "RuntimeClass").get("scheduling").is_none());
    let own = render(&[
        "--set",
        "runtimeClass.scheduling.nodeSelector.pool=wasm",
        "--set",
        "nodeInstaller.nodeSelector.pool=wasm",
        "--set",
        "nodeInstaller.containerdConfig=/var/lib/rancher/k3s/agent/etc/containerd/config.toml",
    ]);
    assert_eq!(
        one(&own, "RuntimeClass")["scheduling"]["nodeSelector"],
        json!({"pool": "wasm", "spinkube.dev/shim": "ready"})
    );
    let ds = own.iter().find(|o| o["kind"] == "DaemonSet").unwrap();
    assert_eq!(
        ds["spec"]["template"]["spec"]["nodeSelector"],
        json!({"pool": "wasm"})
    );
    let err = render_as("x", &["--set", "nodeInstaller.shimDir=relative/bin"]).unwrap_err();
    assert!(err.contains("shimDir"), "{err}");
}

fn one_node_cleanup(objs: &[Value]) -> &Value {
    let jobs = all_of(objs, "Job");
    assert_eq!(jobs.len(), 1);
    jobs[0]
}

// ---------- non-default values ----------

#[test]
fn ha_values_turn_on_leader_election_service_monitor_and_more_executors() {
    let objs = render(&["--values", &ci_values("ha-values.yaml")]);
    let a = args(&objs);
    assert!(a.contains(&"--leader-elect".to_string()), "{a:?}");
    assert!(
        a.contains(&"--leader-election-id=spin-operator-leader".to_string()),
        "{a:?}"
    );
    assert!(a.contains(&"--log-format=json".to_string()), "{a:?}");
    assert!(a.contains(&"--watch-namespace=apps".to_string()), "{a:?}");
    assert!(
        a.contains(&"--webhook-extra-san=spin-operator.example.com".to_string()),
        "{a:?}"
    );

    let dep = one(&objs, "Deployment");
    assert_eq!(dep["spec"]["replicas"], 2);
    let pod = &dep["spec"]["template"];
    assert_eq!(
        pod["spec"]["containers"][0]["image"],
        "registry.example.com/spinkube/spin-operator-rs:0.1.0-rc.1"
    );
    assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "Always");
    assert_eq!(
        pod["spec"]["containers"][0]["resources"],
        json!({"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}})
    );
    let env = pod["spec"]["containers"][0]["env"].as_array().expect("env");
    assert!(env.contains(&json!({"name": "RUST_LOG", "value": "info,spinkube_operator=debug"})));
    assert_eq!(
        pod["metadata"]["annotations"],
        json!({"example.com/scrape": "true"})
    );
    assert_eq!(pod["metadata"]["labels"]["team"], "platform");
    assert_eq!(
        pod["spec"]["nodeSelector"],
        json!({"kubernetes.io/os": "linux"})
    );
    assert_eq!(pod["spec"]["tolerations"][0]["key"], "dedicated");
    assert!(pod["spec"]["affinity"]["podAntiAffinity"].is_object());
    assert_eq!(pod["spec"]["priorityClassName"], "system-cluster-critical");
    assert_eq!(
        pod["spec"]["imagePullSecrets"],
        json!([{"name": "regcred"}])
    );
    let _: Deployment = typed(dep);

    // ServiceMonitor on the metrics Service only.
    let sm = one(&objs, "ServiceMonitor");
    assert_eq!(sm["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(sm["metadata"]["labels"]["release"], "prometheus");
    assert_eq!(
        sm["spec"]["endpoints"],
        json!([{"port": "metrics", "path": "/metrics", "scheme": "http", "interval": "15s", "scrapeTimeout": "5s"}])
    );
    let wanted: BTreeMap<String, Value> =
        serde_json::from_value(sm["spec"]["selector"]["matchLabels"].clone()).expect("matchLabels");
    let matching: Vec<_> = all_of(&objs, "Service")
        .into_iter()
        .filter(|s| {
            wanted
                .iter()
                .all(|(k, v)| s["metadata"]["labels"].get(k) == Some(v))
        })
        .map(key)
        .collect();
    assert_eq!(
        matching,
        vec![k("Service", NAMESPACE, "spin-operator-metrics")]
    );
    let metrics_svc = all_of(&objs, "Service")
        .into_iter()
        .find(|s| s["metadata"]["name"] == "spin-operator-metrics")
        .expect("metrics Service");
    assert_eq!(metrics_svc["spec"]["ports"][0]["port"], 9090);
    assert_eq!(metrics_svc["spec"]["ports"][0]["targetPort"], "metrics");

    // One executor per listed namespace.
    let executors: BTreeSet<_> = all_of(&objs, "SpinAppExecutor")
        .into_iter()
        .map(key)
        .collect();
    assert_eq!(
        executors,
        [
            k("SpinAppExecutor", "default", "containerd-shim-spin"),
            k("SpinAppExecutor", "apps", "containerd-shim-spin"),
        ]
        .into_iter()
        .collect()
    );

    // RuntimeClass scheduling.
    let rc: RuntimeClass = typed(one(&objs, "RuntimeClass"));
    let scheduling = serde_json::to_value(rc.scheduling.expect("scheduling")).expect("json");
    // The node installer's label beside the value's own.
    assert_eq!(
        scheduling["nodeSelector"],
        json!({"spin": "true", "spinkube.dev/shim": "ready"})
    );
    assert_eq!(scheduling["tolerations"][0]["key"], "spin");

    // Webhooks only look at the watched namespace; timeouts follow the value.
    for kind in [
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ] {
        let cfg = one(&objs, kind);
        assert_no_ca_bundle(cfg);
        for hook in cfg["webhooks"].as_array().expect("webhooks") {
            assert_eq!(hook["timeoutSeconds"], 5);
            assert_eq!(
                hook["namespaceSelector"],
                json!({"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["apps"]}]})
            );
        }
    }

    let sa = one(&objs, "ServiceAccount");
    assert_eq!(
        sa["metadata"]["annotations"]["example.com/role"],
        "spin-operator"
    );
}

#[test]
fn minimal_values_switch_everything_optional_off() {
    let objs = render(&["--values", &ci_values("minimal-values.yaml")]);
    assert_eq!(
        keys(&objs),
        [
            k("ClusterRole", "", "spinkube-manager"),
            k("ClusterRoleBinding", "", "spinkube-manager"),
            k("Role", NAMESPACE, "spinkube-leader-election"),
            k("RoleBinding", NAMESPACE, "spinkube-leader-election"),
            k("Deployment", NAMESPACE, "spinkube"),
            k("Service", NAMESPACE, "spinkube-metrics"),
            // The installer off: its cleanup (after the upgrade that turns it off) and what that
            // needs stay.
            k("ServiceAccount", NAMESPACE, "spinkube-node-installer"),
            k("ClusterRole", "", "spinkube-node-installer"),
            k("ClusterRoleBinding", "", "spinkube-node-installer"),
            k("Role", NAMESPACE, "spinkube-node-installer"),
            k("RoleBinding", NAMESPACE, "spinkube-node-installer"),
            k("Job", NAMESPACE, "spinkube-node-cleanup"),
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(
        args(&objs),
        [
            "--namespace=$(POD_NAMESPACE)",
            "--metrics-bind-address=0.0.0.0:8080",
            "--health-probe-bind-address=0.0.0.0:8081",
            "--disable-webhooks",
            "--leader-elect",
            "--leader-election-id=spinkube-lock",
            "--log-format=text",
        ]
    );
    let c = container(&objs);
    let ports: Vec<_> = c["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(ports, vec![json!("metrics"), json!("health")]);
    let dep = one(&objs, "Deployment");
    assert_eq!(
        dep["spec"]["template"]["spec"]["serviceAccountName"],
        "existing-operator-sa"
    );
    for binding in ["ClusterRoleBinding", "RoleBinding"] {
        assert_eq!(
            one(&objs, binding)["subjects"][0]["name"],
            "existing-operator-sa",
            "{binding}"
        );
    }
    // No webhook configurations to patch: no patch rights on them either.
    let cr: ClusterRole = typed(one(&objs, "ClusterRole"));
    assert_eq!(
        flat_rules(cr.rules.as_deref().unwrap_or_default()),
        expected_cluster_rules(None, None)
    );
    // No webhook certificate either: the namespaced Role holds only the Lease.
    let role: Role = typed(one(&objs, "Role"));
    assert!(
        flat_rules(role.rules.as_deref().unwrap_or_default())
            .iter()
            .all(|(_, res, _, _)| res == "leases"),
        "{:?}",
        role.rules
    );
}

#[test]
fn single_settings_do_what_they_say() {
    // replicaCount > 1 alone turns leader election on.
    let a = args(&render(&["--set", "replicaCount=3"]));
    assert!(a.contains(&"--leader-elect".to_string()), "{a:?}");
    // defaultExecutor.enabled=false: no executor; runtimeClass.enabled=false: no RuntimeClass.
    let objs = render(&["--set", "defaultExecutor.enabled=false"]);
    assert!(all_of(&objs, "SpinAppExecutor").is_empty());
    assert_eq!(all_of(&objs, "RuntimeClass").len(), 1);
    let objs = render(&["--set", "runtimeClass.enabled=false"]);
    assert!(all_of(&objs, "RuntimeClass").is_empty());
    assert_eq!(all_of(&objs, "SpinAppExecutor").len(), 1);
    // A renamed RuntimeClass is what the executor uses.
    let objs = render(&[
        "--set",
        "runtimeClass.name=spin-v2,runtimeClass.handler=spin-handler",
    ]);
    assert_eq!(one(&objs, "RuntimeClass")["metadata"]["name"], "spin-v2");
    assert_eq!(one(&objs, "RuntimeClass")["handler"], "spin-handler");
    assert_eq!(
        one(&objs, "SpinAppExecutor")["spec"]["deploymentConfig"]["runtimeClassName"],
        "spin-v2"
    );
    // serviceMonitor on.
    let objs = render(&["--set", "metrics.serviceMonitor.enabled=true"]);
    assert_eq!(
        one(&objs, "ServiceMonitor")["spec"]["endpoints"][0]["interval"],
        "30s"
    );
    // A digest pins the image.
    let digest = format!("sha256:{}", "a".repeat(64));
    let objs = render(&["--set", &format!("image.digest={digest}")]);
    assert_eq!(
        container(&objs)["image"],
        format!("ghcr.io/spinkube/spin-operator-rs@{digest}")
    );
}

/// The real `spin-operator` binary accepts every argument list the chart renders: it gets past flag
/// parsing and stops at the (deliberately unreadable) kubeconfig.
#[test]
fn operator_binary_accepts_the_rendered_flags() {
    let renders = [
        render(&[]),
        render(&["--values", &ci_values("ha-values.yaml")]),
        render(&["--values", &ci_values("minimal-values.yaml")]),
    ];
    for objs in &renders {
        let a = args(objs);
        let out = Command::new(env!("CARGO_BIN_EXE_spin-operator"))
            .args(&a)
            .env("KUBECONFIG", "/nonexistent/spinkube-chart-test/kubeconfig")
            .env("POD_NAMESPACE", NAMESPACE)
            .output()
            .expect("run spin-operator");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(
            out.status.code(),
            Some(2),
            "flags rejected: {a:?}\n{stderr}"
        );
        assert!(
            stderr.contains("cannot read kubeconfig"),
            "spin-operator {a:?} stopped somewhere else:\n{stderr}"
        );
    }
}

#[test]
fn two_releases_name_their_cluster_scoped_objects_apart() {
    let a = render(&[]);
    let b = render_as("other", &[]).expect("render other");
    let cluster_scoped = |objs: &[Value]| -> BTreeSet<(String, String, String)> {
        objs.iter()
            .map(key)
            .filter(|(kind, ns, _)| ns.is_empty() && kind != "RuntimeClass")
            .collect()
    };
    let (ca, cb) = (cluster_scoped(&a), cluster_scoped(&b));
    assert_eq!(ca.len(), 6);
    assert!(ca.is_disjoint(&cb), "{ca:?} vs {cb:?}");
    // The operator is told the names this release uses.
    let other_args = args(&b);
    for want in [
        "--webhook-service-name=other-spin-operator-webhook",
        "--webhook-cert-secret=other-spin-operator-webhook-cert",
        "--mutating-webhook-configuration=other-spin-operator-mutating-webhook-configuration",
        "--validating-webhook-configuration=other-spin-operator-validating-webhook-configuration",
    ] {
        assert!(
            other_args.contains(&want.to_string()),
            "{want} missing from {other_args:?}"
        );
    }
    assert!(keys(&b).contains(&k(
        "MutatingWebhookConfiguration",
        "",
        "other-spin-operator-mutating-webhook-configuration"
    )));
    // Names and labels stay valid even for a long release name.
    // 53 characters is the longest release name helm accepts; with and without the chart name in it.
    for long in [
        "a-very-long-release-name-for-the-spin-operator-charts",
        "a-very-long-release-name-for-running-webassembly-app",
    ] {
        let objs = render_as(long, &[]).expect("long release name");
        for obj in &objs {
            // Services are DNS labels (63 characters); other names DNS subdomains (253).
            let name = obj["metadata"]["name"].as_str().unwrap_or_default();
            let max = if obj["kind"] == "Service" { 63 } else { 253 };
            assert!(
                name.len() <= max,
                "{:?} is longer than {max} characters",
                key(obj)
            );
            for (k, v) in obj["metadata"]["labels"].as_object().expect("labels") {
                let v = v.as_str().unwrap_or_default();
                assert!(v.len() <= 63, "label {k}={v} is longer than 63 characters");
            }
        }
        let a = args(&objs);
        let hook_cfg = one(&objs, "ValidatingWebhookConfiguration")["metadata"]["name"]
            .as_str()
            .expect("name")
            .to_string();
        assert!(a.contains(&format!("--validating-webhook-configuration={hook_cfg}")));
    }
}

#[test]
fn values_schema_rejects_unknown_and_invalid_values() {
    for (set, want) in [
        ("bogus=1", "bogus"),
        ("image.bogus=1", "bogus"),
        ("logging.format=xml", "format"),
        ("replicaCount=0", "replicaCount"),
        ("image.pullPolicy=Sometimes", "pullPolicy"),
        (
            "defaultExecutor.namespaces[0]=Not_A_Namespace",
            "namespaces",
        ),
        ("metrics.serviceMonitor.interval=often", "interval"),
    ] {
        let err = render_as(RELEASE, &["--set", set])
            .err()
            .unwrap_or_else(|| panic!("--set {set} was accepted"));
        assert!(err.contains(want), "--set {set}: {err}");
    }
    let err = render_as(RELEASE, &["--set", "serviceAccount.create=false"])
        .expect_err("create=false without a name");
    assert!(err.contains("serviceAccount.name is required"), "{err}");
}

/// NOTES.txt rendered through helm (helm template does not print notes, and `install --dry-run`
/// wants a cluster): a copy of the chart with a template that renders the notes into a document.
fn render_notes(extra: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("spin-operator");
    copy_dir(&chart(), &copy);
    std::fs::copy(copy.join("templates/NOTES.txt"), copy.join("notes.txt")).expect("copy notes");
    std::fs::write(
        copy.join("templates/zz-notes.yaml"),
        "notes: {{ tpl (.Files.Get \"notes.txt\") . | toJson }}\n",
    )
    .expect("write notes template");
    let copy_s = copy.display().to_string();
    let mut args = vec![
        "template",
        RELEASE,
        &copy_s,
        "--namespace",
        NAMESPACE,
        "--show-only",
        "templates/zz-notes.yaml",
    ];
    args.extend_from_slice(extra);
    let out = run_helm(&args).unwrap_or_else(|e| panic!("rendering NOTES.txt failed:\n{e}"));
    let docs = parse_docs(&out, "notes");
    docs[0]["notes"].as_str().expect("notes text").to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn notes_tell_how_to_deploy_a_first_app() {
    let notes = render_notes(&[]);
    for want in [
        "kubectl -n spin-operator rollout status deployment/spin-operator",
        "spinkube scaffold --from ghcr.io/spinkube/containerd-shim-spin/examples/spin-rust-hello:v0.13.0",
        "| kubectl -n default apply -f -",
        "kubectl -n default port-forward svc/spin-rust-hello 8080:80",
        "curl http://localhost:8080/hello",
        "kubectl delete spinapps --all -A",
        "helm -n spin-operator uninstall spin-operator",
    ] {
        assert!(notes.contains(want), "NOTES.txt lacks {want:?}:\n{notes}");
    }
    assert!(!notes.contains("No executor was installed"), "{notes}");

    // Without the default executor, the notes show one to apply, and it is a valid executor.
    let notes = render_notes(&["--set", "defaultExecutor.enabled=false"]);
    let yaml: String = notes
        .split("<<'YAML'\n")
        .nth(1)
        .and_then(|rest| rest.split("\n  YAML").next())
        .expect("an executor manifest in the notes")
        .lines()
        .map(|l| format!("{}\n", l.strip_prefix("  ").unwrap_or(l)))
        .collect();
    let docs = parse_docs(&yaml, "executor in NOTES.txt");
    let ex: SpinAppExecutor = typed(&docs[0]);
    assert_eq!(ex.metadata.name.as_deref(), Some("containerd-shim-spin"));
    assert_eq!(validate::executor(&ex), Vec::<String>::new());

    let notes = render_notes(&["--values", &ci_values("ha-values.yaml")]);
    assert!(notes.contains("ServiceMonitor spin-operator"), "{notes}");
}

// ---------- drift ----------

fn yaml_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".yaml"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect()
}

#[test]
fn chart_and_config_crds_are_the_generated_crds_byte_for_byte() {
    let generated = yaml_files(&root().join("crds"));
    assert_eq!(generated.len(), 2, "crds/ holds the two CRDs");
    let config: BTreeMap<_, _> = yaml_files(&root().join("config/crd"))
        .into_iter()
        .filter(|(name, _)| name != "kustomization.yaml")
        .collect();
    for (what, copy) in [
        (
            "charts/spin-operator/crds",
            yaml_files(&chart().join("crds")),
        ),
        ("config/crd", config),
    ] {
        assert_eq!(
            copy.keys().collect::<Vec<_>>(),
            generated.keys().collect::<Vec<_>>(),
            "{what} holds other files than crds/; run config/generate.sh"
        );
        for (name, body) in &generated {
            assert!(
                copy[name] == *body,
                "{what}/{name} differs from crds/{name}; run config/generate.sh"
            );
        }
    }
}

/// Every file under `dir`, relative to it.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).expect("under base").to_path_buf();
                out.insert(rel, std::fs::read(&path).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn config_is_what_generate_sh_renders_now() {
    let out = tempfile::tempdir().expect("tempdir");
    let script = root().join("config/generate.sh");
    let status = Command::new("bash")
        .arg(&script)
        .arg(out.path())
        .env("HELM", helm())
        .status()
        .expect("run config/generate.sh");
    assert!(status.success(), "config/generate.sh failed");
    let fresh = tree(out.path());
    let config = root().join("config");
    assert!(fresh.len() >= 12, "{:?}", fresh.keys().collect::<Vec<_>>());
    for (rel, body) in &fresh {
        let committed = std::fs::read(config.join(rel))
            .unwrap_or_else(|e| panic!("config/{}: {e}; run config/generate.sh", rel.display()));
        assert!(
            committed == *body,
            "config/{} is stale; run config/generate.sh",
            rel.display()
        );
    }
    // The generated directories hold nothing else (samples/ also has hand-written files).
    for dir in ["crd", "rbac", "manager", "webhook", "default"] {
        let committed: BTreeSet<PathBuf> = tree(&config.join(dir))
            .into_keys()
            .map(|p| Path::new(dir).join(p))
            .collect();
        let generated: BTreeSet<PathBuf> = fresh
            .keys()
            .filter(|p| p.starts_with(dir))
            .cloned()
            .collect();
        assert_eq!(
            committed, generated,
            "config/{dir} has files generate.sh does not write"
        );
    }
}

/// The objects of the kustomization in config/default are the chart's (default values) plus the
/// Namespace and the CRDs: checked with `kubectl kustomize` when a kubectl is at hand (e2e/k8s/build-kube.sh).
#[test]
fn config_default_kustomization_builds_the_chart_objects() {
    // The control-plane tests' kubectl (built and cached on first use, like the other binaries).
    let kubectl = spinkube_testenv::Binaries::get()
        .expect("kubectl from spinkube-testenv")
        .kubectl();
    let out = Command::new(&kubectl)
        .args(["kustomize", "config/default"])
        .current_dir(root())
        .output()
        .expect("run kubectl kustomize");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut built = parse_docs(&String::from_utf8_lossy(&out.stdout), "kustomize output");
    // The node installer is its own kustomization (config/node-installer, its own namespace).
    let mut chart_objs: Vec<Value> = render(&[])
        .into_iter()
        .filter(|o| o["kind"] != "SpinAppExecutor" && o["kind"] != "RuntimeClass")
        .filter(|o| !is_node_installer(o))
        .collect();
    for o in chart_objs.iter_mut() {
        strip_helm_labels(o);
    }
    built.retain(|o| o["kind"] != "Namespace" && o["kind"] != "CustomResourceDefinition");
    let by_key =
        |objs: Vec<Value>| -> BTreeMap<_, _> { objs.into_iter().map(|o| (key(&o), o)).collect() };
    assert_eq!(by_key(built), by_key(chart_objs));
}

// ---------- samples ----------

#[test]
fn samples_are_valid_for_the_operator() {
    let dir = root().join("config/samples");
    let files = yaml_files(&dir);
    assert!(files.len() >= 15, "{:?}", files.keys().collect::<Vec<_>>());

    // The generated default executor is available to every sample (it is applied first).
    let shim = parse_docs(
        &String::from_utf8_lossy(&files["spin-shim-executor.yaml"]),
        "spin-shim-executor.yaml",
    );
    let shim: SpinAppExecutor = typed(&shim[0]);
    let runtime_class = parse_docs(
        &String::from_utf8_lossy(&files["spin-runtime-class.yaml"]),
        "spin-runtime-class.yaml",
    );
    let runtime_class: RuntimeClass = typed(&runtime_class[0]);
    assert_eq!(runtime_class.handler, "spin");

    let mut app_names = BTreeSet::new();
    let mut kinds_seen = BTreeSet::new();
    for (file, body) in &files {
        let docs = parse_docs(&String::from_utf8_lossy(body), file);
        assert!(!docs.is_empty(), "{file} is empty");
        let mut executors = vec![shim.clone()];
        let mut apps: Vec<SpinApp> = Vec::new();
        for doc in &docs {
            let kind = doc["kind"].as_str().unwrap_or_default().to_string();
            assert!(
                doc["metadata"].get("namespace").is_none(),
                "{file}: {kind} must not pin a namespace (kubectl -n picks it)"
            );
            match kind.as_str() {
                "SpinApp" | "SpinAppExecutor" => {
                    assert_eq!(doc["apiVersion"], "core.spinkube.dev/v1alpha1", "{file}");
                }
                _ => {}
            }
            match kind.as_str() {
                "SpinApp" => {
                    let app: SpinApp = typed(doc);
                    assert_known_fields(doc, &serde_json::to_value(&app).expect("json"), file);
                    apps.push(app);
                }
                "SpinAppExecutor" => {
                    let ex: SpinAppExecutor = typed(doc);
                    assert_known_fields(doc, &serde_json::to_value(&ex).expect("json"), file);
                    assert_eq!(validate::executor(&ex), Vec::<String>::new(), "{file}");
                    if let Some(rc) = ex
                        .spec
                        .deployment_config
                        .as_ref()
                        .and_then(|c| c.runtime_class_name.as_ref())
                    {
                        assert_eq!(Some(rc), runtime_class.metadata.name.as_ref(), "{file}");
                    }
                    executors.push(ex);
                }
                "Secret" => {
                    let _: Secret = typed(doc);
                }
                "ConfigMap" => {
                    let _: ConfigMap = typed(doc);
                }
                "ServiceAccount" => {
                    let _: ServiceAccount = typed(doc);
                }
                "RuntimeClass" => {
                    let _: RuntimeClass = typed(doc);
                }
                "HorizontalPodAutoscaler" => {
                    let _: HorizontalPodAutoscaler = typed(doc);
                }
                "ScaledObject" => {
                    assert_eq!(doc["apiVersion"], "keda.sh/v1alpha1", "{file}");
                }
                other => panic!("{file}: unexpected kind {other}"),
            }
            kinds_seen.insert(kind);
        }
        let executor_names: Vec<String> = executors
            .iter()
            .filter_map(|e| e.metadata.name.clone())
            .collect();
        for app in &mut apps {
            let name = app.metadata.name.clone().unwrap_or_default();
            assert!(
                app_names.insert(name.clone()),
                "SpinApp {name} appears twice in config/samples"
            );
            app.metadata.namespace = Some("default".into());
            let executor = executors
                .iter()
                .find(|e| e.metadata.name.as_deref() == Some(app.spec.executor.as_str()));
            assert!(
                executor.is_some(),
                "{file}: {name} uses unknown executor {}",
                app.spec.executor
            );
            assert_eq!(
                validate::spinapp(app, executor, &executor_names),
                Vec::<String>::new(),
                "{file}: {name}"
            );
        }
        // Autoscalers target an app of the same file: its Deployment when the app leaves replicas to
        // the autoscaler (enableAutoscaling), or the SpinApp's scale subresource otherwise.
        for doc in docs
            .iter()
            .filter(|d| d["kind"] == "HorizontalPodAutoscaler" || d["kind"] == "ScaledObject")
        {
            let target = &doc["spec"]["scaleTargetRef"];
            let app = apps
                .iter()
                .find(|a| a.metadata.name.as_deref() == target["name"].as_str())
                .unwrap_or_else(|| panic!("{file}: autoscaler targets unknown app {target}"));
            match (target["apiVersion"].as_str(), target["kind"].as_str()) {
                (Some("apps/v1"), Some("Deployment")) => {
                    assert!(app.spec.enable_autoscaling, "{file}: set enableAutoscaling")
                }
                (Some("core.spinkube.dev/v1alpha1"), Some("SpinApp")) => {
                    assert!(
                        !app.spec.enable_autoscaling,
                        "{file}: the scale subresource needs enableAutoscaling off"
                    )
                }
                other => panic!("{file}: unexpected scale target {other:?}"),
            }
        }
    }
    for kind in [
        "SpinApp",
        "SpinAppExecutor",
        "RuntimeClass",
        "HorizontalPodAutoscaler",
        "ScaledObject",
    ] {
        assert!(kinds_seen.contains(kind), "no sample has a {kind}");
    }
}

/// Every SpinApp feature of the API is shown by at least one sample.
#[test]
fn samples_cover_every_spinapp_feature() {
    let dir = root().join("config/samples");
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut executor_used: BTreeSet<String> = BTreeSet::new();
    for (file, body) in yaml_files(&dir) {
        for doc in parse_docs(&String::from_utf8_lossy(&body), &file) {
            let spec = doc["spec"].as_object().cloned().unwrap_or_default();
            match doc["kind"].as_str() {
                Some("SpinApp") => used.extend(spec.keys().cloned()),
                Some("SpinAppExecutor") => {
                    executor_used.extend(spec.keys().cloned());
                    if let Some(cfg) = spec.get("deploymentConfig").and_then(Value::as_object) {
                        executor_used.extend(cfg.keys().map(|k| format!("deploymentConfig.{k}")));
                    }
                }
                _ => {}
            }
        }
    }
    // All top-level SpinApp spec fields, read off the operator's own type.
    let all = serde_json::to_value(SpinApp::new(
        "x",
        serde_json::from_value(json!({
            "image": "i", "executor": "e", "imagePullPolicy": "Always", "imagePullSecrets": [{"name": "s"}],
            "checks": {"liveness": {"httpGet": {"path": "/"}}}, "replicas": 1, "enableAutoscaling": true,
            "runtimeConfig": {"loadFromSecret": "s"}, "volumes": [{"name": "v", "emptyDir": {}}],
            "volumeMounts": [{"name": "v", "mountPath": "/v"}], "variables": [{"name": "v", "value": "x"}],
            "serviceAnnotations": {"a": "b"}, "deploymentAnnotations": {"a": "b"}, "podAnnotations": {"a": "b"},
            "podLabels": {"a": "b"}, "resources": {"limits": {"cpu": "1"}}, "components": ["c"],
            "serviceAccountName": "s", "invocationLimits": {"memory": "1Mi"}, "nodeSelector": {"a": "b"},
            "tolerations": [{"key": "k"}], "affinity": {}, "port": 80
        }))
        .expect("spec"),
    ))
    .expect("json");
    let fields: BTreeSet<String> = all["spec"]
        .as_object()
        .expect("spec")
        .keys()
        .cloned()
        .collect();
    let missing: Vec<_> = fields.difference(&used).collect();
    assert!(
        missing.is_empty(),
        "no sample shows SpinApp spec fields {missing:?}"
    );
    for f in [
        "deploymentConfig.runtimeClassName",
        "deploymentConfig.spinImage",
        "deploymentConfig.caCertSecret",
        "deploymentConfig.installDefaultCACerts",
        "deploymentConfig.otel",
    ] {
        assert!(executor_used.contains(f), "no sample executor sets {f}");
    }
}

/// The cached helm binary (built on first use, see `spinkube_testenv::helm`).
fn helm() -> PathBuf {
    spinkube_testenv::helm().expect("helm")
}
