//! Table tests: SpinApp + executor (+ referenced objects) → the exact objects applied.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::api::*;

fn app(spec: serde_json::Value) -> SpinApp {
    let mut a: SpinApp = serde_json::from_value(json!({
        "apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinApp",
        "metadata": {"name": "hello", "namespace": "ns", "uid": "u-1"},
        "spec": spec,
    }))
    .expect("valid SpinApp");
    a.metadata.uid = Some("u-1".into());
    a
}

fn shim() -> SpinAppExecutor {
    serde_json::from_value(json!({
        "apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinAppExecutor",
        "metadata": {"name": "containerd-shim-spin", "namespace": "ns"},
        "spec": {"createDeployment": true, "deploymentConfig": {"runtimeClassName": "wasmtime-spin-v2"}},
    }))
    .expect("valid executor")
}

fn executor(spec: serde_json::Value) -> SpinAppExecutor {
    serde_json::from_value(json!({
        "apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinAppExecutor",
        "metadata": {"name": "ex", "namespace": "ns"}, "spec": spec,
    }))
    .expect("valid executor")
}

fn owner() -> serde_json::Value {
    json!([{"apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinApp", "name": "hello", "uid": "u-1",
            "controller": true, "blockOwnerDeletion": true}])
}

const PLAIN_TOML: &str = "[[config_provider]]\nprefix = \"SPIN_VARIABLE_\"\ntype = \"env\"\n";

#[test]
fn plain_shim_app_matches_spinkube_field_by_field() {
    let plan = plan(&app(json!({"image": "ghcr.io/x/hello:v1", "executor": "containerd-shim-spin", "replicas": 2})),
                    &shim(), &Lookups::default()).expect("plan");
    let secret_name = format!("hello-{:x}", adler2::adler32_slice(PLAIN_TOML.as_bytes()));
    let dep = serde_json::to_value(plan.deployment.expect("deployment")).expect("json");
    assert_eq!(
        dep,
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "hello", "namespace": "ns", "labels": {"core.spinkube.dev/app-name": "hello"},
                         "ownerReferences": owner()},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"core.spinkube.dev/app-name": "hello", "core.spinkube.dev/app.hello.status": "ready"}},
                "template": {
                    "metadata": {"labels": {"core.spinkube.dev/app-name": "hello", "core.spinkube.dev/app.hello.status": "ready"}},
                    "spec": {
                        "runtimeClassName": "wasmtime-spin-v2",
                        "serviceAccountName": "default",
                        "containers": [{
                            "name": "hello", "image": "ghcr.io/x/hello:v1", "command": ["/"],
                            "ports": [{"name": "http-app", "containerPort": 80}],
                            "env": [{"name": "SPIN_HTTP_LISTEN_ADDR", "value": "0.0.0.0:80"}],
                            "volumeMounts": [{"name": "spin-runtime-config", "readOnly": true,
                                              "mountPath": "/runtime-config.toml", "subPath": "runtime-config.toml"}],
                            // Ours only: keep serving until the Service stops routing here.
                            "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
                        }],
                        "volumes": [{"name": "spin-runtime-config", "secret": {"secretName": secret_name, "optional": true,
                                     "items": [{"key": "runtime-config.toml", "path": "runtime-config.toml"}]}}],
                    },
                },
            },
        })
    );
    let svc = serde_json::to_value(plan.service).expect("json");
    assert_eq!(
        svc,
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "hello", "namespace": "ns", "labels": {"core.spinkube.dev/app-name": "hello"},
                         "ownerReferences": owner()},
            "spec": {"ports": [{"protocol": "TCP", "port": 80, "targetPort": "http-app"}],
                     "selector": {"core.spinkube.dev/app.hello.status": "ready"}},
        })
    );
    let secret = plan.runtime_config_secret.expect("secret");
    assert_eq!(secret.metadata.name.as_deref(), Some(secret_name.as_str()));
    assert_eq!(
        secret.data.expect("data")["runtime-config.toml"].0,
        PLAIN_TOML.as_bytes()
    );
    assert!(plan.ca_secret.is_none());
}

#[test]
fn every_option_lands_in_the_deployment() {
    let a = app(json!({
        "image": "reg/app:1", "executor": "ex", "enableAutoscaling": true,
        "imagePullPolicy": "Always", "imagePullSecrets": [{"name": "pull"}],
        "variables": [{"name": "greeting", "value": "hi"},
                      {"name": "db_pass", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
        "checks": {"readiness": {"httpGet": {"path": "/ready", "httpHeaders": [{"name": "x", "value": "y"}]}},
                   "liveness": {"httpGet": {"path": "/live"}, "periodSeconds": 3}},
        "resources": {"limits": {"memory": "128Mi", "cpu": "100m"}, "requests": {"cpu": "50m"}},
        "invocationLimits": {"memory": "64Mi"},
        "components": ["a", "b"],
        "serviceAccountName": "sa1",
        "podLabels": {"team": "x"}, "podAnnotations": {"p": "1"},
        "deploymentAnnotations": {"d": "1"}, "serviceAnnotations": {"s": "1"},
        "nodeSelector": {"wasm": "yes"},
        "tolerations": [{"key": "wasm", "operator": "Exists", "effect": "NoSchedule"}],
        "volumes": [{"name": "data", "emptyDir": {}}],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        "port": 8080,
    }));
    let ex = executor(json!({"createDeployment": true, "deploymentConfig": {
        "runtimeClassName": "wasmtime-spin-v2", "installDefaultCACerts": true,
        "otel": {"exporter_otlp_endpoint": "http://otel:4318", "exporter_otlp_logs_endpoint": "http://otel:4318/logs"}}}));
    let plan = plan(&a, &ex, &Lookups::default()).expect("plan");
    let dep = serde_json::to_value(plan.deployment.expect("deployment")).expect("json");
    let spec = &dep["spec"];
    assert!(
        spec.get("replicas").is_none(),
        "autoscaling leaves replicas to the autoscaler"
    );
    assert_eq!(dep["metadata"]["annotations"], json!({"d": "1"}));
    let pod = &spec["template"]["spec"];
    assert_eq!(spec["template"]["metadata"]["labels"]["team"], "x");
    assert_eq!(
        spec["template"]["metadata"]["annotations"],
        json!({"p": "1"})
    );
    assert_eq!(pod["serviceAccountName"], "sa1");
    assert_eq!(pod["imagePullSecrets"], json!([{"name": "pull"}]));
    assert_eq!(pod["nodeSelector"], json!({"wasm": "yes"}));
    assert_eq!(pod["tolerations"][0]["key"], "wasm");
    let c = &pod["containers"][0];
    assert_eq!(c["imagePullPolicy"], "Always");
    assert_eq!(
        c["ports"],
        json!([{"name": "http-app", "containerPort": 8080}])
    );
    assert_eq!(
        c["env"],
        json!([
            {"name": "SPIN_VARIABLE_GREETING", "value": "hi"},
            {"name": "SPIN_VARIABLE_DB_PASS", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            {"name": "SPIN_HTTP_LISTEN_ADDR", "value": "0.0.0.0:8080"},
            {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel:4318"},
            {"name": "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "value": "http://otel:4318/logs"},
            {"name": "SPIN_MAX_INSTANCE_MEMORY", "value": "67108864"},
            {"name": "SPIN_COMPONENTS_TO_RETAIN", "value": "a,b"},
        ])
    );
    assert_eq!(
        c["resources"],
        json!({"limits": {"memory": "128Mi", "cpu": "100m"}, "requests": {"cpu": "50m"}})
    );
    assert_eq!(
        c["readinessProbe"],
        json!({"httpGet": {"path": "/ready", "port": 8080, "httpHeaders": [{"name": "x", "value": "y"}]},
        "initialDelaySeconds": 10, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
    );
    assert_eq!(c["livenessProbe"]["periodSeconds"], 3);
    let mounts: Vec<&str> = c["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        mounts,
        [
            "/runtime-config.toml",
            "/data",
            "/etc/ssl/certs/ca-certificates.crt"
        ]
    );
    assert_eq!(pod["volumes"][2]["secret"]["secretName"], "spin-ca");
    let ca = plan.ca_secret.expect("ca secret");
    assert!(ca.string_data.expect("data")["ca-certificates.crt"].contains("BEGIN CERTIFICATE"));
    let svc = serde_json::to_value(plan.service).expect("json");
    assert_eq!(svc["metadata"]["annotations"], json!({"s": "1"}));
}

#[test]
fn spintainer_executor_runs_spin_up() {
    let a = app(json!({"image": "reg/app:1", "executor": "ex", "components": ["c1"]}));
    let ex = executor(
        json!({"createDeployment": true, "deploymentConfig": {"spinImage": "ghcr.io/spinkube/spintainer:v3"}}),
    );
    let dep = serde_json::to_value(plan(&a, &ex, &Lookups::default()).expect("plan").deployment)
        .expect("json");
    let pod = &dep["spec"]["template"]["spec"];
    assert!(pod.get("runtimeClassName").is_none());
    let c = &pod["containers"][0];
    assert_eq!(c["image"], "ghcr.io/spinkube/spintainer:v3");
    assert!(c.get("command").is_none());
    assert_eq!(
        c["args"],
        json!([
            "up",
            "--listen",
            "0.0.0.0:80",
            "-f",
            "reg/app:1",
            "--runtime-config-file",
            "/runtime-config.toml",
            "--component-id",
            "c1"
        ])
    );
}

#[test]
fn executor_without_deployment_gets_only_a_service() {
    let plan = plan(
        &app(json!({"image": "i", "executor": "ex"})),
        &executor(json!({"createDeployment": false})),
        &Lookups::default(),
    )
    .expect("plan");
    assert!(plan.deployment.is_none() && plan.runtime_config_secret.is_none());
}

#[test]
fn executor_must_pick_exactly_one_way_to_run() {
    for cfg in [
        json!({}),
        json!({"runtimeClassName": "r", "spinImage": "s"}),
    ] {
        let err = plan(
            &app(json!({"image": "i", "executor": "ex"})),
            &executor(json!({"createDeployment": true, "deploymentConfig": cfg})),
            &Lookups::default(),
        )
        .expect_err("misconfigured executor");
        assert_eq!(err.reason(), "InvalidExecutor");
        assert!(err.to_string().contains("exactly one of"), "{err}");
    }
}

fn lookups() -> Lookups {
    Lookups {
        namespace: "ns".into(),
        secrets: BTreeMap::from([
            (
                "redis".into(),
                Some(BTreeMap::from([("url".into(), "redis://r:6379".into())])),
            ),
            (
                "rc".into(),
                Some(BTreeMap::from([(
                    "runtime-config.toml".into(),
                    "[key_value_store.default]\ntype = \"spin\"\n".into(),
                )])),
            ),
            ("gone".into(), None),
        ]),
        config_maps: BTreeMap::from([(
            "cfg".into(),
            Some(BTreeMap::from([("path".into(), "/data/db".into())])),
        )]),
    }
}

#[test]
fn runtime_config_toml_from_values_secrets_and_config_maps() {
    let rc: RuntimeConfig = serde_json::from_value(json!({
        "keyValueStores": [
            {"name": "default", "type": "redis", "options": [{"name": "url", "valueFrom": {"secretKeyRef": {"name": "redis", "key": "url"}}}]},
            {"name": "cache", "type": "spin", "options": [{"name": "path", "value": "/tmp/c.db"}]}],
        "sqliteDatabases": [{"name": "default", "type": "spin", "options": [{"name": "path", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "path"}}}]}],
        "llmCompute": {"type": "remote_http", "options": [{"name": "url", "value": "http://llm"}]},
    })).expect("rc");
    assert_eq!(
        render_runtime_config(&rc, &lookups()).expect("toml"),
        "\
[[config_provider]]
prefix = \"SPIN_VARIABLE_\"
type = \"env\"

[key_value_store.cache]
path = \"/tmp/c.db\"
type = \"spin\"

[key_value_store.default]
type = \"redis\"
url = \"redis://r:6379\"

[llm_compute]
type = \"remote_http\"
url = \"http://llm\"

[sqlite_database.default]
path = \"/data/db\"
type = \"spin\"
"
    );
}

#[test]
fn runtime_config_errors_name_the_field_and_the_fix() {
    let cases = [
        (json!({"keyValueStores": [{"name": "a", "type": "redis", "options": [{"name": "url", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "url"}}}]}]}),
         "MissingSecret", "Secret \"gone\" (referenced by spec.runtimeConfig.keyValueStores[0].options[0]) does not exist in namespace \"ns\""),
        (json!({"keyValueStores": [{"name": "a", "type": "redis", "options": [{"name": "url", "valueFrom": {"secretKeyRef": {"name": "redis", "key": "nope"}}}]}]}),
         "MissingSecretKey", "Secret \"redis\" has no key \"nope\""),
        (json!({"sqliteDatabases": [{"name": "a", "type": "spin", "options": [{"name": "p", "valueFrom": {"configMapKeyRef": {"name": "nocm", "key": "k"}}}]}]}),
         "MissingConfigMap", "ConfigMap \"nocm\""),
        (json!({"keyValueStores": [{"name": "a", "type": "spin"}, {"name": "a", "type": "redis"}]}),
         "InvalidRuntimeConfig", "duplicate definition for key value store with name: a"),
        (json!({"keyValueStores": [{"name": "a", "type": "spin", "options": [{"name": "path"}]}]}),
         "InvalidRuntimeConfig", "has neither value nor valueFrom"),
        (json!({"keyValueStores": [{"name": "a", "type": ""}]}), "InvalidRuntimeConfig", "type is empty"),
    ];
    for (rc, reason, message) in cases {
        let rc: RuntimeConfig = serde_json::from_value(rc).expect("rc");
        let err = render_runtime_config(&rc, &lookups()).expect_err("must fail");
        assert_eq!(err.reason(), reason, "{err}");
        assert!(err.to_string().contains(message), "{err}");
    }
}

#[test]
fn changed_runtime_config_gets_a_new_secret_name() {
    let l = lookups();
    let a1 = app(json!({"image": "i", "executor": "e", "keyValueStores": []}));
    let a2 = app(
        json!({"image": "i", "executor": "e", "runtimeConfig": {"keyValueStores": [{"name": "default", "type": "spin"}]}}),
    );
    let n1 = plan(&a1, &shim(), &l)
        .expect("plan")
        .runtime_config_secret
        .and_then(|s| s.metadata.name);
    let n2 = plan(&a2, &shim(), &l)
        .expect("plan")
        .runtime_config_secret
        .and_then(|s| s.metadata.name);
    assert_ne!(n1, n2);
}

#[test]
fn load_from_secret_mounts_it_and_rolls_on_content_change() {
    let a = app(json!({"image": "i", "executor": "e", "runtimeConfig": {"loadFromSecret": "rc"}}));
    let mut l = lookups();
    let p = plan(&a, &shim(), &l).expect("plan");
    assert!(p.runtime_config_secret.is_none());
    let dep = serde_json::to_value(p.deployment).expect("json");
    assert_eq!(
        dep["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"],
        "rc"
    );
    let sum1 = dep["spec"]["template"]["metadata"]["annotations"]
        ["core.spinkube.dev/runtime-config-checksum"]
        .clone();
    assert!(sum1.is_string());
    l.secrets.insert(
        "rc".into(),
        Some(BTreeMap::from([(
            "runtime-config.toml".into(),
            "changed = 1\n".into(),
        )])),
    );
    let dep2 = serde_json::to_value(plan(&a, &shim(), &l).expect("plan").deployment).expect("json");
    assert_ne!(
        dep2["spec"]["template"]["metadata"]["annotations"]
            ["core.spinkube.dev/runtime-config-checksum"],
        sum1
    );
}

#[test]
fn variable_references_are_checked() {
    let a = app(json!({"image": "i", "executor": "e", "variables": [
        {"name": "a", "valueFrom": {"secretKeyRef": {"name": "redis", "key": "missing"}}}]}));
    let err = lookups::check_references(&a, &lookups()).expect_err("missing key");
    assert_eq!(err.reason(), "MissingSecretKey");
    assert!(
        err.to_string().contains("spec.variables[0].valueFrom"),
        "{err}"
    );
    let optional = app(json!({"image": "i", "executor": "e", "variables": [
        {"name": "a", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": true}}}]}));
    lookups::check_references(&optional, &lookups()).expect("optional refs may be missing");
}

#[test]
fn bad_memory_limit_is_a_clear_error() {
    let a = app(json!({"image": "i", "executor": "e", "invocationLimits": {"memory": "lots"}}));
    let err = plan(&a, &shim(), &Lookups::default()).expect_err("bad quantity");
    assert!(err.to_string().contains("use a value like 128Mi"), "{err}");
}
