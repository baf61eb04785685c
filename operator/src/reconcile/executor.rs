//! SpinAppExecutors carry a finalizer: deleting one waits until no SpinApp in its namespace uses it.

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::finalizer::{finalizer, Event as Finalizer};
use kube::{Api, Resource, ResourceExt};
use tracing::warn;

use super::{Context, Error};
use crate::api::SpinAppExecutor;
use crate::labels::FINALIZER;

pub async fn reconcile(executor: Arc<SpinAppExecutor>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.start("spinappexecutor");
    let ns = executor.namespace().unwrap_or_default();
    let api: Api<SpinAppExecutor> = Api::namespaced(ctx.client.clone(), &ns);
    finalizer(&api, FINALIZER, executor, |event| async {
        match event {
            Finalizer::Apply(_) => Ok(Action::await_change()),
            Finalizer::Cleanup(ex) => cleanup(&ex, &ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        kube::runtime::finalizer::Error::AddFinalizer(e)
        | kube::runtime::finalizer::Error::RemoveFinalizer(e) => Error::Kube(e),
        other => Error::Blocked(other.to_string()),
    })
}

async fn cleanup(ex: &SpinAppExecutor, ctx: &Context) -> Result<Action, Error> {
    // The app cache may lag a fresh start; it is synced before this controller gets here in practice, and a
    // wrong "no users" answer is prevented by listing from the API server instead.
    let ns = ex.namespace().unwrap_or_default();
    let apps: Api<crate::api::SpinApp> = Api::namespaced(ctx.client.clone(), &ns);
    let users: Vec<String> = apps
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter(|a| a.spec.executor == ex.name_any())
        .map(|a| a.name_any())
        .collect();
    if users.is_empty() {
        return Ok(Action::await_change());
    }
    let message = format!(
        "cannot delete SpinAppExecutor \"{}\": SpinApps still use it ({}); delete them or move them to another executor first",
        ex.name_any(),
        users.join(", ")
    );
    warn!("{message}");
    let event = Event {
        type_: EventType::Warning,
        reason: "DeletionBlocked".into(),
        note: Some(message.clone()),
        action: "Delete".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &ex.object_ref(&())).await {
        warn!(error = %e, "could not publish event");
    }
    Err(Error::Blocked(message))
}

pub fn error_policy(ex: Arc<SpinAppExecutor>, err: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.error("spinappexecutor", &err.reason());
    warn!(executor = %ex.name_any(), error = %err, "executor reconcile failed; retrying");
    Action::requeue(Duration::from_secs(10))
}
