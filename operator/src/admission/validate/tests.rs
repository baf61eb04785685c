use serde_json::json;

use super::*;

fn app(spec: serde_json::Value) -> SpinApp {
    serde_json::from_value(
        json!({"apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinApp",
        "metadata": {"name": "hello", "namespace": "ns"}, "spec": spec}),
    )
    .expect("app")
}

fn ex(spec: serde_json::Value) -> SpinAppExecutor {
    serde_json::from_value(
        json!({"apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinAppExecutor",
        "metadata": {"name": "shim", "namespace": "ns"}, "spec": spec}),
    )
    .expect("executor")
}

fn shim() -> SpinAppExecutor {
    ex(
        json!({"createDeployment": true, "deploymentConfig": {"runtimeClassName": "wasmtime-spin-v2"}}),
    )
}

#[test]
fn valid_spinapps_pass() {
    for spec in [
        json!({"image": "i", "executor": "shim", "replicas": 2}),
        json!({"image": "i", "executor": "shim", "enableAutoscaling": true, "resources": {"limits": {"memory": "128Mi"}},
               "invocationLimits": {"memory": "64Mi"}}),
        json!({"image": "i", "executor": "shim", "replicas": 0, "variables": [{"name": "api_key_2", "value": "x"}],
               "runtimeConfig": {"keyValueStores": [{"name": "default", "type": "redis",
                   "options": [{"name": "url", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}]}}),
    ] {
        assert_eq!(
            spinapp(&app(spec.clone()), Some(&shim()), &[]),
            Vec::<String>::new(),
            "{spec}"
        );
    }
}

#[test]
fn each_rule_rejects_with_its_message() {
    let cases: Vec<(serde_json::Value, Option<SpinAppExecutor>, &str)> = vec![
        (json!({"image": "i", "executor": ""}), None, "spec.executor: Required value: no SpinAppExecutor exists in namespace \"ns\""),
        (json!({"image": "i", "executor": "nope"}), None, "SpinAppExecutor \"nope\" does not exist in namespace \"ns\" (available: a, b)"),
        (json!({"image": "i", "executor": "shim", "enableAutoscaling": true, "replicas": 3}), Some(shim()),
         "spec.replicas: Forbidden: replicas (3) cannot be set when spec.enableAutoscaling is true"),
        (json!({"image": "i", "executor": "shim", "replicas": -1}), Some(shim()), "spec.replicas: Invalid value: -1"),
        (json!({"image": "i", "executor": "shim", "deploymentAnnotations": {"a": "b"}}), Some(ex(json!({"createDeployment": false}))),
         "deploymentAnnotations can't be set when the executor does not use operator deployments"),
        (json!({"image": "i", "executor": "shim", "podAnnotations": {"a": "b"}}), Some(ex(json!({"createDeployment": false}))),
         "podAnnotations can't be set when the executor does not use operator deployments"),
        (json!({"image": "i", "executor": "shim", "invocationLimits": {"memory": "256Mi"}, "resources": {"limits": {"memory": "128Mi"}}}),
         Some(shim()), "exceeds spec.resources.limits.memory (128Mi)"),
        (json!({"image": "i", "executor": "shim", "invocationLimits": {"memory": "big"}}), Some(shim()), "not a quantity"),
        (json!({"image": "i", "executor": "shim", "invocationLimits": {"cpu": "1"}}), Some(shim()), "Unsupported value: \"cpu\""),
        (json!({"image": "i", "executor": "shim", "variables": [{"name": "Bad-Name", "value": "x"}]}), Some(shim()),
         "Spin variable names use lowercase letters"),
        (json!({"image": "i", "executor": "shim", "variables": [{"name": "a", "value": "x"}, {"name": "a", "value": "y"}]}), Some(shim()),
         "spec.variables[1].name: Duplicate value"),
        (json!({"image": "i", "executor": "shim", "runtimeConfig": {"loadFromSecret": "s", "keyValueStores": [{"name": "a", "type": "spin"}]}}),
         Some(shim()), "loadFromSecret replaces the whole runtime config"),
        (json!({"image": "i", "executor": "shim", "runtimeConfig": {"keyValueStores": [{"name": "a", "type": "spin"}, {"name": "a", "type": "spin"}]}}),
         Some(shim()), "spec.runtimeConfig.keyValueStores[1].name: Duplicate value"),
        (json!({"image": "i", "executor": "shim", "runtimeConfig": {"sqliteDatabases": [{"name": "a", "type": "spin", "options": [{"name": "path"}]}]}}),
         Some(shim()), "option \"path\" needs value or valueFrom"),
        (json!({"image": "i", "executor": "shim", "volumes": [{"name": "spin-x", "emptyDir": {}}]}), Some(shim()), "reserved for the operator"),
        (json!({"image": "", "executor": "shim"}), Some(shim()), "spec.image: Required value"),
        (json!({"image": "i", "executor": "shim", "imagePullPolicy": "Sometimes"}), Some(shim()), "spec.imagePullPolicy: Unsupported value"),
        (json!({"image": "i", "executor": "shim", "checks": {"readiness": {}}}), Some(shim()), "spec.checks.readiness.httpGet: Required value"),
    ];
    for (spec, executor, want) in cases {
        let errs = spinapp(
            &app(spec.clone()),
            executor.as_ref(),
            &["a".into(), "b".into()],
        );
        assert!(
            errs.iter().any(|e| e.contains(want)),
            "{spec}: {errs:?} lacks {want:?}"
        );
    }
}

#[test]
fn long_names_are_rejected_before_they_break_labels() {
    let mut a = app(json!({"image": "i", "executor": "shim"}));
    a.metadata.name = Some("a".repeat(MAX_APP_NAME + 1));
    assert!(spinapp(&a, Some(&shim()), &[])
        .iter()
        .any(|e| e.contains("must be at most 52 characters")));
    a.metadata.name = Some("a".repeat(MAX_APP_NAME));
    assert!(spinapp(&a, Some(&shim()), &[]).is_empty());
}

#[test]
fn executor_rules() {
    assert!(executor(&shim()).is_empty());
    assert!(executor(&ex(json!({"createDeployment": false}))).is_empty());
    assert!(executor(&ex(
        json!({"createDeployment": true, "deploymentConfig": {"spinImage": "s"}})
    ))
    .is_empty());
    for (spec, want) in [
        (
            json!({"createDeployment": true}),
            "set deploymentConfig.runtimeClassName",
        ),
        (
            json!({"createDeployment": true, "deploymentConfig": {"runtimeClassName": "r", "spinImage": "s"}}),
            "mutually exclusive",
        ),
        (
            json!({"createDeployment": true, "deploymentConfig": {"runtimeClassName": "r", "otel": {}}}),
            "set exporter_otlp_endpoint",
        ),
    ] {
        let errs = executor(&ex(spec.clone()));
        assert!(errs.iter().any(|e| e.contains(want)), "{spec}: {errs:?}");
    }
    assert_eq!(executor_deletion("shim", &[]), None);
    assert!(executor_deletion("shim", &["a".into()])
        .expect("denied")
        .contains("used by SpinApps a"));
}
