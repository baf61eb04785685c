// kube's `printcolumn(...)` entries repeat keys by design; clippy reads them as duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, EnvVarSource, LocalObjectReference, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired state of a SpinApp.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "core.spinkube.dev",
    version = "v1alpha1",
    kind = "SpinApp",
    doc = "SpinApp runs a Spin application from an OCI image on the cluster.",
    namespaced,
    status = "SpinAppStatus",
    shortname = "sapp",
    category = "spinkube",
    printcolumn(name = "Ready", type_ = "integer", json_path = ".status.readyReplicas"),
    printcolumn(name = "Desired", type_ = "integer", json_path = ".spec.replicas"),
    printcolumn(name = "Executor", type_ = "string", json_path = ".spec.executor"),
    printcolumn(
        name = "Deployment",
        type_ = "string",
        json_path = ".status.deploymentName",
        priority = "1"
    ),
    printcolumn(
        name = "Service",
        type_ = "string",
        json_path = ".status.serviceName",
        priority = "1"
    ),
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.readyReplicas",
        label_selector_path = ".status.selector"
    )
)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = executor_required)]
pub struct SpinAppSpec {
    /// Executor controls how this app is executed in the cluster.
    ///
    /// Defaults to whatever executor is available on the cluster. If multiple executors are available then
    /// the first executor in alphabetical order will be chosen.
    // Required in the schema (see `executor_required`); serde's `default` only lets the webhook
    // read a SpinApp that lacks it.
    #[serde(default)]
    pub executor: String,

    /// Image is the OCI reference of the Spin application (for example `ghcr.io/org/app:v1`).
    pub image: String,

    /// ImagePullPolicy for the app image: Always, IfNotPresent or Never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,

    /// ImagePullSecrets is a list of references to secrets in the same namespace to use for pulling the image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,

    /// Checks defines health checks that Kubernetes uses to monitor the application.
    #[serde(default, skip_serializing_if = "HealthChecks::is_empty")]
    pub checks: HealthChecks,

    /// Number of replicas to run. Defaults to 1; must be unset when enableAutoscaling is true.
    /// `kubectl scale spinapp` and HorizontalPodAutoscalers targeting the SpinApp change it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,

    /// EnableAutoscaling leaves the replica count of the Deployment to an external autoscaler (HPA/KEDA)
    /// that targets the Deployment. Replicas cannot be set when this is true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enable_autoscaling: bool,

    /// RuntimeConfig defines configuration to be applied at runtime for this app.
    #[serde(default, skip_serializing_if = "RuntimeConfig::is_empty")]
    pub runtime_config: RuntimeConfig,

    /// Volumes defines the volumes to be mounted in the underlying pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,

    /// VolumeMounts defines how volumes are mounted in the underlying containers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,

    /// Variables provide Kubernetes bindings to Spin application variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<SpinVar>,

    /// ServiceAnnotations defines annotations to be applied to the underlying service.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub service_annotations: BTreeMap<String, String>,

    /// DeploymentAnnotations defines annotations to be applied to the underlying deployment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deployment_annotations: BTreeMap<String, String>,

    /// PodAnnotations defines annotations to be applied to the underlying pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_annotations: BTreeMap<String, String>,

    /// PodLabels defines labels to be applied to the underlying pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: BTreeMap<String, String>,

    /// Resources defines the resource requirements for this app.
    #[serde(default, skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,

    /// Components of the app to execute. If this is not provided all components are executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub components: Option<Vec<String>>,

    /// ServiceAccountName is the name of the Kubernetes service account to use for the pod.
    /// If not specified, the default service account is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,

    /// InvocationLimits define limits applied to each invocation of the app, for example
    /// `memory: 128Mi` (the most memory one instance may use).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub invocation_limits: BTreeMap<String, String>,

    /// NodeSelector constrains the app's pods to nodes with these labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,

    /// Tolerations of the app's pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,

    /// Affinity of the app's pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,

    /// Port the app listens on inside the pod (default 80). The Service always exposes port 80.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
}

/// A binding between a Spin variable and a static or dynamic value.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpinVar {
    /// Name of the variable to bind.
    pub name: String,
    /// Value is the static value to bind to the variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// ValueFrom is a reference to dynamically bind the variable to (Secret or ConfigMap key, field ref...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<EnvVarSource>,
}

/// Resource requirements of the app's container.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct Resources {
    /// Limits describes the maximum amount of compute resources allowed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, Quantity>,
    /// Requests describes the minimum amount of compute resources required.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, Quantity>,
}

impl Resources {
    /// Whether neither limits nor requests are set.
    pub fn is_empty(&self) -> bool {
        self.limits.is_empty() && self.requests.is_empty()
    }
}

/// Readiness and liveness probes of the application.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct HealthChecks {
    /// Readiness defines the readiness probe for the application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<HealthProbe>,
    /// Liveness defines the liveness probe for the application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<HealthProbe>,
}

impl HealthChecks {
    /// Whether neither probe is set.
    pub fn is_empty(&self) -> bool {
        self.readiness.is_none() && self.liveness.is_none()
    }
}

fn default_initial_delay() -> i32 {
    10
}
fn default_timeout() -> i32 {
    1
}
fn default_period() -> i32 {
    10
}
fn default_success() -> i32 {
    1
}
fn default_failure() -> i32 {
    3
}

/// One health check of the application.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthProbe {
    /// HTTPGet describes a health check performed with a GET request.
    #[serde(default, rename = "httpGet", skip_serializing_if = "Option::is_none")]
    pub http_get: Option<HttpHealthProbe>,
    /// Number of seconds after the app has started before probes are initiated. Default 10.
    #[serde(default = "default_initial_delay")]
    pub initial_delay_seconds: i32,
    /// Number of seconds after which the probe times out. Default 1, minimum 1.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: i32,
    /// How often (in seconds) to perform the probe. Default 10, minimum 1.
    #[serde(default = "default_period")]
    pub period_seconds: i32,
    /// Minimum consecutive successes to be considered successful after having failed. Default 1.
    #[serde(default = "default_success")]
    pub success_threshold: i32,
    /// Minimum consecutive failures to be considered failed after having succeeded. Default 3.
    #[serde(default = "default_failure")]
    pub failure_threshold: i32,
}

impl Default for HealthProbe {
    fn default() -> Self {
        HealthProbe {
            http_get: None,
            initial_delay_seconds: default_initial_delay(),
            timeout_seconds: default_timeout(),
            period_seconds: default_period(),
            success_threshold: default_success(),
            failure_threshold: default_failure(),
        }
    }
}

/// A health check made with HTTP GET against the app.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpHealthProbe {
    /// Path called for the health check, e.g. /healthz.
    pub path: String,
    /// HTTPHeaders are headers included in the health check request.
    #[serde(default, rename = "httpHeaders", skip_serializing_if = "Vec::is_empty")]
    pub http_headers: Vec<HttpHealthProbeHeader>,
}

/// A header of a health check request.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct HttpHealthProbeHeader {
    /// Name of the HTTP header sent with the probe.
    pub name: String,
    /// Value of the header.
    pub value: String,
}

/// Runtime configuration of the app: stores and databases rendered into Spin's runtime-config.toml, or a
/// Secret that already holds one.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeConfig {
    /// LoadFromSecret names a Secret with a key `runtime-config.toml` holding the whole runtime config.
    /// When set, all other runtime config fields are ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_from_secret: Option<String>,
    /// SqliteDatabases binds Spin SQLite database labels to providers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sqlite_databases: Vec<SqliteDatabaseConfig>,
    /// KeyValueStores binds Spin key-value store labels to providers (spin, redis, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_value_stores: Vec<KeyValueStoreConfig>,
    /// LLMCompute configures the LLM compute provider.
    #[serde(
        default,
        rename = "llmCompute",
        skip_serializing_if = "Option::is_none"
    )]
    pub llm_compute: Option<LlmComputeConfig>,
}

impl RuntimeConfig {
    /// Whether every field is unset.
    pub fn is_empty(&self) -> bool {
        self == &RuntimeConfig::default()
    }
}

/// A SQLite database binding: `[sqlite_database.<name>] type = ...` plus options.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct SqliteDatabaseConfig {
    /// Name of the SQLite database as the app's components refer to it (`default` is the one Spin gives every app).
    pub name: String,
    /// Backend type, as in Spin's runtime config (for example `redis`, `spin`).
    #[serde(rename = "type")]
    pub type_: String,
    /// Options of the backend (for example `url`), each a value or a Secret/ConfigMap key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<RuntimeConfigOption>,
}

/// A key-value store binding: `[key_value_store.<name>] type = ...` plus options.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct KeyValueStoreConfig {
    /// Name of the key-value store as the app's components refer to it (`default` is the one Spin gives every app).
    pub name: String,
    /// Backend type, as in Spin's runtime config (for example `redis`, `spin`).
    #[serde(rename = "type")]
    pub type_: String,
    /// Options of the backend (for example `url`), each a value or a Secret/ConfigMap key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<RuntimeConfigOption>,
}

/// The LLM compute binding: `[llm_compute] type = ...` plus options.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct LlmComputeConfig {
    /// Backend type, as in Spin's runtime config (for example `remote_http`).
    #[serde(rename = "type")]
    pub type_: String,
    /// Options of the backend (for example `url`, `auth_token`), each a value or a Secret/ConfigMap key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<RuntimeConfigOption>,
}

/// One option of a runtime config entry, static or from a Secret/ConfigMap key.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeConfigOption {
    /// Name of the config option.
    pub name: String,
    /// Value is the static value of the option.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// ValueFrom is a reference to a Secret or ConfigMap key in the app's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<RuntimeConfigVarSource>,
}

/// Where a runtime config option's value comes from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeConfigVarSource {
    /// Selects a key of a ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<k8s_openapi::api::core::v1::ConfigMapKeySelector>,
    /// Selects a key of a Secret in the app's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<k8s_openapi::api::core::v1::SecretKeySelector>,
}

/// Observed state of a SpinApp.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpinAppStatus {
    /// Conditions: `Available` and `Progressing` mirror the Deployment; `Ready` says in words whether the
    /// app serves and why not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// ActiveScheduler is the executor currently running this SpinApp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_scheduler: Option<String>,
    /// Current number of ready replicas of the app's Deployment.
    #[serde(default)]
    pub ready_replicas: i32,
    /// Name of the Deployment running the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_name: Option<String>,
    /// Name of the Service in front of the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// Label selector of the app's pods (used by the scale subresource and HPAs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// `spec.executor` is required, with no schema default, as in SpinKube: the mutating webhook fills it
/// in before validation, and without webhooks the API server names the missing field. (schemars makes
/// every `#[serde(default)]` field optional and gives it a default the API server would apply.)
fn executor_required(schema: &mut schemars::Schema) {
    if let Some(executor) = schema
        .get_mut("properties")
        .and_then(|p| p.get_mut("executor"))
        .and_then(|e| e.as_object_mut())
    {
        executor.remove("default");
    }
    if let Some(obj) = schema.as_object_mut() {
        let required = obj
            .entry("required")
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        if let Some(list) = required.as_array_mut() {
            if !list.iter().any(|v| v == "executor") {
                list.push("executor".into());
            }
        }
    }
}
