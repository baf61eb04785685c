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
