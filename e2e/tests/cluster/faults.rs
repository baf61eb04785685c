//! The node's daemons restarting under running apps: the apps keep serving, their pods are not
//! replaced and their containers not restarted, and the node still stops them when asked (no
//! process is left behind that containerd lost track of).

use super::*;
use spinkube_testenv::containerd::processes_in_cgroup;

/// `pod-name restartCount` of each of the app's pods.
fn pods_and_restarts(ns: &Namespace, app: &str) -> Vec<String> {
    let mut v: Vec<String> = ns
        .kubectl(&[
            "get",
            "pods",
            "-l",
            &format!("core.spinkube.dev/app-name={app}"),
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.status.containerStatuses[0].restartCount}{\"\\n\"}{end}",
        ])
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    v.sort();
    v
}

/// Restarts a node daemon under a serving app; asserts no request failed and no pod changed.
fn survives(prefix: &str, restart: impl FnOnce()) {
    let ns = Namespace::exclusive(prefix);
    let image = push("examples/rust-http", "rust-http:v1");
    ns.apply(&scaffold(&["--from", &image, "--replicas", "2"]));
    ns.wait_ready("rust-http");
    let ip = service_ip(&ns, "rust-http", "/", "Hello");
    let before = pods_and_restarts(&ns, "rust-http");

    let requests = RequestLoop::start(format!("http://{ip}/"));
    restart();
    // The node is Ready again; the app still is, and answers.
    ns.wait_ready("rust-http");
    let (status, body) = http_get(&format!("http://{ip}/"));
    let count = requests.finish();
    eprintln!("{prefix}: {count:?}");
    assert_eq!(status, 200, "after the restart: {body}");
    assert!(count.ok > 0, "{count:?}");
    assert_eq!(
        count.failed, 0,
        "requests failed across the restart: {count:?}"
    );
    assert_eq!(
        pods_and_restarts(&ns, "rust-http"),
        before,
        "pods were replaced or restarted\n{}",
        cluster().diagnostics(&ns.0)
    );

    let uids = ns.kubectl(&[
        "get",
        "pods",
        "-l",
        "core.spinkube.dev/app-name=rust-http",
        "-o",
        "jsonpath={.items[*].metadata.uid}",
    ]);
    for uid in uids.split_whitespace() {
        assert!(
            !processes_in_pod_cgroup(uid).is_empty(),
            "no process found in pod {uid}'s cgroup: the check below would prove nothing"
        );
    }
    ns.kubectl(&["delete", "spinapp", "rust-http", "--wait=true"]);
    ns.wait_for(&["get", "pods", "-o", "name"], "", READY_LIMIT);
    // The kubelet puts each pod's processes in a cgroup named after its UID (cgroupfs driver).
    eventually(
        &ns,
        "no process of the deleted pods runs",
        Duration::from_secs(60),
        || {
            let left: Vec<String> = uids
                .split_whitespace()
                .flat_map(processes_in_pod_cgroup)
                .collect();
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("{left:?}"))
            }
        },
    );
}

/// `PID cmdline` of each process in the cgroup of the pod with this UID.
fn processes_in_pod_cgroup(uid: &str) -> Vec<String> {
    processes_in_cgroup(&format!("pod{uid}"))
        .into_iter()
        .map(|(pid, cmdline)| format!("{pid} {}", cmdline.trim()))
        .collect()
}

#[test]
fn restarting_the_kubelet_loses_no_running_app() {
    survives("kubelet", || {
        let mut node = cluster().node();
        node.as_mut()
            .unwrap()
            .restart_kubelet(&cluster().cp)
            .unwrap_or_else(|e| panic!("{e:#}"));
    });
}

#[test]
fn restarting_containerd_loses_no_running_app() {
    survives("containerd", || {
        let mut node = cluster().node();
        node.as_mut()
            .unwrap()
            .restart_containerd(&cluster().cp)
            .unwrap_or_else(|e| panic!("{e:#}"));
        // On reload containerd asks each shim for its tasks' processes (Pids) and deletes the
        // tasks of a shim that reports none.
        let leaked = node.as_ref().unwrap().containerd.log_lines("leaked shim");
        assert!(
            leaked.is_empty(),
            "containerd gave up running tasks: {leaked}"
        );
    });
}
