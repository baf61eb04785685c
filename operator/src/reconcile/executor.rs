//! SpinAppExecutors in use carry a finalizer: deleting one waits until no SpinApp in its namespace uses it.
//!
//! The finalizer is held only while SpinApps use the executor. An unused executor has none, so
//! `helm uninstall` (which deletes the chart's executor after the operator and its RBAC are gone)
//! never leaves one stuck in `Terminating`.

use std::sync::Arc;
use std::time::Duration;

use kube::api::Patch;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use tracing::{info, warn};

use super::{Context, Error};
use crate::api::{SpinApp, SpinAppExecutor};
use crate::labels::FINALIZER;

/// While the finalizer is held, look again now and then: a SpinApp moved to another executor
/// triggers only its new executor, and the SpinApp cache this controller reads belongs to the app
/// controller, so a delete event can arrive here before that cache has dropped the app (then the
/// finalizer stays until this recheck; seen as a 60 s timeout in the helm uninstall test).
const RECHECK: Duration = Duration::from_secs(20);

/// What to do with an executor's finalizer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FinalizerStep {
    /// In use and not guarded yet.
    Add,
    /// Not in use (any more): let it go, deleting or not.
    Remove,
    /// Being deleted while in use: keep the finalizer and say who uses it.
    Block(Vec<String>),
    /// Already as it should be.
    Keep,
}

/// The decision, from the executor's state and the SpinApps that use it.
pub fn finalizer_step(has_finalizer: bool, deleting: bool, users: &[String]) -> FinalizerStep {
    match (users.is_empty(), has_finalizer, deleting) {
        // Deleting without our finalizer: it is going, nothing left to guard.
        (_, false, true) => FinalizerStep::Keep,
        (true, true, _) => FinalizerStep::Remove,
        (true, false, false) => FinalizerStep::Keep,
        (false, true, true) => FinalizerStep::Block(users.to_vec()),
        (false, false, false) => FinalizerStep::Add,
        (false, true, false) => FinalizerStep::Keep,
    }
}

/// One reconcile; a success starts the executor's retry delay over (see [`error_policy`]).
pub async fn reconcile(executor: Arc<SpinAppExecutor>, ctx: Arc<Context>) -> Result<Action, Error> {
    let key = super::retry_key(executor.as_ref());
    let action = reconcile_executor(executor, ctx.clone()).await?;
    ctx.executor_retries.succeeded(&key);
    Ok(action)
}

async fn reconcile_executor(
    executor: Arc<SpinAppExecutor>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let _timer = ctx.metrics.start("spinappexecutor");
    let ns = executor.namespace().unwrap_or_default();
    let name = executor.name_any();
    let has_finalizer = executor.finalizers().iter().any(|f| f == FINALIZER);
    let deleting = executor.meta().deletion_timestamp.is_some();
    if deleting && !has_finalizer {
        return Ok(Action::await_change());
    }
    let mut users = users_in_cache(&ctx, &ns, &name);
    // The cache may lag (a fresh start, a SpinApp created a moment ago): never let go on its word alone.
    if users.is_empty() && has_finalizer {
        users = users_on_server(&ctx, &ns, &name).await?;
    }
    let api: Api<SpinAppExecutor> = Api::namespaced(ctx.client.clone(), &ns);
    match finalizer_step(has_finalizer, deleting, &users) {
        FinalizerStep::Keep if has_finalizer => Ok(Action::requeue(RECHECK)),
        FinalizerStep::Keep => Ok(Action::await_change()),
        FinalizerStep::Add => {
            set_finalizers(&api, &executor, with_finalizer(executor.finalizers())).await?;
            Ok(Action::requeue(RECHECK))
        }
        FinalizerStep::Remove => {
            let rest = executor
                .finalizers()
                .iter()
                .filter(|f| *f != FINALIZER)
                .cloned()
                .collect();
            set_finalizers(&api, &executor, rest).await?;
            if deleting {
                info!(namespace = %ns, executor = %name, "executor no longer in use; deletion proceeds");
            }
            Ok(Action::await_change())
        }
        FinalizerStep::Block(users) => blocked(&executor, &users, &ctx).await,
    }
}

fn users_in_cache(ctx: &Context, ns: &str, executor: &str) -> Vec<String> {
    let mut users: Vec<String> = ctx
        .apps
        .state()
        .iter()
        .filter(|a| a.namespace().as_deref() == Some(ns) && a.spec.executor == executor)
        .map(|a| a.name_any())
        .collect();
    users.sort();
    users
}

async fn users_on_server(ctx: &Context, ns: &str, executor: &str) -> Result<Vec<String>, Error> {
    let apps: Api<SpinApp> = Api::namespaced(ctx.client.clone(), ns);
    let mut users: Vec<String> = apps
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter(|a| a.spec.executor == executor)
        .map(|a| a.name_any())
        .collect();
    users.sort();
    Ok(users)
}

fn with_finalizer(current: &[String]) -> Vec<String> {
    let mut all = current.to_vec();
    all.push(FINALIZER.to_string());
    all
}

/// A JSON merge patch guarded by resourceVersion, so a concurrent change to the list is never lost.
async fn set_finalizers(
    api: &Api<SpinAppExecutor>,
    ex: &SpinAppExecutor,
    finalizers: Vec<String>,
) -> Result<(), Error> {
    let patch = json!({
        "metadata": {
            "resourceVersion": ex.resource_version(),
            "finalizers": finalizers,
        }
    });
    api.patch(
        &ex.name_any(),
        &super::apply::merge_params(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

async fn blocked(ex: &SpinAppExecutor, users: &[String], ctx: &Context) -> Result<Action, Error> {
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
    let delay = ctx.executor_retries.failed(&super::retry_key(ex.as_ref()));
    warn!(executor = %ex.name_any(), error = %err, retry_in = ?delay, "executor reconcile failed; retrying");
    Action::requeue(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finalizer_follows_use() {
        let users = vec!["a".to_string(), "b".to_string()];
        let none: Vec<String> = vec![];
        // (has finalizer, deleting, users) -> step
        let table = [
            (false, false, &none, FinalizerStep::Keep),
            (true, false, &none, FinalizerStep::Remove),
            (true, true, &none, FinalizerStep::Remove),
            (false, true, &none, FinalizerStep::Keep),
            (false, false, &users, FinalizerStep::Add),
            (true, false, &users, FinalizerStep::Keep),
            (true, true, &users, FinalizerStep::Block(users.clone())),
            (false, true, &users, FinalizerStep::Keep),
        ];
        for (has, deleting, u, want) in table {
            assert_eq!(
                finalizer_step(has, deleting, u),
                want,
                "has={has} deleting={deleting} users={u:?}"
            );
        }
    }

    #[test]
    fn adding_keeps_other_finalizers() {
        assert_eq!(
            with_finalizer(&["other/x".to_string()]),
            vec!["other/x".to_string(), FINALIZER.to_string()]
        );
    }
}
