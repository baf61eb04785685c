//! The admission rules, as pure functions over the object and what the cluster holds. Messages follow the
//! API server's `field: problem` style and say how to fix it.

use std::collections::BTreeSet;

use crate::api::{RuntimeConfigOption, SpinApp, SpinAppExecutor};
use crate::desired::quantity;

/// Longest SpinApp name: the pod label key `core.spinkube.dev/app.<name>.status` has a 63-character name part.
pub const MAX_APP_NAME: usize = 52;

/// Checks a SpinApp given its executor (None when it does not exist) and the executors of the namespace.
pub fn spinapp(
    app: &SpinApp,
    executor: Option<&SpinAppExecutor>,
    available: &[String],
) -> Vec<String> {
    let mut errs = Vec::new();
    let spec = &app.spec;
    let name = app.metadata.name.clone().unwrap_or_default();
    let ns = app.metadata.namespace.clone().unwrap_or_default();

    if name.len() > MAX_APP_NAME {
        errs.push(format!("metadata.name: Invalid value: \"{name}\": must be at most {MAX_APP_NAME} characters (it becomes part of a pod label key); choose a shorter name"));
    }
    if !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        errs.push(format!("metadata.name: Invalid value: \"{name}\": must start with a lowercase letter (the app's Service is named after it)"));
    }
    if spec.image.trim().is_empty() {
        errs.push(
            "spec.image: Required value: set the OCI reference of the app, e.g. ghcr.io/org/app:v1"
                .into(),
        );
    }
    match (spec.executor.as_str(), executor) {
        ("", _) => errs.push(format!(
            "spec.executor: Required value: no SpinAppExecutor exists in namespace \"{ns}\" to default to; install one (the spin-operator chart creates containerd-shim-spin) or set spec.executor"
        )),
        (ex, None) => errs.push(format!(
            "spec.executor: Invalid value: \"{ex}\": SpinAppExecutor \"{ex}\" does not exist in namespace \"{ns}\" ({})",
            if available.is_empty() { "there are none; install one first".to_string() } else { format!("available: {}", available.join(", ")) }
        )),
        (_, Some(ex)) if !ex.spec.create_deployment => {
            if !spec.deployment_annotations.is_empty() {
                errs.push("spec.deploymentAnnotations: Invalid value: deploymentAnnotations can't be set when the executor does not use operator deployments".into());
            }
            if !spec.pod_annotations.is_empty() {
                errs.push("spec.podAnnotations: Invalid value: podAnnotations can't be set when the executor does not use operator deployments".into());
            }
        }
        _ => {}
    }
    match (spec.enable_autoscaling, spec.replicas) {
        (true, Some(r)) => errs.push(format!(
            "spec.replicas: Forbidden: replicas ({r}) cannot be set when spec.enableAutoscaling is true; remove replicas or turn autoscaling off"
        )),
        (false, Some(r)) if r < 0 => errs.push(format!("spec.replicas: Invalid value: {r}: must be 0 or more")),
        _ => {}
    }
    if let Some(p) = &spec.image_pull_policy {
        if !["Always", "IfNotPresent", "Never"].contains(&p.as_str()) {
            errs.push(format!("spec.imagePullPolicy: Unsupported value: \"{p}\": supported values: \"Always\", \"IfNotPresent\", \"Never\""));
        }
    }
    errs.extend(invocation_limits(app));
    errs.extend(variables(app));
    errs.extend(runtime_config(app));
    for (i, v) in spec.volumes.iter().enumerate() {
        if v.name.starts_with("spin-") {
            errs.push(format!("spec.volumes[{i}].name: Invalid value: \"{}\": names starting with spin- are reserved for the operator; rename the volume", v.name));
        }
    }
    for (kind, probe) in [
        ("readiness", &spec.checks.readiness),
        ("liveness", &spec.checks.liveness),
    ] {
        if let Some(p) = probe {
            if p.http_get.is_none() {
                errs.push(format!("spec.checks.{kind}.httpGet: Required value: set httpGet.path (only HTTP checks are supported)"));
            }
        }
    }
    if matches!(&spec.components, Some(c) if c.iter().any(|c| c.trim().is_empty())) {
        errs.push("spec.components: Invalid value: component ids must not be empty".into());
    }
    errs
}

fn invocation_limits(app: &SpinApp) -> Vec<String> {
    let mut errs = Vec::new();
    for (key, value) in &app.spec.invocation_limits {
        if key != "memory" {
            errs.push(format!(
                "spec.invocationLimits: Unsupported value: \"{key}\": supported values: \"memory\""
            ));
            continue;
        }
        let Some(limit) = quantity::to_units(value) else {
            errs.push(format!("spec.invocationLimits.memory: Invalid value: \"{value}\": not a quantity; use a value like 128Mi"));
            continue;
        };
        if let Some(pod) = app.spec.resources.limits.get("memory") {
            if quantity::to_units(&pod.0).is_some_and(|pod_limit| limit > pod_limit) {
                errs.push(format!(
                    "spec.invocationLimits.memory: Invalid value: \"{value}\": exceeds spec.resources.limits.memory ({}); one instance cannot use more memory than its pod, lower it or raise the pod limit",
                    pod.0
                ));
            }
        }
    }
    errs
}

fn variables(app: &SpinApp) -> Vec<String> {
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, v) in app.spec.variables.iter().enumerate() {
        let valid = v.name.starts_with(|c: char| c.is_ascii_lowercase())
            && v.name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            errs.push(format!(
                "spec.variables[{i}].name: Invalid value: \"{}\": Spin variable names use lowercase letters, digits and underscores and start with a letter",
                v.name
            ));
        }
        if !seen.insert(v.name.clone()) {
            errs.push(format!(
                "spec.variables[{i}].name: Duplicate value: \"{}\"",
                v.name
            ));
        }
        if v.value.is_some() && v.value_from.is_some() {
            errs.push(format!(
                "spec.variables[{i}]: Invalid value: set either value or valueFrom, not both"
            ));
        }
    }
    errs
}

fn runtime_config(app: &SpinApp) -> Vec<String> {
    let rc = &app.spec.runtime_config;
    let mut errs = Vec::new();
    if rc.load_from_secret.is_some()
        && (!rc.key_value_stores.is_empty()
            || !rc.sqlite_databases.is_empty()
            || rc.llm_compute.is_some())
    {
        errs.push("spec.runtimeConfig: Invalid value: loadFromSecret replaces the whole runtime config, so keyValueStores, sqliteDatabases and llmCompute would be ignored; use one or the other".into());
    }
    let mut check = |kind: &str, names: Vec<(&str, &str, &[RuntimeConfigOption])>| {
        let mut seen = BTreeSet::new();
        for (i, (name, type_, options)) in names.into_iter().enumerate() {
            let path = format!("spec.runtimeConfig.{kind}[{i}]");
            if !seen.insert(name.to_string()) {
                errs.push(format!("{path}.name: Duplicate value: \"{name}\""));
            }
            if type_.is_empty() {
                errs.push(format!("{path}.type: Required value"));
            }
            errs.extend(options_errors(&path, options));
        }
    };
    check(
        "keyValueStores",
        rc.key_value_stores
            .iter()
            .map(|s| (s.name.as_str(), s.type_.as_str(), s.options.as_slice()))
            .collect(),
    );
    check(
        "sqliteDatabases",
        rc.sqlite_databases
            .iter()
            .map(|s| (s.name.as_str(), s.type_.as_str(), s.options.as_slice()))
            .collect(),
    );
    if let Some(llm) = &rc.llm_compute {
        errs.extend(options_errors(
            "spec.runtimeConfig.llmCompute",
            &llm.options,
        ));
    }
    errs
}

fn options_errors(path: &str, options: &[RuntimeConfigOption]) -> Vec<String> {
    let mut errs = Vec::new();
    for (i, o) in options.iter().enumerate() {
        let from = o
            .value_from
            .as_ref()
            .map(|f| (f.secret_key_ref.is_some() as u8) + (f.config_map_key_ref.is_some() as u8));
        match (&o.value, from) {
            (Some(_), None) | (None, Some(1)) => {}
            (Some(_), Some(_)) => errs.push(format!("{path}.options[{i}]: Invalid value: set either value or valueFrom, not both")),
            (None, None) => errs.push(format!("{path}.options[{i}]: Required value: option \"{}\" needs value or valueFrom", o.name)),
            (None, Some(_)) => errs.push(format!("{path}.options[{i}].valueFrom: Invalid value: set exactly one of secretKeyRef and configMapKeyRef")),
        }
    }
    errs
}

/// Checks a SpinAppExecutor.
pub fn executor(ex: &SpinAppExecutor) -> Vec<String> {
    let mut errs = Vec::new();
    let cfg = ex.spec.deployment_config.as_ref();
    if ex.spec.create_deployment {
        match cfg.map(|c| (c.runtime_class_name.is_some(), c.spin_image.is_some())) {
            Some((true, false)) | Some((false, true)) => {}
            Some((true, true)) => errs.push("spec.deploymentConfig: Invalid value: runtimeClassName and spinImage are mutually exclusive; set exactly one".into()),
            _ => errs.push("spec.deploymentConfig: Required value: with createDeployment true, set deploymentConfig.runtimeClassName (e.g. wasmtime-spin-v2) or deploymentConfig.spinImage".into()),
        }
    }
    if let Some(otel) = cfg.and_then(|c| c.otel.as_ref()) {
        let all = [
            &otel.exporter_otlp_endpoint,
            &otel.exporter_otlp_traces_endpoint,
            &otel.exporter_otlp_metrics_endpoint,
            &otel.exporter_otlp_logs_endpoint,
        ];
        if all.iter().all(|e| e.as_deref().unwrap_or("").is_empty()) {
            errs.push("spec.deploymentConfig.otel: Required value: set exporter_otlp_endpoint (or a per-signal endpoint), or remove otel".into());
        }
    }
    errs
}

/// Deleting an executor that SpinApps use is refused (the finalizer would otherwise hold it half-deleted).
pub fn executor_deletion(name: &str, users: &[String]) -> Option<String> {
    (!users.is_empty()).then(|| {
        format!(
            "SpinAppExecutor \"{name}\" is used by SpinApps {}: delete them or move them to another executor first",
            users.join(", ")
        )
    })
}

#[cfg(test)]
mod tests;
