//! Apps serving HTTP: through Services and port-forward, scaled, deleted, rolled to a new image.

use super::*;

#[test]
fn an_app_answers_through_its_service_from_a_pod_the_node_and_port_forward() {
    let started = Instant::now();
    let ns = Namespace::new("http");
    let image = push("examples/rust-http", "rust-http:v1");
    ns.apply(&scaffold(&["--from", &image]));
    ns.wait_ready("rust-http");
    let ip = service_ip(&ns, "rust-http", "/", "Hello");

    let response = get_from_pod(&ns, "client", &ip, 80, "/");
    assert!(
        response.starts_with("HTTP/1.1 200") && response.contains("Hello"),
        "from a pod: {response:?}"
    );

    let (status, body) = http_get(&format!("http://{ip}/"));
    assert_eq!(status, 200, "from the node: {body}");

    // kubectl port-forward prints the local port it picked.
    let mut pf = cluster()
        .cp
        .kubectl()
        .args(["-n", &ns.0, "port-forward", "svc/rust-http", ":80"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(pf.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    // Keep reading: kubectl (Go) dies of SIGPIPE when its stdout is closed.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let port = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("port-forward printed {line:?}"));
    let got = try_http_get(&format!("http://127.0.0.1:{port}/"));
    let _ = pf.kill();
    let mut pf_err = String::new();
    let _ = std::io::Read::read_to_string(&mut pf.stderr.take().unwrap(), &mut pf_err);
    let _ = pf.wait();
    match got {
        Ok((status, body)) => assert_eq!(status, 200, "through port-forward: {body}"),
        Err(e) => panic!("through port-forward: {e}\nkubectl port-forward said: {pf_err}"),
    }
    eprintln!("http test: {:.1?}", started.elapsed());
}

#[test]
fn scaling_gives_that_many_serving_pods_and_deleting_removes_everything() {
    let ns = Namespace::new("scale");
    let image = push("examples/rust-http", "rust-http:v1");
    ns.apply(&scaffold(&["--from", &image, "--replicas", "1"]));
    ns.wait_ready("rust-http");

    ns.kubectl(&["scale", "spinapp", "rust-http", "--replicas", "3"]);
    ns.wait_for(
        &[
            "get",
            "deployment",
            "rust-http",
            "-o",
            "jsonpath={.status.readyReplicas}",
        ],
        "3",
        READY_LIMIT,
    );
    let ips = pod_ips(&ns, "rust-http");
    assert_eq!(ips.len(), 3, "{ips:?}");
    for ip in &ips {
        let (status, _) = http_get(&format!("http://{ip}/"));
        assert_eq!(status, 200, "pod {ip}");
    }

    ns.kubectl(&["scale", "spinapp", "rust-http", "--replicas", "1"]);
    let left = pod_names_when_one(&ns);
    assert!(left.starts_with("rust-http-"), "{left}");

    ns.kubectl(&["delete", "spinapp", "rust-http"]);
    for what in [
        vec![
            "get",
            "deployment",
            "rust-http",
            "--ignore-not-found",
            "-o",
            "name",
        ],
        vec![
            "get",
            "service",
            "rust-http",
            "--ignore-not-found",
            "-o",
            "name",
        ],
        vec![
            "get",
            "pods",
            "-l",
            "core.spinkube.dev/app-name=rust-http",
            "-o",
            "name",
        ],
    ] {
        ns.wait_for(&what, "", READY_LIMIT);
    }
}

/// Waits until the app has one pod and returns its name.
fn pod_names_when_one(ns: &Namespace) -> String {
    eventually(ns, "one pod is left", READY_LIMIT, || {
        let names = ns.kubectl(&[
            "get",
            "pods",
            "-l",
            "core.spinkube.dev/app-name=rust-http",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ]);
        let names: Vec<&str> = names.split_whitespace().collect();
        match names[..] {
            [one] => Ok(one.to_string()),
            _ => Err(format!("pods left: {names:?}")),
        }
    })
}

#[test]
fn an_image_update_rolls_out_without_a_failed_request() {
    let ns = Namespace::new("rollout");
    let v1 = push("examples/rust-http", "rust-http:rollout-v1");
    let v2 = push("examples/rust-http", "rust-http:rollout-v2");
    // A readiness check, so a new pod gets traffic only once its app listens (the container
    // starts before the app has loaded); stopping pods drain on their own (the operator's
    // preStop sleep).
    let app = |image: &str| {
        format!(
            "apiVersion: core.spinkube.dev/v1alpha1
kind: SpinApp
metadata:
  name: rust-http
spec:
  image: {image}
  executor: containerd-shim-spin
  replicas: 2
  checks:
    readiness:
      httpGet:
        path: /.well-known/spin/health
      initialDelaySeconds: 0
      periodSeconds: 1
"
        )
    };
    ns.apply(&app(&v1));
    ns.wait_ready("rust-http");
    let ip = service_ip(&ns, "rust-http", "/", "Hello");

    let requests = RequestLoop::start(format!("http://{ip}/"));
    ns.apply(&app(&v2));
    // Rolled out: two pods, both v2 and ready; the v1 pods are gone (not even terminating).
    eventually(&ns, &format!("rolled out to {v2}"), READY_LIMIT, || {
        let listing = ns.kubectl(&[
            "get",
            "pods",
            "-l",
            "core.spinkube.dev/app-name=rust-http",
            "-o",
            "jsonpath={range .items[*]}{.spec.containers[0].image} {.status.containerStatuses[0].ready}{\"\\n\"}{end}",
        ]);
        let lines: Vec<&str> = listing.lines().filter(|l| !l.is_empty()).collect();
        if lines.len() == 2 && lines.iter().all(|l| *l == format!("{v2} true")) {
            Ok(())
        } else {
            Err(format!("{lines:?}"))
        }
    });
    let count = requests.finish();
    eprintln!("rolling update: {count:?}");
    assert!(count.ok > 0, "no request answered: {count:?}");
    assert_eq!(
        count.failed, 0,
        "failed requests during the rollout: {count:?}"
    );
}
