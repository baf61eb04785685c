//! The manifest text, built the way the plugin's Go `text/template` emits it.
//!
//! Every `{{- ... }}` action in that template trims the newline before it, so
//! each optional line below is written as "\n" + line, and the document ends
//! with the template's single trailing newline. Values are inserted verbatim
//! (text/template does no YAML quoting or escaping); only `image` sits inside
//! double quotes, as in the template. Documents come in the template's order:
//! SpinApp, runtime-config Secret, then the HPA or KEDA ScaledObject.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The template's data (`appConfig` in the plugin).
#[derive(Debug, Clone, Default)]
pub struct AppConfig<'a> {
    pub name: &'a str,
    pub image: &'a str,
    pub executor: &'a str,
    /// "", "hpa" or "keda" (already validated).
    pub autoscaler: &'a str,
    pub replicas: i32,
    pub max_replicas: i32,
    pub target_cpu_utilization: i32,
    pub target_memory_utilization: i32,
    pub azure_workload_identity: bool,
    pub service_account_name: &'a str,
    pub variables: Option<&'a BTreeMap<String, String>>,
    pub components: &'a [String],
    pub cpu_limit: &'a str,
    pub memory_limit: &'a str,
    pub cpu_request: &'a str,
    pub memory_request: &'a str,
    pub image_pull_secrets: &'a [String],
    /// Base64 (standard, padded) of the runtime config file; "" = none.
    pub runtime_config: &'a str,
}

/// Renders the manifest. Pure: same config, same bytes.
pub fn render(c: &AppConfig<'_>) -> String {
    let mut y = String::with_capacity(512);
    // `write!` into a String cannot fail.
    macro_rules! w {
        ($($t:tt)*) => {{ let _ = write!(y, $($t)*); }};
    }

    w!("apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata:\n");
    w!(
        "  name: {}\nspec:\n  image: \"{}\"\n  executor: {}",
        c.name,
        c.image,
        c.executor
    );
    if !c.autoscaler.is_empty() {
        w!("\n  enableAutoscaling: true");
    } else {
        w!("\n  replicas: {}", c.replicas);
    }
    if c.azure_workload_identity {
        w!("\n  podLabels:\n    azure.workload.identity/use: \"true\"");
    }
    if !c.service_account_name.is_empty() {
        w!("\n  serviceAccountName: {}", c.service_account_name);
    }
    if let Some(vars) = c.variables.filter(|v| !v.is_empty()) {
        w!("\n  variables:");
        for (k, v) in vars {
            w!("\n  - name: {k}\n    value: {v}");
        }
    }
    if !c.components.is_empty() {
        w!("\n  components:");
        for comp in c.components {
            w!("\n  - {comp}");
        }
    }
    // Requests only appear inside the limits block, as in the template.
    if !c.cpu_limit.is_empty() || !c.memory_limit.is_empty() {
        w!("\n  resources:\n    limits:");
        if !c.cpu_limit.is_empty() {
            w!("\n      cpu: {}", c.cpu_limit);
        }
        if !c.memory_limit.is_empty() {
            w!("\n      memory: {}", c.memory_limit);
        }
        if !c.cpu_request.is_empty() || !c.memory_request.is_empty() {
            w!("\n    requests:");
            if !c.cpu_request.is_empty() {
                w!("\n      cpu: {}", c.cpu_request);
            }
            if !c.memory_request.is_empty() {
                w!("\n      memory: {}", c.memory_request);
            }
        }
    }
    if !c.image_pull_secrets.is_empty() {
        w!("\n  imagePullSecrets:");
        for secret in c.image_pull_secrets {
            w!("\n    - name: {secret}");
        }
    }
    if !c.runtime_config.is_empty() {
        w!(
            "\n  runtimeConfig:\n    loadFromSecret: {}-runtime-config",
            c.name
        );
        w!(
            "\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: {}-runtime-config",
            c.name
        );
        w!(
            "\ntype: Opaque\ndata:\n  runtime-config.toml: {}",
            c.runtime_config
        );
    }
    match c.autoscaler {
        "hpa" => {
            w!("\n---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n");
            scale_target(&mut y, c.name);
            w!(
                "\n  minReplicas: {}\n  maxReplicas: {}",
                c.replicas,
                c.max_replicas
            );
            w!("\n  metrics:");
            for (resource, target) in [
                ("cpu", c.target_cpu_utilization),
                ("memory", c.target_memory_utilization),
            ] {
                w!("\n  - type: Resource\n    resource:\n      name: {resource}");
                w!("\n      target:\n        type: Utilization\n        averageUtilization: {target}");
            }
        }
        "keda" => {
            w!("\n---\napiVersion: keda.sh/v1alpha1\nkind: ScaledObject\n");
            scale_target(&mut y, c.name);
            w!(
                "\n  minReplicaCount: {}\n  maxReplicaCount: {}",
                c.replicas,
                c.max_replicas
            );
            w!("\n  triggers:");
            for (kind, target) in [
                ("cpu", c.target_cpu_utilization),
                ("memory", c.target_memory_utilization),
            ] {
                w!("\n  - type: {kind}\n    metricType: Utilization\n    metadata:");
                w!("\n      value: \"{target}\"");
            }
        }
        // Validation only lets "" through besides the two above; the template
        // writes a bare "---" for anything else, and so do we.
        "" => {}
        _ => w!("\n---"),
    }
    y.push('\n');
    y
}

/// `metadata.name` and the `scaleTargetRef` (the Deployment the operator
/// creates under the app's name), shared by the HPA and the ScaledObject.
fn scale_target(y: &mut String, name: &str) {
    let _ = write!(
        y,
        "metadata:\n  name: {name}-autoscaler\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: {name}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> AppConfig<'static> {
        AppConfig {
            name: "example-app",
            image: "ghcr.io/foo/example-app:v0.1.0",
            executor: "containerd-shim-spin",
            replicas: 2,
            max_replicas: 3,
            target_cpu_utilization: 60,
            target_memory_utilization: 60,
            ..AppConfig::default()
        }
    }

    #[test]
    fn plain() {
        assert_eq!(
            render(&base()),
            "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata:\n  name: example-app\nspec:\n  image: \"ghcr.io/foo/example-app:v0.1.0\"\n  executor: containerd-shim-spin\n  replicas: 2\n"
        );
    }

    #[test]
    fn requests_without_limits_are_dropped() {
        let c = AppConfig {
            cpu_request: "100m",
            memory_request: "64Mi",
            ..base()
        };
        assert_eq!(render(&c), render(&base()));
    }

    #[test]
    fn only_memory_limit() {
        let c = AppConfig {
            memory_limit: "128Mi",
            memory_request: "64Mi",
            ..base()
        };
        assert!(render(&c).ends_with(
            "  replicas: 2\n  resources:\n    limits:\n      memory: 128Mi\n    requests:\n      memory: 64Mi\n"
        ));
    }

    #[test]
    fn values_are_inserted_verbatim() {
        let vars = BTreeMap::from([("b".to_string(), "x: y".to_string())]);
        let c = AppConfig {
            variables: Some(&vars),
            ..base()
        };
        assert!(render(&c).ends_with("  variables:\n  - name: b\n    value: x: y\n"));
    }
}
