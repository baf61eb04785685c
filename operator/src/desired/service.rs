//! The app's Service: port 80 to the container's `http-app` port, selecting ready pods of the app.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::api::SpinApp;
use crate::labels;

/// The Service for `app`: port 80 to container port `http-app`, selecting the app's ready pods,
/// owned by the SpinApp.
pub fn service(app: &SpinApp) -> Service {
    let name = app.metadata.name.clone().unwrap_or_default();
    Service {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: app.metadata.namespace.clone(),
            labels: Some(labels::app_labels(&name)),
            annotations: non_empty(&app.spec.service_annotations),
            owner_references: Some(vec![labels::owner_reference(app)]),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort {
                protocol: Some("TCP".into()),
                port: labels::DEFAULT_HTTP_PORT,
                target_port: Some(IntOrString::String(labels::HTTP_PORT_NAME.into())),
                ..Default::default()
            }]),
            selector: Some(BTreeMap::from([(
                labels::status_label_key(&name),
                labels::READY.to_string(),
            )])),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(super) fn non_empty(m: &BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!m.is_empty()).then(|| m.clone())
}
