//! What the admission webhooks decide: defaulting `spec.executor`, validating SpinApps and executors, and
//! refusing to delete an executor in use. The HTTPS side lives in `crate::webhook`.

pub mod validate;

use kube::api::ListParams;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube::core::DynamicObject;
use kube::{Api, Client, ResourceExt};
use serde::de::DeserializeOwned;

use crate::api::{SpinApp, SpinAppExecutor};

/// Webhook path of SpinApp defaulting (same as the Go spin-operator's).
pub const MUTATE_SPINAPP: &str = "/mutate-core-spinkube-dev-v1alpha1-spinapp";
/// Webhook path of SpinApp validation (same as the Go spin-operator's).
pub const VALIDATE_SPINAPP: &str = "/validate-core-spinkube-dev-v1alpha1-spinapp";
/// Webhook path of SpinAppExecutor defaulting (same as the Go spin-operator's).
pub const MUTATE_EXECUTOR: &str = "/mutate-core-spinkube-dev-v1alpha1-spinappexecutor";
/// Webhook path of SpinAppExecutor validation (same as the Go spin-operator's).
pub const VALIDATE_EXECUTOR: &str = "/validate-core-spinkube-dev-v1alpha1-spinappexecutor";

/// Answers one AdmissionReview (request body) with an AdmissionReview (response body).
pub async fn review(client: &Client, path: &str, body: &[u8]) -> Vec<u8> {
    let response = match serde_json::from_slice::<AdmissionReview<DynamicObject>>(body)
        .map_err(|e| e.to_string())
        .and_then(|r| {
            let req: Result<AdmissionRequest<DynamicObject>, _> = r.try_into();
            req.map_err(|e| e.to_string())
        }) {
        Err(e) => AdmissionResponse::invalid(format!("cannot read AdmissionReview: {e}")),
        Ok(req) => match decide(client, path, &req).await {
            Ok(resp) => resp,
            // Failing closed with the reason beats a silent allow: the webhooks use failurePolicy Fail.
            Err(e) => {
                AdmissionResponse::from(&req).deny(format!("spin-operator webhook error: {e}"))
            }
        },
    };
    serde_json::to_vec(&response.into_review()).unwrap_or_default()
}

fn typed<T: DeserializeOwned>(obj: &Option<DynamicObject>) -> anyhow::Result<T> {
    let obj = obj
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("request carries no object"))?;
    Ok(serde_json::from_value(serde_json::to_value(obj)?)?)
}

async fn decide(
    client: &Client,
    path: &str,
    req: &AdmissionRequest<DynamicObject>,
) -> anyhow::Result<AdmissionResponse> {
    let allow = AdmissionResponse::from(req);
    let ns = req.namespace.clone().unwrap_or_default();
    match path {
        MUTATE_SPINAPP => {
            // An object that does not even decode is left to the API server's schema validation, which
            // runs after mutation and names the bad field.
            let Ok(app) = typed::<SpinApp>(&req.object) else {
                return Ok(allow);
            };
            if !app.spec.executor.is_empty() {
                return Ok(allow);
            }
            let executors = executor_names(client, &ns).await?;
            // SpinKube's rule: the first executor in alphabetical order.
            let Some(first) = executors.first() else {
                return Ok(allow);
            };
            let patch: json_patch::Patch = serde_json::from_value(serde_json::json!([
                {"op": "add", "path": "/spec/executor", "value": first}
            ]))?;
            Ok(allow.with_patch(patch)?)
        }
        VALIDATE_SPINAPP => {
            if req.operation == Operation::Delete {
                return Ok(allow);
            }
            let mut app: SpinApp = typed(&req.object)?;
            if app.metadata.namespace.is_none() {
                app.metadata.namespace = Some(ns.clone());
            }
            if app.metadata.name.as_deref().unwrap_or("").is_empty() {
                app.metadata.name = Some(req.name.clone());
            }
            let executor = match app.spec.executor.as_str() {
                "" => None,
                name => {
                    Api::<SpinAppExecutor>::namespaced(client.clone(), &ns)
                        .get_opt(name)
                        .await?
                }
            };
            let available = if executor.is_none() {
                executor_names(client, &ns).await?
            } else {
                vec![]
            };
            Ok(verdict(
                allow,
                "SpinApp",
                &app.name_any(),
                validate::spinapp(&app, executor.as_ref(), &available),
            ))
        }
        MUTATE_EXECUTOR => Ok(allow),
        VALIDATE_EXECUTOR => match req.operation {
            Operation::Delete => {
                let apps = Api::<SpinApp>::namespaced(client.clone(), &ns)
                    .list(&ListParams::default())
                    .await?;
                let users: Vec<String> = apps
                    .items
                    .iter()
                    .filter(|a| a.spec.executor == req.name)
                    .map(|a| a.name_any())
                    .collect();
                Ok(match validate::executor_deletion(&req.name, &users) {
                    Some(message) => allow.deny(message),
                    None => allow,
                })
            }
            _ => {
                let ex: SpinAppExecutor = typed(&req.object)?;
                Ok(verdict(
                    allow,
                    "SpinAppExecutor",
                    &req.name,
                    validate::executor(&ex),
                ))
            }
        },
        other => Ok(allow.deny(format!("spin-operator serves no webhook at {other}"))),
    }
}

async fn executor_names(client: &Client, ns: &str) -> anyhow::Result<Vec<String>> {
    let list = Api::<SpinAppExecutor>::namespaced(client.clone(), ns)
        .list_metadata(&ListParams::default())
        .await?;
    let mut names: Vec<String> = list
        .items
        .into_iter()
        .filter_map(|e| e.metadata.name)
        .collect();
    names.sort();
    Ok(names)
}

/// Deny with every problem at once, in the API server's Invalid style.
fn verdict(
    allow: AdmissionResponse,
    kind: &str,
    name: &str,
    errs: Vec<String>,
) -> AdmissionResponse {
    if errs.is_empty() {
        return allow;
    }
    let mut resp = allow.deny(format!(
        "{kind}.core.spinkube.dev \"{name}\" is invalid: {}",
        errs.join("; ")
    ));
    resp.result.code = 422;
    resp.result.reason = "Invalid".into();
    resp
}
