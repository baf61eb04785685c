//! spin-operator: reconciles SpinApps and SpinAppExecutors and serves their admission webhooks.
//! Flags are documented in operator/README.md.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use futures::FutureExt;
use kube::Client;
use spinkube_operator::ops::health::Health;
use spinkube_operator::ops::logging::{self, LogFormat};
use spinkube_operator::ops::metrics::Metrics;
use spinkube_operator::ops::{health, leader, shutdown};
use spinkube_operator::reconcile::{self, Scope};
use spinkube_operator::retry::RetryPolicy;
use spinkube_operator::webhook::{self, CertConfig, CertStore, Handler};
use tracing::{error, info, warn};

#[derive(Parser, Debug)]
#[command(name = "spin-operator", version, about = "Runs SpinApps on Kubernetes")]
struct Args {
    /// Kubeconfig file; in-cluster credentials (or $KUBECONFIG) when unset.
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// The operator's own namespace (leader Lease, webhook certificate Secret).
    #[arg(long, env = "POD_NAMESPACE", default_value = "spinkube")]
    namespace: String,
    /// Reconcile SpinApps in this namespace only.
    #[arg(long, env = "WATCH_NAMESPACE")]
    watch_namespace: Option<String>,
    #[arg(long, default_value = "0.0.0.0:8080")]
    metrics_bind_address: SocketAddr,
    #[arg(long, default_value = "0.0.0.0:8081")]
    health_probe_bind_address: SocketAddr,
    #[arg(long, default_value = "0.0.0.0:9443")]
    webhook_bind_address: SocketAddr,
    /// Serve no webhooks and manage no certificate.
    #[arg(long)]
    disable_webhooks: bool,
    #[arg(long, default_value = "spin-operator-webhook")]
    webhook_service_name: String,
    #[arg(long, default_value = "spin-operator-webhook-cert")]
    webhook_cert_secret: String,
    /// Extra DNS names or IP addresses for the webhook certificate (repeatable).
    #[arg(long)]
    webhook_extra_san: Vec<String>,
    #[arg(long, default_value = "spin-operator-mutating-webhook-configuration")]
    mutating_webhook_configuration: String,
    #[arg(long, default_value = "spin-operator-validating-webhook-configuration")]
    validating_webhook_configuration: String,
    /// Take the leader Lease before reconciling (run this when replicas > 1).
    #[arg(long)]
    leader_elect: bool,
    #[arg(long, default_value = "spin-operator-leader")]
    leader_election_id: String,
    /// Reconciles run in parallel per controller.
    #[arg(long, default_value_t = 16)]
    concurrency: u16,
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Seconds before the first retry of a failed reconcile; each further failure of the same
    /// object doubles it, up to --max-retry-delay, and a success starts over.
    #[arg(long, default_value_t = 5.0, value_parser = seconds)]
    retry_delay: f64,
    /// Seconds between retries at most.
    #[arg(long, default_value_t = 300.0, value_parser = seconds)]
    max_retry_delay: f64,
}

fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!(
            "`{s}` is not a positive number of seconds (e.g. 5 or 0.5)"
        )),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    logging::init(args.log_format);
    // rustls needs one process-wide crypto provider; ring is the one compiled in.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let metrics = Arc::new(Metrics::default());
    let client = client(&args, metrics.clone()).await?;
    let health = Arc::new(Health::default());
    let (trigger, down) = shutdown::channel();

    let mut tasks = serve_probes(&args, &health, &metrics, &down).await?;
    if args.disable_webhooks {
        health.webhooks.store(true, Ordering::SeqCst);
    } else {
        tasks.extend(start_webhooks(&args, client.clone(), health.clone(), &down).await?);
    }

    let signal_trigger = Arc::new(trigger);
    {
        let t = signal_trigger.clone();
        tokio::spawn(async move {
            spinkube_signals::termination().await;
            info!("shutting down");
            t.fire();
        });
    }

    let scope = Scope {
        namespace: args.watch_namespace.clone(),
        concurrency: args.concurrency,
        retry: RetryPolicy {
            first: Duration::from_secs_f64(args.retry_delay),
            max: Duration::from_secs_f64(args.max_retry_delay.max(args.retry_delay)),
        },
    };
    let mut lost_lease = false;
    let _lease = match args.leader_elect {
        true => Some(lead(&args, &client, &health, &metrics, &down, &signal_trigger).await?),
        false => None,
    };

    if !down.requested() {
        let h = health.clone();
        reconcile::run(client, scope, metrics.clone(), down.clone(), move || {
            h.standby.store(false, Ordering::SeqCst);
            h.controllers.store(true, Ordering::SeqCst);
            info!("caches synced; reconciling");
        })
        .await;
        if let Some(rx) = &_lease {
            lost_lease = !*rx.borrow();
        }
    }
    down.wait().await;
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(35), t).await;
    }
    if lost_lease {
        std::process::exit(1);
    }
    Ok(())
}

/// Serves `/metrics` and the health probes on their two addresses.
async fn serve_probes(
    args: &Args,
    health: &Arc<Health>,
    metrics: &Arc<Metrics>,
    down: &shutdown::Shutdown,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let (metrics_addr, metrics_task) = health::serve(
        args.metrics_bind_address,
        health.clone(),
        metrics.clone(),
        down.wait(),
    )
    .await
    .with_context(|| {
        format!(
            "cannot listen on --metrics-bind-address {}",
            args.metrics_bind_address
        )
    })?;
    let (health_addr, health_task) = health::serve(
        args.health_probe_bind_address,
        health.clone(),
        metrics.clone(),
        down.wait(),
    )
    .await
    .with_context(|| {
        format!(
            "cannot listen on --health-probe-bind-address {}",
            args.health_probe_bind_address
        )
    })?;
    info!(%metrics_addr, %health_addr, "serving metrics and health probes");
    Ok(vec![metrics_task, health_task])
}

/// Waits (in standby) until this replica holds the leader Lease or shutdown is requested. Once
/// leading, losing the Lease fires `trigger`: another replica reconciles now, so this one stops
/// at once, like controller-runtime. The receiver holds the Lease; dropping it releases it.
async fn lead(
    args: &Args,
    client: &Client,
    health: &Health,
    metrics: &Metrics,
    down: &shutdown::Shutdown,
    trigger: &Arc<shutdown::Trigger>,
) -> anyhow::Result<tokio::sync::watch::Receiver<bool>> {
    health.standby.store(true, Ordering::SeqCst);
    let identity = std::env::var("POD_NAME")
        .unwrap_or_else(|_| format!("spin-operator-{}", std::process::id()));
    let mut rx = leader::elect(
        client.clone(),
        &args.namespace,
        &args.leader_election_id,
        identity.clone(),
    )
    .await?;
    info!(%identity, lease = %args.leader_election_id, "waiting to become leader");
    tokio::select! {
        r = rx.wait_for(|leading| *leading) => { r.context("leader election stopped")?; }
        _ = down.wait() => {}
    }
    if !down.requested() {
        info!("became leader");
        metrics.is_leader.set(1);
        let (t, mut watch_rx) = (trigger.clone(), rx.clone());
        tokio::spawn(async move {
            if watch_rx.wait_for(|leading| !*leading).await.is_ok() {
                error!("lost the leader lease; exiting so another replica takes over");
                t.fire();
            }
        });
    }
    Ok(rx)
}

async fn client(args: &Args, metrics: Arc<Metrics>) -> anyhow::Result<Client> {
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("cannot read kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?
        }
        None => kube::Config::infer()
            .await
            .context("no kubeconfig given and not running in a cluster")?,
    };
    // Every request is counted, so `spin_operator_api_requests_total` shows what the operator costs.
    let count = tower::util::MapRequestLayer::new(move |req: http::Request<kube::client::Body>| {
        metrics.api_request(req.method(), req.uri());
        req
    });
    Ok(kube::client::ClientBuilder::try_from(config)?
        .with_layer(&count)
        .build())
}

/// Gets a certificate (retrying while the API server is unreachable), serves the webhooks and keeps the
/// certificate fresh.
async fn start_webhooks(
    args: &Args,
    client: Client,
    health: Arc<Health>,
    down: &shutdown::Shutdown,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let cfg = CertConfig {
        namespace: args.namespace.clone(),
        secret_name: args.webhook_cert_secret.clone(),
        service_name: args.webhook_service_name.clone(),
        extra_sans: args.webhook_extra_san.clone(),
        mutating_webhook_configuration: args.mutating_webhook_configuration.clone(),
        validating_webhook_configuration: args.validating_webhook_configuration.clone(),
    };
    let store = CertStore::new();
    let mut delay = Duration::from_secs(1);
    loop {
        match webhook::ensure_certificate(&client, &cfg).await {
            Ok(bundle) => {
                store.set(&bundle)?;
                break;
            }
            Err(e) if !down.requested() => {
                warn!(error = %e, "cannot set up the webhook certificate yet; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let handler_client = client.clone();
    let handler: Handler = Arc::new(move |req: http::Request<bytes::Bytes>| {
        let client = handler_client.clone();
        async move {
            let path = req.uri().path().to_string();
            let body = spinkube_operator::admission::review(&client, &path, req.body()).await;
            let mut resp = http::Response::new(bytes::Bytes::from(body));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            resp
        }
        .boxed()
    });
    let (addr, server) = webhook::bind(
        args.webhook_bind_address,
        store.clone(),
        handler,
        down.wait(),
    )
    .await?;
    info!(%addr, "serving admission webhooks");
    health.webhooks.store(true, Ordering::SeqCst);
    let rotation = tokio::spawn(webhook::run_rotation_loop(client, cfg, store, down.wait()));
    Ok(vec![tokio::spawn(server), rotation])
}
