//! What the cluster should hold for a SpinApp: pure functions from the SpinApp, its executor and the
//! Secrets/ConfigMaps it references to the Deployment, Service and Secrets the reconciler applies.

mod ca_bundle;
mod deployment;
mod env;
pub mod lookups;
pub mod quantity;
mod runtime_config;
mod service;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service};

use crate::api::{SpinApp, SpinAppExecutor};
pub use ca_bundle::{ca_secret, DEFAULT_CA_SECRET};
pub use deployment::deployment;
pub use env::env;
pub use lookups::{Lookups, ValueRef};
pub use runtime_config::{
    render as render_runtime_config, runtime_config_secret, RUNTIME_CONFIG_KEY,
};
pub use service::service;

/// Everything the reconciler applies for one SpinApp.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// None when the executor does not want a Deployment (`createDeployment: false`).
    pub deployment: Option<Deployment>,
    /// The app's Service (port 80 to the pods' `http-app` port).
    pub service: Service,
    /// The generated runtime-config Secret (absent with `loadFromSecret` or without a Deployment).
    pub runtime_config_secret: Option<Secret>,
    /// The default CA bundle Secret to create if missing (`installDefaultCACerts`).
    pub ca_secret: Option<Secret>,
}

/// Why a SpinApp cannot be realised; `reason()` becomes the condition reason and Event reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// A referenced Secret or ConfigMap does not exist.
    #[error("{kind} \"{name}\" (referenced by {field}) does not exist in namespace \"{namespace}\": create it or fix the reference")]
    MissingObject {
        /// `Secret` or `ConfigMap`.
        kind: &'static str,
        /// Name of the missing object.
        name: String,
        /// Namespace it was looked up in (the SpinApp's).
        namespace: String,
        /// SpinApp field holding the reference, e.g. `spec.variables[0].valueFrom`.
        field: String,
    },
    /// A referenced Secret or ConfigMap lacks the key.
    #[error("{kind} \"{name}\" has no key \"{key}\" (referenced by {field}): add the key or fix the reference")]
    MissingKey {
        /// `Secret` or `ConfigMap`.
        kind: &'static str,
        /// Name of the object.
        name: String,
        /// The missing key.
        key: String,
        /// SpinApp field holding the reference.
        field: String,
    },
    /// The runtime config cannot be rendered from the spec.
    #[error("invalid runtime config: {0}")]
    InvalidRuntimeConfig(String),
    /// The SpinAppExecutor's settings cannot produce a Deployment.
    #[error("executor \"{executor}\" is misconfigured: {message}")]
    InvalidExecutor {
        /// Name of the SpinAppExecutor.
        executor: String,
        /// What is wrong with it.
        message: String,
    },
    /// The SpinApp spec itself is invalid.
    #[error("invalid SpinApp: {0}")]
    InvalidSpec(String),
}

impl PlanError {
    /// CamelCase reason for conditions and Events.
    pub fn reason(&self) -> &'static str {
        match self {
            PlanError::MissingObject { kind: "Secret", .. } => "MissingSecret",
            PlanError::MissingObject { .. } => "MissingConfigMap",
            PlanError::MissingKey { kind: "Secret", .. } => "MissingSecretKey",
            PlanError::MissingKey { .. } => "MissingConfigMapKey",
            PlanError::InvalidRuntimeConfig(_) => "InvalidRuntimeConfig",
            PlanError::InvalidExecutor { .. } => "InvalidExecutor",
            PlanError::InvalidSpec(_) => "InvalidSpec",
        }
    }
}

/// The full plan for `app` run by `executor`, given the referenced Secrets and ConfigMaps.
pub fn plan(
    app: &SpinApp,
    executor: &SpinAppExecutor,
    lookups: &Lookups,
) -> Result<Plan, PlanError> {
    let service = service(app);
    let executor_name = executor.metadata.name.clone().unwrap_or_default();
    if !executor.spec.create_deployment {
        return Ok(Plan {
            deployment: None,
            service,
            runtime_config_secret: None,
            ca_secret: None,
        });
    }
    let config = executor.spec.deployment_config.clone().unwrap_or_default();
    let runtime_config_secret = match &app.spec.runtime_config.load_from_secret {
        Some(_) => None,
        None => Some(runtime_config_secret(
            app,
            &render_runtime_config(&app.spec.runtime_config, lookups)?,
        )),
    };
    let ca_secret_name = match (&config.ca_cert_secret, config.install_default_ca_certs) {
        (Some(name), _) => Some(name.clone()),
        (None, true) => Some(DEFAULT_CA_SECRET.to_string()),
        (None, false) => None,
    };
    let ca_secret = config
        .install_default_ca_certs
        .then(|| ca_secret(app, ca_secret_name.as_deref().unwrap_or(DEFAULT_CA_SECRET)));
    let deployment = deployment::deployment(
        app,
        &executor_name,
        &config,
        &deployment::Mounts {
            runtime_config_secret: runtime_config_secret
                .as_ref()
                .and_then(|s| s.metadata.name.clone())
                .or_else(|| app.spec.runtime_config.load_from_secret.clone()),
            runtime_config_checksum: runtime_config_checksum(app, lookups),
            ca_secret: ca_secret_name,
        },
    )?;
    Ok(Plan {
        deployment: Some(deployment),
        service,
        runtime_config_secret,
        ca_secret,
    })
}

/// With `loadFromSecret` the Secret keeps its name when its content changes; a checksum of the content in
/// the pod template makes the Deployment roll anyway.
fn runtime_config_checksum(app: &SpinApp, lookups: &Lookups) -> Option<String> {
    let name = app.spec.runtime_config.load_from_secret.as_ref()?;
    let value = lookups.secret_value(name, RUNTIME_CONFIG_KEY)?;
    Some(format!("{:08x}", adler2::adler32_slice(value.as_bytes())))
}

#[cfg(test)]
mod tests;
