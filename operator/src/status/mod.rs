//! SpinApp status from what the cluster holds: pure, so every case has a table test.

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
    pub deployment: Option<&'a Deployment>,
    pub service_name: Option<String>,
    /// A problem that stops the app from being realised: (reason, message).
    pub problem: Option<(&'a str, String)>,
    /// Why the app's pods are stuck, when they are (see `pods::problem`).
    pub pod_problem: Option<String>,
}

pub const READY: &str = "Ready";
pub const AVAILABLE: &str = "Available";
pub const PROGRESSING: &str = "Progressing";

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
mod tests {
    use super::*;
    use serde_json::json;

    fn app() -> SpinApp {
        serde_json::from_value(
            json!({"apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinApp",
            "metadata": {"name": "a", "namespace": "n", "generation": 2},
            "spec": {"image": "i", "executor": "ex", "replicas": 2}}),
        )
        .expect("app")
    }

    fn deployment(ready: i32, updated: i32, available: &str) -> Deployment {
        serde_json::from_value(json!({"metadata": {"name": "a", "generation": 1}, "spec": {"replicas": 2, "selector": {},
            "template": {}},
            "status": {"observedGeneration": 1, "readyReplicas": ready, "updatedReplicas": updated, "replicas": 2,
                "conditions": [
                    {"type": "Available", "status": available, "reason": "MinimumReplicas", "message": "m"},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": "p"}]}}))
        .expect("deployment")
    }

    fn now() -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(1_000).expect("time"))
    }

    fn cond<'a>(s: &'a SpinAppStatus, t: &str) -> &'a Condition {
        s.conditions
            .iter()
            .find(|c| c.type_ == t)
            .expect("condition")
    }

    #[test]
    fn ready_when_all_replicas_ready() {
        let d = deployment(2, 2, "True");
        let s = status(
            &app(),
            &Observed {
                executor: Some("ex"),
                creates_deployment: true,
                deployment: Some(&d),
                service_name: Some("a".into()),
                problem: None,
                pod_problem: None,
            },
            &now(),
        );
        assert_eq!(s.ready_replicas, 2);
        assert_eq!(s.active_scheduler.as_deref(), Some("ex"));
        assert_eq!(s.deployment_name.as_deref(), Some("a"));
        assert_eq!(
            s.selector.as_deref(),
            Some("core.spinkube.dev/app-name=a,core.spinkube.dev/app.a.status=ready")
        );
        assert_eq!(cond(&s, "Available").status, "True");
        assert_eq!(cond(&s, "Available").reason, "MinimumReplicas");
        assert_eq!(cond(&s, "Progressing").reason, "NewReplicaSetAvailable");
        assert_eq!(
            (
                cond(&s, "Ready").status.as_str(),
                cond(&s, "Ready").message.as_str()
            ),
            ("True", "2/2 replicas ready")
        );
        assert_eq!(cond(&s, "Ready").observed_generation, Some(2));
    }

    #[test]
    fn not_ready_mid_rollout_or_short_of_replicas() {
        for d in [deployment(1, 2, "False"), deployment(2, 1, "True")] {
            let s = status(
                &app(),
                &Observed {
                    executor: Some("ex"),
                    creates_deployment: true,
                    deployment: Some(&d),
                    service_name: None,
                    problem: None,
                    pod_problem: None,
                },
                &now(),
            );
            assert_eq!(cond(&s, "Ready").status, "False");
            assert_eq!(cond(&s, "Ready").reason, "ReplicasNotReady");
        }
    }

    #[test]
    fn replica_failure_is_surfaced() {
        let mut d = deployment(0, 0, "False");
        if let Some(s) = d.status.as_mut() {
            s.conditions.get_or_insert_with(Vec::new).push(serde_json::from_value(json!({"type": "ReplicaFailure",
                "status": "True", "reason": "FailedCreate",
                "message": "pods \"a-1\" is forbidden: pod rejected: RuntimeClass \"wasmtime-spin-v2\" not found"})).expect("c"));
        }
        let s = status(
            &app(),
            &Observed {
                executor: Some("ex"),
                creates_deployment: true,
                deployment: Some(&d),
                service_name: None,
                problem: None,
                pod_problem: None,
            },
            &now(),
        );
        assert_eq!(cond(&s, "Ready").reason, "ReplicaFailure");
        assert!(cond(&s, "Ready")
            .message
            .contains("RuntimeClass \"wasmtime-spin-v2\" not found"));
    }

    #[test]
    fn stuck_pods_are_the_ready_reason_unless_all_replicas_are_ready() {
        let obs = |d| Observed {
            executor: Some("ex"),
            creates_deployment: true,
            deployment: Some(d),
            service_name: None,
            problem: None,
            pod_problem: Some("pod a-1: container app: CrashLoopBackOff".into()),
        };
        let stuck = deployment(1, 2, "False");
        let s = status(&app(), &obs(&stuck), &now());
        assert_eq!(
            (
                cond(&s, "Ready").status.as_str(),
                cond(&s, "Ready").reason.as_str()
            ),
            ("False", "PodsNotStarting")
        );
        assert_eq!(
            cond(&s, "Ready").message,
            "1/2 replicas ready: pod a-1: container app: CrashLoopBackOff"
        );
        // A surplus pod crashing during a finished rollout does not make a ready app unready.
        let ready = deployment(2, 2, "True");
        let s = status(&app(), &obs(&ready), &now());
        assert_eq!(cond(&s, "Ready").reason, "ReplicasReady");
    }

    #[test]
    fn problems_and_missing_executor_say_what_to_do() {
        let s = status(
            &app(),
            &Observed {
                executor: None,
                creates_deployment: false,
                deployment: None,
                service_name: None,
                problem: None,
                pod_problem: None,
            },
            &now(),
        );
        assert_eq!(cond(&s, "Ready").reason, "MissingExecutor");
        assert!(cond(&s, "Ready")
            .message
            .contains("SpinAppExecutor \"ex\" not found"));
        let s = status(
            &app(),
            &Observed {
                executor: Some("ex"),
                creates_deployment: true,
                deployment: None,
                service_name: None,
                problem: Some(("MissingSecret", "Secret \"s\" ...".into())),
                pod_problem: None,
            },
            &now(),
        );
        assert_eq!(
            (
                cond(&s, "Ready").status.as_str(),
                cond(&s, "Ready").reason.as_str()
            ),
            ("False", "MissingSecret")
        );
        assert_eq!(cond(&s, "Available").reason, "DeploymentNotFound");
    }

    #[test]
    fn transition_time_only_moves_when_status_changes() {
        let d = deployment(2, 2, "True");
        let obs = Observed {
            executor: Some("ex"),
            creates_deployment: true,
            deployment: Some(&d),
            service_name: None,
            problem: None,
            pod_problem: None,
        };
        let mut a = app();
        a.status = Some(status(&a, &obs, &now()));
        let later = Time(k8s_openapi::jiff::Timestamp::from_second(2_000).expect("time"));
        let s = status(&a, &obs, &later);
        assert_eq!(cond(&s, "Ready").last_transition_time, now());
        let d2 = deployment(0, 2, "False");
        let s = status(
            &a,
            &Observed {
                deployment: Some(&d2),
                ..obs
            },
            &later,
        );
        assert_eq!(cond(&s, "Ready").last_transition_time, later);
    }
}
