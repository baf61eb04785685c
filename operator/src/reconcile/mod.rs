//! The two controllers: SpinApps (children, status, events) and SpinAppExecutors (deletion guard while in use).

mod apply;
mod executor;
mod spinapp;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};

use crate::api::{SpinApp, SpinAppExecutor};
use crate::desired::lookups;
use crate::labels;
use crate::ops::metrics::Metrics;
use crate::ops::shutdown::Shutdown;
use crate::retry::{Backoff, RetryPolicy};

/// Shared by every reconcile.
pub struct Context {
    /// Kubernetes client, with the metrics request layer.
    pub client: Client,
    /// Publishes Events on the reconciled objects.
    pub recorder: Recorder,
    /// Reconcile and API-request metrics.
    pub metrics: Arc<Metrics>,
    /// The SpinApp cache of the app controller (the executor controller reads it for its deletion guard).
    pub apps: Store<SpinApp>,
    /// Retry delays of failed SpinApp and SpinAppExecutor reconciles.
    pub app_retries: Backoff,
    /// Retry delays of failed SpinAppExecutor reconciles.
    pub executor_retries: Backoff,
}

/// The key of an object in a [`Backoff`].
fn retry_key(object: &impl ResourceExt) -> String {
    format!(
        "{}/{}",
        object.namespace().unwrap_or_default(),
        object.name_any()
    )
}

/// Where the controllers look.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// Only this namespace; all namespaces when None.
    pub namespace: Option<String>,
    /// Parallel reconciles per controller.
    pub concurrency: u16,
    /// Retries after a failed reconcile.
    pub retry: RetryPolicy,
}

fn api<K>(client: &Client, scope: &Scope) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match &scope.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Runs both controllers until `shutdown` resolves; `on_ready` fires once the SpinApp cache is synced.
pub async fn run(
    client: Client,
    scope: Scope,
    metrics: Arc<Metrics>,
    shutdown: Shutdown,
    on_ready: impl FnOnce() + Send + 'static,
) {
    let apps_api: Api<SpinApp> = api(&client, &scope);
    let config = ControllerConfig::default().concurrency(scope.concurrency.max(1));
    let app_controller = Controller::new(apps_api, watcher::Config::default().any_semantic())
        .with_config(config.clone());
    let apps = app_controller.store();
    let ctx = Arc::new(Context {
        client: client.clone(),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "spin-operator".into(),
                instance: std::env::var("POD_NAME").ok(),
            },
        ),
        metrics: metrics.clone(),
        apps: apps.clone(),
        app_retries: Backoff::new(scope.retry),
        executor_retries: Backoff::new(scope.retry),
    });

    // Children carry the app-name label; watching only those keeps unrelated Deployments out of memory.
    let children = watcher::Config::default()
        .labels(labels::APP_NAME)
        .any_semantic();
    let (for_executors, for_secrets, for_config_maps) = (apps.clone(), apps.clone(), apps.clone());
    let app_loop = app_controller
        .owns(api::<Deployment>(&client, &scope), children.clone())
        .owns(api::<Service>(&client, &scope), children.clone())
        // A pod going wrong (crash loop, image pull) changes no Deployment field: its own events
        // bring the app back, so its status can say why (see `pods`). No cache is kept of them.
        .watches(api::<Pod>(&client, &scope), children, |pod| {
            let ns = pod.namespace()?;
            let app = pod.labels().get(labels::APP_NAME)?;
            Some(ObjectRef::<SpinApp>::new(app).within(&ns))
        })
        .watches(
            api::<SpinAppExecutor>(&client, &scope),
            watcher::Config::default().any_semantic(),
            move |ex| apps_using_executor(&for_executors, &ex),
        )
        // Secrets and ConfigMaps named by valueFrom / loadFromSecret: a change re-renders the runtime config.
        .watches(
            api::<Secret>(&client, &scope),
            watcher::Config::default().any_semantic(),
            move |s| apps_referencing(&for_secrets, &s, true),
        )
        .watches(
            api::<ConfigMap>(&client, &scope),
            watcher::Config::default().any_semantic(),
            move |c| apps_referencing(&for_config_maps, &c, false),
        )
        .trigger_backoff(WatchBackoff::default())
        .graceful_shutdown_on(shutdown.wait())
        .run(spinapp::reconcile, spinapp::error_policy, ctx.clone())
        .for_each(log_watch_errors);

    let executor_loop = Controller::new(
        api::<SpinAppExecutor>(&client, &scope),
        watcher::Config::default().any_semantic(),
    )
    .with_config(config)
    // A SpinApp created or deleted changes whether its executor needs the finalizer.
    .watches(
        api::<SpinApp>(&client, &scope),
        watcher::Config::default().any_semantic(),
        |app| {
            let ns = app.namespace().unwrap_or_default();
            (!app.spec.executor.is_empty())
                .then(|| ObjectRef::<SpinAppExecutor>::new(&app.spec.executor).within(&ns))
        },
    )
    .graceful_shutdown_on(shutdown.wait())
    .run(executor::reconcile, executor::error_policy, ctx.clone())
    .for_each(|_| async {});

    let ready_apps = apps.clone();
    let readiness = async move {
        if ready_apps.wait_until_ready().await.is_ok() {
            on_ready();
        }
        // Export the cache size and the backlog for the metrics.
        let label = crate::ops::metrics::ControllerLabel {
            controller: "spinapp",
        };
        loop {
            let state = ready_apps.state();
            metrics
                .objects
                .get_or_create(&label)
                .set(state.len() as i64);
            metrics
                .pending
                .get_or_create(&label)
                .set(pending(&state) as i64);
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    };
    tokio::select! {
        _ = futures::future::join(app_loop, executor_loop) => {},
        _ = readiness => {},
    }
}

/// Reconcile failures are logged by the error policies; what reaches here are watch failures.
async fn log_watch_errors<T, E: std::fmt::Display, W: std::fmt::Display>(
    r: Result<T, kube::runtime::controller::Error<E, W>>,
) {
    if let Err(kube::runtime::controller::Error::QueueError(e)) = r {
        tracing::warn!(error = %e, "watch failed; retrying");
    }
}

/// All watches of one controller share a single backoff in kube-runtime. Its default climbs to 30 s, so a
/// few seconds of API-server downtime (each watch failing in turn) stalled the operator for minutes; a
/// short cap brings it back within seconds of the API server.
struct WatchBackoff {
    next: Duration,
}

const WATCH_BACKOFF_START: Duration = Duration::from_millis(250);
const WATCH_BACKOFF_MAX: Duration = Duration::from_secs(5);

impl Default for WatchBackoff {
    fn default() -> Self {
        WatchBackoff {
            next: WATCH_BACKOFF_START,
        }
    }
}

impl Iterator for WatchBackoff {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        let current = self.next;
        self.next = (self.next * 2).min(WATCH_BACKOFF_MAX);
        Some(current)
    }
}

impl kube::runtime::utils::Backoff for WatchBackoff {
    fn reset(&mut self) {
        self.next = WATCH_BACKOFF_START;
    }
}

/// SpinApps changed since their status was last written (`status.observedGeneration` behind).
fn pending(apps: &[Arc<SpinApp>]) -> usize {
    apps.iter()
        .filter(|a| a.status.as_ref().and_then(|s| s.observed_generation) < a.metadata.generation)
        .count()
}

fn apps_using_executor(apps: &Store<SpinApp>, ex: &SpinAppExecutor) -> Vec<ObjectRef<SpinApp>> {
    let ns = ex.namespace();
    apps.state()
        .iter()
        .filter(|a| a.namespace() == ns && a.spec.executor == ex.name_any())
        .map(|a| ObjectRef::from_obj(a.as_ref()))
        .collect()
}

fn apps_referencing<K: kube::Resource>(
    apps: &Store<SpinApp>,
    obj: &K,
    secret: bool,
) -> Vec<ObjectRef<SpinApp>> {
    let ns = obj.meta().namespace.clone();
    let name = obj.meta().name.clone().unwrap_or_default();
    apps.state()
        .iter()
        .filter(|a| a.namespace() == ns)
        .filter(|a| {
            let (secrets, config_maps) = lookups::objects_to_fetch(a);
            if secret {
                secrets.contains(&name)
            } else {
                config_maps.contains(&name)
            }
        })
        .map(|a| ObjectRef::from_obj(a.as_ref()))
        .collect()
}

/// The Ready reason (and error reason in the metrics) of a child the API server refused.
pub const CHILD_REFUSED: &str = "ChildRefused";

/// Errors of a reconcile (logged, counted, retried).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API request failed; the reason comes from the API status when there is one.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The reconcile may not proceed, e.g. deleting an executor that SpinApps still use.
    #[error("{0}")]
    Blocked(String),
    /// The API server refused a child (see `apply::refusal`); also shown in the SpinApp's status.
    #[error("{0}")]
    Refused(String),
}

impl Error {
    fn reason(&self) -> String {
        match self {
            Error::Kube(kube::Error::Api(s)) => s.reason.clone(),
            Error::Kube(_) => "ClientError".into(),
            Error::Blocked(_) => "Blocked".into(),
            Error::Refused(_) => CHILD_REFUSED.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{SpinAppSpec, SpinAppStatus};

    #[test]
    fn pending_counts_apps_whose_generation_has_no_status() {
        let app = |generation: i64, observed: Option<i64>| {
            let mut a = SpinApp::new("a", SpinAppSpec::default());
            a.metadata.generation = Some(generation);
            a.status = observed.map(|g| SpinAppStatus {
                observed_generation: Some(g),
                ..Default::default()
            });
            Arc::new(a)
        };
        let apps = [
            app(1, None),
            app(2, Some(1)),
            app(2, Some(2)),
            app(5, Some(5)),
        ];
        assert_eq!(pending(&apps), 2);
        assert_eq!(pending(&[]), 0);
    }
}
