//! SpinApp status from what the cluster holds: pure, so every case has a table test.

pub mod pods;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::api::{SpinApp, SpinAppStatus};
use crate::labels;

/// What the reconciler observed, besides the SpinApp itself.
pub struct Observed<'a> {
    /// Name of the executor that runs the app, if it exists.
    pub executor: Option<&'a str>,
    /// Whether that executor wants a Deployment.
    pub creates_deployment: bool,
    /// The app's Deployment as read back, if it exists.
    pub deployment: Option<&'a Deployment>,
    /// Name of the app's Service, if it exists.
    pub service_name: Option<String>,
    /// A problem that stops the app from being realised: (reason, message).
    pub problem: Option<(&'a str, String)>,
    /// Why the app's pods are stuck, when they are (see `pods::problem`).
    pub pod_problem: Option<String>,
}

/// Condition type: the app serves (Spin operator's `Ready`).
pub const READY: &str = "Ready";
/// Condition type mirrored from the Deployment's `Available`.
pub const AVAILABLE: &str = "Available";
/// Condition type mirrored from the Deployment's `Progressing`.
pub const PROGRESSING: &str = "Progressing";

/// The SpinApp status for what was observed: conditions, ready replicas, active scheduler, selector
/// and observed generation.
pub fn status(app: &SpinApp, observed: &Observed, now: &Time) -> SpinAppStatus {
    let old = app.status.clone().unwrap_or_default();
    let name = app.metadata.name.clone().unwrap_or_default();
    let generation = app.metadata.generation;
    let mut conditions = old.conditions.clone();
    let mut set = |type_: &str, status: &str, reason: &str, message: String| {
        set_condition(
            &mut conditions,
            type_,
            status,
            reason,
            &message,
            generation,
            now,
        )
    };

    let dep_status = observed.deployment.and_then(|d| d.status.clone());
    let ready_replicas = dep_status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0);
    if observed.creates_deployment {
        match &dep_status {
            None => {
                set(
                    AVAILABLE,
                    "Unknown",
                    "DeploymentNotFound",
                    "Deployment not found".into(),
                );
                set(
                    PROGRESSING,
                    "Unknown",
                    "DeploymentNotFound",
                    "Deployment not found".into(),
                );
            }
            Some(s) => {
                for c in s.conditions.iter().flatten() {
                    if c.type_ == AVAILABLE || c.type_ == PROGRESSING {
                        set(
                            &c.type_,
                            &c.status,
                            c.reason.as_deref().unwrap_or(""),
                            c.message.clone().unwrap_or_default(),
                        );
                    }
                }
            }
        }
    }

    let desired = observed
        .deployment
        .and_then(|d| d.spec.as_ref()?.replicas)
        .or(app.spec.replicas)
        .unwrap_or(1);
    let (status, reason, message) = match (&observed.problem, observed.executor) {
        (Some((reason, message)), _) => ("False", reason.to_string(), message.clone()),
        (None, None) => (
            "False",
            "MissingExecutor".to_string(),
            format!("SpinAppExecutor \"{}\" not found in this namespace: create it or set spec.executor", app.spec.executor),
        ),
        (None, Some(executor)) if !observed.creates_deployment => (
            "True",
            "ExternallyManaged".to_string(),
            format!("executor \"{executor}\" runs the app without a Deployment"),
        ),
        (None, Some(_)) => match observed.deployment {
            None => ("Unknown", "DeploymentNotFound".to_string(), "waiting for the Deployment".to_string()),
            Some(_) if ready_replicas >= desired && updated_all(observed.deployment) => (
                "True",
                "ReplicasReady".to_string(),
                format!("{ready_replicas}/{desired} replicas ready"),
            ),
            // Pods the ReplicaSet cannot even create (missing RuntimeClass, quota, ...) say why right here.
            Some(_) if replica_failure(observed.deployment).is_some() => (
                "False",
                "ReplicaFailure".to_string(),
                format!(
                    "{ready_replicas}/{desired} replicas ready: {}",
                    replica_failure(observed.deployment).unwrap_or_default()
                ),
            ),
            // Pods that exist but cannot start (crash loop, image pull, no node): their own words.
            Some(_) if observed.pod_problem.is_some() => (
                "False",
                "PodsNotStarting".to_string(),
                format!(
                    "{ready_replicas}/{desired} replicas ready: {}",
                    observed.pod_problem.as_deref().unwrap_or_default()
                ),
            ),
            Some(_) => (
                "False",
                "ReplicasNotReady".to_string(),
                format!("{ready_replicas}/{desired} replicas ready; `kubectl describe deployment {name}` shows why"),
            ),
        },
    };
    set(READY, status, &reason, message);

    SpinAppStatus {
        conditions,
        active_scheduler: observed.executor.map(str::to_string),
        ready_replicas,
        deployment_name: observed.deployment.and_then(|d| d.metadata.name.clone()),
        service_name: observed.service_name.clone(),
        selector: Some(labels::selector_string(&name)),
        observed_generation: generation,
    }
}

fn replica_failure(deployment: Option<&Deployment>) -> Option<String> {
    let conditions = deployment?.status.as_ref()?.conditions.as_ref()?;
    let c = conditions
        .iter()
        .find(|c| c.type_ == "ReplicaFailure" && c.status == "True")?;
    Some(
        c.message
            .clone()
            .unwrap_or_else(|| c.reason.clone().unwrap_or_default()),
    )
}

/// Every replica runs the current template (a rollout is not "ready" halfway).
fn updated_all(deployment: Option<&Deployment>) -> bool {
    let Some(d) = deployment else { return false };
    let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(s) = &d.status else { return false };
    let current = s.observed_generation >= d.metadata.generation;
    current
        && s.updated_replicas.unwrap_or(0) >= desired
        && s.replicas.unwrap_or(0) == s.updated_replicas.unwrap_or(0)
}

/// Sets a condition, keeping its transition time when its status does not change.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: &Time,
) {
    // Condition reasons must be CamelCase and non-empty for the API server to accept them.
    let reason = if reason.is_empty() { "Unknown" } else { reason };
    let new = |t: Time| Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message: message.into(),
        observed_generation: generation,
        last_transition_time: t,
    };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) if c.status == status => *c = new(c.last_transition_time.clone()),
        Some(c) => *c = new(now.clone()),
        None => conditions.push(new(now.clone())),
    }
}

#[cfg(test)]
mod tests;
