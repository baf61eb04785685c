// kube's `printcolumn(...)` entries repeat keys by design; clippy reads them as duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired state of a SpinAppExecutor: a Deployment with the containerd shim (`runtimeClassName`), a
/// Deployment running Spin in a container (`spinImage`), or something external (`createDeployment: false`).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "core.spinkube.dev",
    version = "v1alpha1",
    kind = "SpinAppExecutor",
    doc = "SpinAppExecutor says how the SpinApps that name it are run.",
    namespaced,
    status = "SpinAppExecutorStatus",
    shortname = "sapx",
    category = "spinkube",
    printcolumn(
        name = "Deployment",
        type_ = "boolean",
        json_path = ".spec.createDeployment"
    ),
    printcolumn(
        name = "RuntimeClass",
        type_ = "string",
        json_path = ".spec.deploymentConfig.runtimeClassName"
    ),
    printcolumn(
        name = "SpinImage",
        type_ = "string",
        json_path = ".spec.deploymentConfig.spinImage",
        priority = "1"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct SpinAppExecutorSpec {
    /// CreateDeployment says whether the operator creates a Deployment for each app, or whether the app is
    /// realized externally.
    pub create_deployment: bool,
    /// DeploymentConfig says how the Deployment is configured when createDeployment is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_config: Option<ExecutorDeploymentConfig>,
}

/// How the Deployment of an app is configured.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutorDeploymentConfig {
    /// RuntimeClassName is the runtime class of the app's pods (for the containerd shim:
    /// `wasmtime-spin-v2`). Set exactly one of runtimeClassName and spinImage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_class_name: Option<String>,
    /// SpinImage is a container image running Spin that executes the app (`spin up -f <image>`).
    /// Set exactly one of runtimeClassName and spinImage. App images must be pullable without auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spin_image: Option<String>,
    /// CACertSecret names a Secret (key `ca-certificates.crt`) mounted as the app's CA bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert_secret: Option<String>,
    /// InstallDefaultCACerts creates a Secret with a default CA bundle (named by caCertSecret, or `spin-ca`).
    #[serde(
        default,
        rename = "installDefaultCACerts",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub install_default_ca_certs: bool,
    /// Otel sets the OpenTelemetry exporter environment of the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otel: Option<OtelConfig>,
}

/// OpenTelemetry exporter endpoints passed to the app as `OTEL_EXPORTER_OTLP_*`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct OtelConfig {
    /// OTEL_EXPORTER_OTLP_ENDPOINT
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exporter_otlp_endpoint: Option<String>,
    /// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exporter_otlp_traces_endpoint: Option<String>,
    /// OTEL_EXPORTER_OTLP_METRICS_ENDPOINT
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exporter_otlp_metrics_endpoint: Option<String>,
    /// OTEL_EXPORTER_OTLP_LOGS_ENDPOINT
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exporter_otlp_logs_endpoint: Option<String>,
}

/// Observed state of a SpinAppExecutor.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpinAppExecutorStatus {}
