//! Why an app's pods do not become ready, in words: the shim or spintainer failing to start the app
//! (missing variable, bad manifest, unpullable image) shows up only on its Pods, and a SpinApp user
//! should not have to go looking there. Pure, so every case has a table test.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

/// The label the node installer puts on the nodes it readied (node-installer/src/node_label.rs).
pub const SHIM_READY_LABEL: &str = "spinkube.dev/shim";

/// Waiting reasons that mean "this will not get better by itself".
const STUCK: &[&str] = &[
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// The first problem among `pods` (sorted by name, so the message is stable), or None when they are
/// only on their way (scheduling, pulling, starting).
pub fn problem(pods: &[Pod]) -> Option<String> {
    let mut pods: Vec<&Pod> = pods.iter().collect();
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    pods.into_iter().find_map(pod_problem)
}

fn pod_problem(pod: &Pod) -> Option<String> {
    let name = pod.metadata.name.as_deref().unwrap_or("?");
    let status = pod.status.as_ref()?;
    let containers = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for c in containers {
        if let Some(why) = container_problem(c) {
            return Some(format!("pod {name}: container {}: {why}", c.name));
        }
    }
    let unschedulable = status.conditions.iter().flatten().find(|c| {
        c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
    })?;
    let mut why = format!(
        "pod {name}: cannot be scheduled: {}",
        unschedulable.message.as_deref().unwrap_or("no node fits")
    );
    // The RuntimeClass of the chart adds the node installer's label to every Spin pod.
    let waits_for_installer = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_selector.as_ref())
        .is_some_and(|sel| sel.contains_key(SHIM_READY_LABEL));
    if waits_for_installer {
        why.push_str(&format!(
            " (Spin pods only run on nodes labelled {SHIM_READY_LABEL}=ready, which the chart's \
             node installer sets once the shim is installed there: see its DaemonSet's pods, \
             `kubectl get pods -A -l app.kubernetes.io/component=node-installer`)"
        ));
    }
    Some(why)
}

fn container_problem(c: &ContainerStatus) -> Option<String> {
    let waiting = c.state.as_ref()?.waiting.as_ref()?;
    let reason = waiting.reason.as_deref()?;
    if !STUCK.contains(&reason) {
        return None;
    }
    let mut why = reason.to_string();
    if let Some(message) = waiting.message.as_deref().filter(|m| !m.is_empty()) {
        why.push_str(": ");
        why.push_str(message);
    }
    // A crash loop's cause is in the last run: its exit code and termination message (the runtime's
    // error, e.g. a required variable without a value).
    if let Some(last) = c.last_state.as_ref().and_then(|s| s.terminated.as_ref()) {
        why.push_str(&format!("; last exit code {}", last.exit_code));
        if let Some(message) = last
            .message
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
        {
            why.push_str(&format!(": {message}"));
        }
    }
    Some(why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name}, "status": status})).expect("pod")
    }

    fn waiting(reason: &str, message: &str) -> serde_json::Value {
        json!({"containerStatuses": [{"name": "app", "image": "i", "imageID": "", "ready": false,
            "restartCount": 3, "state": {"waiting": {"reason": reason, "message": message}}}]})
    }

    #[test]
    fn stuck_pods_say_why_and_pods_on_their_way_do_not() {
        let crash = pod(
            "a-1",
            json!({"containerStatuses": [{"name": "app", "image": "i", "imageID": "", "ready": false,
                "restartCount": 3,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}},
                "lastState": {"terminated": {"exitCode": 1,
                    "message": "Error: variable \"api_key\" has no value: set SPIN_VARIABLE_API_KEY\n"}}}]}),
        );
        let table: Vec<(Vec<Pod>, Option<&str>)> = vec![
            (vec![], None),
            (vec![pod("a-1", json!({"phase": "Running"}))], None),
            (vec![pod("a-1", waiting("ContainerCreating", ""))], None),
            (vec![pod("a-1", waiting("PodInitializing", ""))], None),
            (
                vec![crash.clone()],
                Some("pod a-1: container app: CrashLoopBackOff: back-off 40s restarting failed container; last exit code 1: Error: variable \"api_key\" has no value: set SPIN_VARIABLE_API_KEY"),
            ),
            (
                vec![pod("b-2", waiting("ImagePullBackOff", "Back-off pulling image \"ghcr.io/x/nope:v1\""))],
                Some("pod b-2: container app: ImagePullBackOff: Back-off pulling image \"ghcr.io/x/nope:v1\""),
            ),
            (
                vec![pod("c-3", waiting("CreateContainerConfigError", ""))],
                Some("pod c-3: container app: CreateContainerConfigError"),
            ),
            (
                vec![pod("d-4", json!({"conditions": [{"type": "PodScheduled", "status": "False",
                    "reason": "Unschedulable", "message": "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."}]}))],
                Some("pod d-4: cannot be scheduled: 0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."),
            ),
            (
                vec![serde_json::from_value(json!({
                    "metadata": {"name": "e-5"},
                    "spec": {"containers": [], "nodeSelector": {"spinkube.dev/shim": "ready"}},
                    "status": {"conditions": [{"type": "PodScheduled", "status": "False",
                        "reason": "Unschedulable", "message": "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."}]},
                })).unwrap()],
                Some("pod e-5: cannot be scheduled: 0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. (Spin pods only run on nodes labelled spinkube.dev/shim=ready, which the chart's node installer sets once the shim is installed there: see its DaemonSet's pods, `kubectl get pods -A -l app.kubernetes.io/component=node-installer`)"),
            ),
            // The first pod by name wins, whatever order the API server listed them in.
            (
                vec![pod("z-9", waiting("ErrImagePull", "")), pod("a-1", waiting("ImagePullBackOff", ""))],
                Some("pod a-1: container app: ImagePullBackOff"),
            ),
        ];
        for (pods, want) in table {
            assert_eq!(problem(&pods).as_deref(), want, "{pods:?}");
        }
    }

    #[test]
    fn init_containers_count_too() {
        let p = pod(
            "a-1",
            json!({"initContainerStatuses": [{"name": "setup", "image": "i", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"waiting": {"reason": "ErrImagePull"}}}]}),
        );
        assert_eq!(
            problem(&[p]).as_deref(),
            Some("pod a-1: container setup: ErrImagePull")
        );
    }
}
