//! Operator scale: 1,000 SpinApps created at once against a real control plane (etcd, kube-apiserver,
//! kube-controller-manager from spinkube-testenv); how long until every Deployment and Service exists,
//! reconciles per second, API requests per SpinApp and the operator's memory.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use spinkube_operator::api::{SpinApp, SpinAppSpec};
use spinkube_testenv::{ControlPlane, Options};

/// SpinApps created (`SPINKUBE_BENCH_APPS` overrides, for a quick look).
fn apps() -> usize {
    std::env::var("SPINKUBE_BENCH_APPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}
/// Parallel creates from the benchmark client.
const CREATORS: usize = 64;

pub fn run(operator: &Path, root: &Path) -> Result<()> {
    let n = apps();
    println!(
        "# operator: {n} SpinApps created at once (webhooks off, no kubelet: Pods stay Pending)"
    );
    // Every SpinApp gets a ClusterIP Service: the default /24 would run out after 253.
    let cp = ControlPlane::start(Options {
        service_cidr: Some("127.200.0.0/16".into()),
        ..Options::default()
    })?;
    for crd in [
        "spinapps.core.spinkube.dev.yaml",
        "spinappexecutors.core.spinkube.dev.yaml",
    ] {
        cp.kubectl_run(&[
            "apply",
            "--server-side",
            "-f",
            root.join("crds").join(crd).to_str().context("path")?,
        ])?;
    }
    cp.kubectl_run(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/spinapps.core.spinkube.dev",
        "crd/spinappexecutors.core.spinkube.dev",
    ])?;
    cp.kubectl_stdin(&["apply", "-f", "-"], "apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata:\n  name: wasmtime-spin-v2\nhandler: spin\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench\n---\napiVersion: core.spinkube.dev/v1alpha1\nkind: SpinAppExecutor\nmetadata:\n  name: containerd-shim-spin\n  namespace: bench\nspec:\n  createDeployment: true\n  deploymentConfig:\n    runtimeClassName: wasmtime-spin-v2\n")?;

    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let health_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = Command::new(operator)
        .args([
            "--kubeconfig",
            cp.kubeconfig().to_str().context("path")?,
            "--disable-webhooks",
        ])
        .args([
            "--metrics-bind-address",
            &format!("127.0.0.1:{metrics_port}"),
        ])
        .args([
            "--health-probe-bind-address",
            &format!("127.0.0.1:{health_port}"),
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(cp.dir().join("spin-operator.log"))?)
        .spawn()
        .context("starting spin-operator")?;
    let pid = child.id();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(measure(&cp, metrics_port, health_port, pid));
    let _ = child.kill();
    let _ = child.wait();
    result
}

async fn measure(cp: &ControlPlane, metrics_port: u16, health_port: u16, pid: u32) -> Result<()> {
    let n = apps();
    let kubeconfig = kube::config::Kubeconfig::read_from(cp.kubeconfig())?;
    let client = Client::try_from(
        kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?,
    )?;
    let start = Instant::now();
    while scrape(&format!("http://127.0.0.1:{health_port}/readyz"))
        .await
        .is_err()
    {
        if start.elapsed() > Duration::from_secs(60) {
            bail!("operator not ready after 60s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rss_idle = rss_kib(pid);
    let before = operator_counters(metrics_port).await?;

    let apps: Api<SpinApp> = Api::namespaced(client.clone(), "bench");
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let apps = apps.clone();
            async move {
                let mut app = SpinApp::new(
                    &format!("app-{i:04}"),
                    SpinAppSpec {
                        image:
                            "ghcr.io/spinkube/containerd-shim-spin/examples/spin-rust-hello:v0.13.0"
                                .into(),
                        executor: "containerd-shim-spin".into(),
                        replicas: Some(1),
                        ..Default::default()
                    },
                );
                app.metadata.namespace = Some("bench".into());
                apps.create(&PostParams::default(), &app).await.map(|_| ())
            }
        })
        .buffer_unordered(CREATORS)
        .try_collect::<Vec<()>>()
        .await?;
    let created = start.elapsed();

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "bench");
    let services: Api<Service> = Api::namespaced(client.clone(), "bench");
    let selector = ListParams::default().labels("core.spinkube.dev/app-name");
    let mut done = None;
    while start.elapsed() < Duration::from_secs(600) {
        let d = deployments.list_metadata(&selector).await?.items.len();
        let s = services.list_metadata(&selector).await?.items.len();
        if d >= n && s >= n {
            done = Some(start.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let Some(done) = done else {
        let d = deployments.list_metadata(&selector).await?.items.len();
        let s = services.list_metadata(&selector).await?.items.len();
        bail!("not every Deployment and Service appeared within 600s: {d} Deployments, {s} Services of {n}")
    };
    let at_done = operator_counters(metrics_port).await?;
    // Let status updates from the ReplicaSets settle, then count again.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let settled = operator_counters(metrics_port).await?;

    println!(
        "{:<44} {:>10.2} s",
        "all SpinApps created (64 parallel clients)",
        created.as_secs_f64()
    );
    println!(
        "{:<44} {:>10.2} s",
        "every Deployment and Service exists",
        done.as_secs_f64()
    );
    println!(
        "{:<44} {:>10.0}",
        "SpinApps per second (end to end)",
        n as f64 / done.as_secs_f64()
    );
    let reconciles = at_done.reconciles - before.reconciles;
    println!(
        "{:<44} {:>10.0} ({reconciles:.0} in total)",
        "reconciles per second until then",
        reconciles / done.as_secs_f64()
    );
    println!(
        "{:<44} {:>10.1}",
        "API requests per SpinApp until then",
        (at_done.requests - before.requests) / n as f64
    );
    println!(
        "{:<44} {:>10.1}",
        "API requests per SpinApp incl. 10 s settle",
        (settled.requests - before.requests) / n as f64
    );
    println!(
        "{:<44} {:>10.1}",
        "reconciles per SpinApp incl. 10 s settle",
        (settled.reconciles - before.reconciles) / n as f64
    );
    if let (Some(idle), Some(now), Some(peak)) = (rss_idle, rss_kib(pid), peak_kib(pid)) {
        println!(
            "{:<44} {:>10.1} MiB idle, {:.1} MiB with {n} apps, {:.1} MiB peak",
            "operator memory (RSS)",
            idle / 1024.0,
            now / 1024.0,
            peak / 1024.0
        );
    }
    Ok(())
}

struct Counters {
    reconciles: f64,
    requests: f64,
}

async fn operator_counters(port: u16) -> Result<Counters> {
    let text = scrape(&format!("http://127.0.0.1:{port}/metrics")).await?;
    let sum = |prefix: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    Ok(Counters {
        reconciles: sum("spin_operator_reconciles_total{controller=\"spinapp\"}"),
        requests: sum("spin_operator_api_requests_total"),
    })
}

async fn scrape(url: &str) -> Result<String> {
    let uri: hyper::Uri = url.parse()?;
    let host = uri.authority().context("authority")?.to_string();
    let stream = tokio::net::TcpStream::connect(&host).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = hyper::Request::get(uri.path())
        .header("host", host)
        .body(http_body_util::Empty::<bytes::Bytes>::new())?;
    let resp = sender.send_request(req).await?;
    if !resp.status().is_success() {
        bail!("{url}: {}", resp.status());
    }
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await?
        .to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

fn status_kib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn rss_kib(pid: u32) -> Option<f64> {
    status_kib(pid, "VmRSS:")
}

fn peak_kib(pid: u32) -> Option<f64> {
    status_kib(pid, "VmHWM:")
}
