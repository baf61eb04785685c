//! The metadata every child of a SpinApp carries: label and annotation keys shared with SpinKube (tools
//! select on them, so they must match exactly) and the owner reference.

use std::collections::BTreeMap;

use crate::api::SpinApp;

/// Label carrying the SpinApp name on every child object.
pub const APP_NAME: &str = "core.spinkube.dev/app-name";
/// Value of the per-app status label the Service selects on.
pub const READY: &str = "ready";
/// Field manager for server-side apply.
pub const FIELD_MANAGER: &str = "spin-operator";
/// Finalizer the operator puts on executors.
pub const FINALIZER: &str = "core.spinkube.dev/finalizer";
/// Pod-template annotation that changes when the runtime config changes, so the Deployment rolls.
pub const RUNTIME_CONFIG_CHECKSUM: &str = "core.spinkube.dev/runtime-config-checksum";
/// Name of the app's container port.
pub const HTTP_PORT_NAME: &str = "http-app";
/// Port the app listens on unless `spec.port` says otherwise; also the Service port.
pub const DEFAULT_HTTP_PORT: i32 = 80;

/// `core.spinkube.dev/app.<name>.status`: the Service selects pods carrying it with value `ready`.
pub fn status_label_key(app: &str) -> String {
    format!("core.spinkube.dev/app.{app}.status")
}

/// Labels on the Deployment, Service and Secrets of an app.
pub fn app_labels(app: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(APP_NAME.to_string(), app.to_string())])
}

/// Labels the Deployment selects its pods by (and that every pod carries).
pub fn ready_labels(app: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (APP_NAME.to_string(), app.to_string()),
        (status_label_key(app), READY.to_string()),
    ])
}

/// `ready_labels` as a selector string, for `status.selector` and the scale subresource.
pub fn selector_string(app: &str) -> String {
    ready_labels(app)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Controller owner reference to the SpinApp, so children are garbage-collected with it.
pub fn owner_reference(
    app: &SpinApp,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
    use kube::Resource;
    k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
        api_version: SpinApp::api_version(&()).to_string(),
        kind: SpinApp::kind(&()).to_string(),
        name: app.metadata.name.clone().unwrap_or_default(),
        uid: app.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}
