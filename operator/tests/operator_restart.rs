//! Restarts lose nothing: the operator (stopped, and crashed mid-burst) and the API server restarted
//! mid-test, and two operator replicas sharing a leader Lease. Each test has its own control plane
//! (restarting the shared one would disturb other tests).

mod common;

use common::{install, shim_executor, wait_for, Kube, Operator, WAIT};
use spinkube_testenv::{ControlPlane, Options};

fn app(name: &str, image: &str) -> String {
    format!("apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata:\n  name: {name}\nspec:\n  image: {image}\n  executor: containerd-shim-spin\n  replicas: 1\n")
}

fn image_of(cp: &ControlPlane, ns: &str, name: &str) -> Result<String, String> {
    let d = cp.get(ns, "deployment", name)?;
    Ok(d["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or("")
        .to_string())
}

fn wait_image(cp: &ControlPlane, ns: &str, name: &str, want: &str) {
    wait_for(&format!("{name} running {want}"), WAIT, || {
        match image_of(cp, ns, name) {
            Ok(i) if i == want => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
}

#[test]
fn operator_and_apiserver_restarts_converge() {
    let cp = ControlPlane::start(Options::default()).expect("control plane");
    let ip = install(&cp);
    let ns = cp.create_namespace("restart").expect("ns");
    let mut op = Operator::start(&cp, &ip, &[]);
    cp.apply(&ns, &shim_executor("containerd-shim-spin"))
        .expect("executor");
    cp.apply(&ns, &app("a", "img:1")).expect("app a");
    wait_image(&cp, &ns, "a", "img:1");

    // Changes made while the operator is down are picked up when it comes back. SIGTERM exits cleanly.
    let status = op.terminate();
    assert!(
        status.success(),
        "SIGTERM exit: {status:?}\n{}",
        op.log_tail()
    );
    drop(op);
    // Without the operator the webhooks fail closed, so go around them for this edit.
    cp.run(&[
        "delete",
        "validatingwebhookconfiguration",
        "spin-operator-validating-webhook-configuration",
    ])
    .expect("drop validating");
    cp.run(&[
        "delete",
        "mutatingwebhookconfiguration",
        "spin-operator-mutating-webhook-configuration",
    ])
    .expect("drop mutating");
    cp.run(&[
        "-n",
        &ns,
        "patch",
        "spinapp",
        "a",
        "--type=merge",
        "-p",
        r#"{"spec":{"image":"img:2"}}"#,
    ])
    .expect("edit while down");
    cp.apply(&ns, &app("b", "img:1"))
        .expect("create while down");
    let ip = install(&cp);
    let mut op = Operator::start(&cp, &ip, &[]);
    wait_image(&cp, &ns, "a", "img:2");
    wait_image(&cp, &ns, "b", "img:1");

    // The API server goes away and comes back: the operator's watches resume and it converges.
    cp.restart_apiserver().expect("restart apiserver");
    cp.run(&[
        "-n",
        &ns,
        "patch",
        "spinapp",
        "b",
        "--type=merge",
        "-p",
        r#"{"spec":{"image":"img:3"}}"#,
    ])
    .expect("edit after restart");
    cp.apply(&ns, &app("c", "img:1"))
        .expect("create after restart");
    wait_image(&cp, &ns, "b", "img:3");
    wait_image(&cp, &ns, "c", "img:1");
    for name in ["a", "b", "c"] {
        assert!(cp.exists(&ns, "service", name), "service {name}");
    }
    assert!(
        op.log_tail().lines().all(|l| !l.contains("panicked")),
        "{}",
        op.log_tail()
    );

    // A crash (SIGKILL) in the middle of a burst of work: the next process finishes all of it, and
    // what the crashed one half-made is taken over, not duplicated.
    let burst: Vec<String> = (0..20).map(|i| format!("burst-{i:02}")).collect();
    let yaml: Vec<String> = burst.iter().map(|n| app(n, "img:1")).collect();
    cp.apply(&ns, &yaml.join("---\n")).expect("burst of apps");
    op.crash();
    drop(op);
    let ip = install(&cp);
    let op = Operator::start(&cp, &ip, &[]);
    for name in &burst {
        wait_image(&cp, &ns, name, "img:1");
        assert!(cp.exists(&ns, "service", name), "service {name}");
    }
    let deployments = cp
        .run(&["-n", &ns, "get", "deployments", "-o", "name"])
        .expect("deployments");
    assert_eq!(
        deployments.lines().count(),
        3 + burst.len(),
        "one Deployment per SpinApp:\n{deployments}"
    );
    wait_for(
        "every SpinApp has a status for its generation",
        WAIT,
        || {
            let pending = op
                .metrics()
                .lines()
                .find(|l| l.starts_with("spin_operator_reconcile_pending{"))
                .map(str::to_string);
            match pending {
                Some(l) if l.ends_with(" 0") => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    );
}

fn leader_metric(op: &Operator) -> Option<u8> {
    op.metrics()
        .lines()
        .find(|l| l.starts_with("spin_operator_leader "))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
}

#[test]
fn two_replicas_share_a_lease_and_fail_over() {
    let cp = ControlPlane::start(Options::default()).expect("control plane");
    let ip = install(&cp);
    let ns = cp.create_namespace("leader").expect("ns");
    // Both replicas serve webhooks; only the Lease holder reconciles. They cannot both bind
    // <ClusterIP>:443 on one host, so the second serves webhooks on a free port (its readiness is what matters).
    let mut first = Operator::start(&cp, &ip, &["--leader-elect"]);
    let second = Operator::start(&cp, "127.0.0.1:0", &["--leader-elect"]);
    cp.apply(&ns, &shim_executor("containerd-shim-spin"))
        .expect("executor");
    let leaders = wait_for("exactly one leader", WAIT, || {
        match (leader_metric(&first), leader_metric(&second)) {
            (Some(a), Some(b)) if a + b == 1 => Ok((a, b)),
            other => Err(format!("{other:?}")),
        }
    });
    assert_eq!(
        leaders,
        (1, 0),
        "the first replica started first and took the lease"
    );
    let lease = cp
        .get("spinkube", "lease", "spin-operator-leader")
        .expect("lease");
    assert!(
        lease["spec"]["holderIdentity"]
            .as_str()
            .is_some_and(|h| !h.is_empty()),
        "{lease}"
    );

    cp.apply(&ns, &app("before", "img:1")).expect("app");
    wait_image(&cp, &ns, "before", "img:1");
    // The leader goes away; the standby takes the lease and reconciles.
    let status = first.terminate();
    assert!(status.success(), "{status:?}");
    wait_for("standby becomes leader", WAIT, || {
        match leader_metric(&second) {
            Some(1) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    // The webhook Service now points at nobody: remove the configurations so kubectl can write.
    cp.run(&[
        "delete",
        "validatingwebhookconfiguration",
        "spin-operator-validating-webhook-configuration",
    ])
    .expect("drop validating");
    cp.run(&[
        "delete",
        "mutatingwebhookconfiguration",
        "spin-operator-mutating-webhook-configuration",
    ])
    .expect("drop mutating");
    cp.apply(&ns, &app("after", "img:1"))
        .expect("app after failover");
    wait_image(&cp, &ns, "after", "img:1");
}
