//! The product end to end on a real one-node cluster ([`Cluster::shared`]): the chart installed
//! with the operator running as a pod from our image, SpinApps made by `spinkube scaffold` from
//! apps pushed with `spinkube push`, pods run by containerd with our shim, reached through their
//! Services (kube-proxy) from a client pod, from the node, and through `kubectl port-forward`.
//!
//! Each test works in its own namespace and deletes it at the end. Needs root, the node tools
//! (`make cluster-tools`) and the workspace binaries (`make e2e-cluster` builds all of it).
//!
//! - `serving`: HTTP through a Service, scaling, deleting, rolling updates;
//! - `config`: variables, Secrets, runtime config (key-value on Redis), the Redis trigger;
//! - `faults`: the kubelet and containerd restarting under running apps.

mod config;
mod faults;
mod serving;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use spinkube_e2e::cluster::SHIM_EXECUTOR;
use spinkube_e2e::cluster::{bin_dir, run_script};
use spinkube_e2e::Cluster;

const READY_LIMIT: Duration = Duration::from_secs(180);

fn cluster() -> &'static Cluster {
    Cluster::shared()
}

/// A namespace for one test, deleted when dropped. Holds the node: shared by ordinary tests,
/// exclusively by the ones that restart its daemons (their requests must not see others' faults).
struct Namespace(String, #[allow(dead_code)] NodeUse);

#[allow(dead_code)]
enum NodeUse {
    Shared(RwLockReadGuard<'static, ()>),
    Exclusive(RwLockWriteGuard<'static, ()>),
}

static NODE: RwLock<()> = RwLock::new(());

impl Namespace {
    /// A fresh namespace with the `containerd-shim-spin` executor (executors are namespaced; the
    /// chart makes one in the namespaces its values list).
    fn new(prefix: &str) -> Namespace {
        let node = NodeUse::Shared(NODE.read().unwrap_or_else(|e| e.into_inner()));
        Namespace::with(prefix, node)
    }
    /// Like [`Namespace::new`], while no other test runs.
    fn exclusive(prefix: &str) -> Namespace {
        let node = NodeUse::Exclusive(NODE.write().unwrap_or_else(|e| e.into_inner()));
        Namespace::with(prefix, node)
    }
    fn with(prefix: &str, node: NodeUse) -> Namespace {
        let ns = Namespace(
            cluster().cp.create_namespace(prefix).expect("namespace"),
            node,
        );
        ns.apply(SHIM_EXECUTOR);
        ns
    }
    fn kubectl(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", &self.0];
        all.extend_from_slice(args);
        cluster()
            .kubectl(&all)
            .unwrap_or_else(|e| panic!("{e:#}\n{}", cluster().diagnostics(&self.0)))
    }
    fn apply(&self, yaml: &str) {
        cluster()
            .kubectl_stdin(&["-n", &self.0, "apply", "-f", "-"], yaml)
            .unwrap_or_else(|e| panic!("{e:#}"));
    }
    fn wait_for(&self, args: &[&str], want: &str, limit: Duration) {
        let mut all = vec!["-n", &self.0];
        all.extend_from_slice(args);
        cluster()
            .wait_for_output(&all, want, limit)
            .unwrap_or_else(|e| panic!("{e:#}\n{}", cluster().diagnostics(&self.0)));
    }
    fn wait_ready(&self, app: &str) {
        self.wait_for(
            &[
                "get",
                "spinapp",
                app,
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
            ],
            "True",
            READY_LIMIT,
        );
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = cluster().kubectl(&["delete", "namespace", &self.0, "--wait=false"]);
    }
}

/// `spinkube push` of an app dir to `repo:tag` in the cluster's registry (once per reference);
/// the image reference. One push at a time: the registry (distribution, filesystem storage)
/// fails concurrent uploads of the same blob with DIGEST_INVALID, and the tests push the same
/// examples.
fn push(app: &str, repo_tag: &str) -> String {
    static PUSHED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let image = cluster().image(repo_tag);
    let mut pushed = PUSHED.lock().unwrap_or_else(|e| e.into_inner());
    if pushed.contains(&image) {
        return image;
    }
    cluster()
        .push_app(app, repo_tag)
        .unwrap_or_else(|e| panic!("{e:#}"));
    pushed.insert(image.clone());
    image
}

/// `spinkube scaffold ARGS`: the SpinApp manifest.
fn scaffold(args: &[&str]) -> String {
    let out = Command::new(bin_dir().unwrap().join("spinkube"))
        .arg("scaffold")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "spinkube scaffold: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A client image (Debian's static busybox) for requests from inside the cluster network.
fn client_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let image = cluster().image("busybox:e2e");
        run_script(
            "e2e/images/push-files-image.sh",
            &[&image, "/bin/busybox", "0:0", "/bin/busybox=/bin/busybox"],
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
        image
    })
}

/// `GET http://IP:PORT/PATH` from a pod on the cluster network; the raw response (status line,
/// headers, body). busybox `nc`, because Debian's static busybox `wget` segfaults and the client
/// image has nothing but busybox. The request's write side stays open until nc is done: like
/// Spin's, our HTTP server drops a connection whose client half-closes it.
fn get_from_pod(ns: &Namespace, name: &str, ip: &str, port: u16, path: &str) -> String {
    let script = format!(
        "b=/bin/busybox; $b mkfifo /request
         ($b printf 'GET {path} HTTP/1.1\\r\\nHost: {ip}\\r\\nConnection: close\\r\\n\\r\\n'; exec $b sleep 60) >/request &
         $b nc -w 10 {ip} {port} </request; status=$?; kill $!; exit $status"
    );
    ns.kubectl(&[
        "run",
        name,
        "--image",
        client_image(),
        "--restart=Never",
        "--command",
        "--",
        "/bin/busybox",
        "sh",
        "-c",
        &script,
    ]);
    let phase = cluster()
        .wait_for_one_of(
            &[
                "-n",
                &ns.0,
                "get",
                "pod",
                name,
                "-o",
                "jsonpath={.status.phase}",
            ],
            &["Succeeded", "Failed"],
            Duration::from_secs(60),
        )
        .unwrap_or_else(|e| panic!("{e:#}\n{}", cluster().diagnostics(&ns.0)));
    let out = ns.kubectl(&["logs", name]);
    assert_eq!(
        phase,
        "Succeeded",
        "client pod {name}: {out}\n{}",
        cluster().diagnostics(&ns.0)
    );
    out
}

/// A Service's ClusterIP once it routes to the app: `GET path` answers 200 with a body holding
/// `expect`. A Ready SpinApp's Service gets its endpoints first and its iptables rules at
/// kube-proxy's next sync;
/// until then the node rejects the port, and a ClusterIP just freed by a deleted namespace may
/// still lead to that namespace's pods.
fn service_ip(ns: &Namespace, service: &str, path: &str, expect: &str) -> String {
    let ip = ns.kubectl(&["get", "svc", service, "-o", "jsonpath={.spec.clusterIP}"]);
    let url = format!("http://{ip}{path}");
    eventually(
        ns,
        &format!("Service {service}: GET {url} answers 200 {expect:?}"),
        Duration::from_secs(60),
        || match try_http_get(&url) {
            Ok((200, body)) if body.contains(expect) => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    ip
}

/// Between two looks at a condition on the cluster (each look may spawn kubectl).
const LOOK_AGAIN: Duration = Duration::from_millis(250);

/// Looks with `probe` until it gives `Ok`; after `limit`, panics with `what`, the last `Err`
/// (what it saw) and the namespace's diagnostics.
fn eventually<T>(
    ns: &Namespace,
    what: &str,
    limit: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let started = Instant::now();
    loop {
        match probe() {
            Ok(v) => return v,
            Err(last) if started.elapsed() > limit => panic!(
                "{what} within {limit:?}; last: {last}\n{}",
                cluster().diagnostics(&ns.0)
            ),
            Err(_) => std::thread::sleep(LOOK_AGAIN),
        }
    }
}

fn http_get(url: &str) -> (u16, String) {
    try_http_get(url).unwrap_or_else(|e| panic!("{e}"))
}

fn try_http_get(url: &str) -> Result<(u16, String), String> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .unwrap();
    let resp = client
        .get(url)
        .send()
        .map_err(|e| format!("GET {url}: {}", error_chain(&e)))?;
    Ok((resp.status().as_u16(), resp.text().unwrap_or_default()))
}

/// Pod IPs of a SpinApp's ready pods.
fn pod_ips(ns: &Namespace, app: &str) -> Vec<String> {
    ns.kubectl(&[
        "get",
        "pods",
        "-l",
        &format!("core.spinkube.dev/app-name={app}"),
        "-o",
        "jsonpath={range .items[*]}{.status.podIP} {.status.containerStatuses[0].ready}{\"\\n\"}{end}",
    ])
    .lines()
    .filter_map(|l| l.strip_suffix(" true"))
    .filter(|ip| !ip.is_empty())
    .map(String::from)
    .collect()
}

/// GETs `url` over and over, each on a new connection (as independent clients do), until
/// stopped; counts what answered 200 and what did not.
struct RequestLoop {
    stop: Arc<AtomicBool>,
    worker: Option<std::thread::JoinHandle<LoopCount>>,
}

#[derive(Debug, Default)]
struct LoopCount {
    ok: usize,
    failed: usize,
    /// The first few failures, for the assertion message.
    failures: Vec<String>,
}

impl RequestLoop {
    fn start(url: String) -> RequestLoop {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let worker = std::thread::spawn(move || {
            let client = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .pool_max_idle_per_host(0)
                .no_proxy()
                .build()
                .unwrap();
            let mut count = LoopCount::default();
            while !flag.load(Ordering::Relaxed) {
                let outcome = match client.get(&url).send() {
                    Ok(r) if r.status().as_u16() == 200 => Ok(()),
                    Ok(r) => Err(format!("status {}", r.status())),
                    Err(e) => Err(error_chain(&e)),
                };
                match outcome {
                    Ok(()) => count.ok += 1,
                    Err(e) => {
                        count.failed += 1;
                        if count.failures.len() < 5 {
                            count.failures.push(e);
                        }
                    }
                }
            }
            count
        });
        RequestLoop {
            stop,
            worker: Some(worker),
        }
    }

    fn finish(mut self) -> LoopCount {
        self.stop.store(true, Ordering::Relaxed);
        self.worker.take().unwrap().join().unwrap()
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut chain = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        chain.push_str(&format!(": {s}"));
        source = s.source();
    }
    chain
}

/// The `e2e/apps/kv-probe` SpinApp: its `default` key-value store and its Redis trigger both
/// on the Redis at `redis_url`.
fn kv_probe_app(name: &str, image: &str, replicas: u32, redis_url: &str) -> String {
    format!(
        "apiVersion: core.spinkube.dev/v1alpha1
kind: SpinApp
metadata:
  name: {name}
spec:
  image: {image}
  executor: containerd-shim-spin
  replicas: {replicas}
  variables:
  - name: redis_address
    value: {redis_url}
  runtimeConfig:
    keyValueStores:
    - name: default
      type: redis
      options:
      - name: url
        value: {redis_url}
"
    )
}
