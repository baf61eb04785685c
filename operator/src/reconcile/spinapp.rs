//! One SpinApp: resolve its executor and references, apply its children, report status and events.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{DeleteParams, ListParams, Patch, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use tracing::{info, warn};

use super::apply::{apply, get_opt, refusal};
use super::{Context, Error};
use crate::api::{SpinApp, SpinAppExecutor};
use crate::desired::{self, lookups, Lookups, Plan};
use crate::labels;
use crate::status::{self, Observed};

/// How often a healthy app is looked at again even without events (picks up missed watch events).
const RESYNC: Duration = Duration::from_secs(600);
/// Retry delay while the app waits on something a user must fix.
const WAIT_FOR_USER: Duration = Duration::from_secs(60);

/// One reconcile; a success starts the app's retry delay over (see [`error_policy`]).
pub async fn reconcile(app: Arc<SpinApp>, ctx: Arc<Context>) -> Result<Action, Error> {
    let key = super::retry_key(app.as_ref());
    let action = reconcile_app(app, ctx.clone()).await?;
    ctx.app_retries.succeeded(&key);
    Ok(action)
}

async fn reconcile_app(app: Arc<SpinApp>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.start("spinapp");
    // Children are garbage-collected through their owner references.
    if app.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = app.namespace().unwrap_or_default();
    let name = app.name_any();
    let client = &ctx.client;

    let executor = match app.spec.executor.as_str() {
        "" => None,
        ex => {
            Api::<SpinAppExecutor>::namespaced(client.clone(), &ns)
                .get_opt(ex)
                .await?
        }
    };
    let Some(executor) = executor else {
        report(
            &app,
            &ctx,
            Observed {
                executor: None,
                creates_deployment: false,
                deployment: None,
                service_name: None,
                problem: None,
                pod_problem: None,
            },
        )
        .await?;
        return Ok(Action::requeue(WAIT_FOR_USER));
    };
    let executor_name = executor.name_any();

    let lookups = fetch_lookups(&ctx, &app, &ns).await?;
    let plan = lookups::check_references(&app, &lookups)
        .and_then(|()| desired::plan(&app, &executor, &lookups));
    let plan = match plan {
        Ok(plan) => plan,
        Err(problem) => {
            let problem = (problem.reason(), problem.to_string());
            report_problem(&app, &ctx, &executor, problem, None).await?;
            return Ok(Action::requeue(WAIT_FOR_USER));
        }
    };

    let mut applied = None;
    let deployment = match apply_plan(&ctx, &app, &ns, &plan, &mut applied).await {
        Ok(d) => d,
        Err(Error::Refused(message)) => {
            // Best effort: the retry and the log report the refusal anyway.
            let problem = (super::CHILD_REFUSED, message.clone());
            if let Err(e) = report_problem(&app, &ctx, &executor, problem, applied).await {
                warn!(spinapp = %name, error = %e, "could not report the refusal in the status");
            }
            return Err(Error::Refused(message));
        }
        Err(e) => return Err(e),
    };
    let not_ready = deployment.as_ref().is_some_and(|d| !all_ready(d));
    let pod_problem = match &deployment {
        Some(_) if not_ready => stuck_pods(&ctx, &ns, &name).await?,
        _ => None,
    };
    report(
        &app,
        &ctx,
        Observed {
            executor: Some(&executor_name),
            creates_deployment: executor.spec.create_deployment,
            deployment: deployment.as_ref(),
            service_name: plan.service.metadata.name.clone(),
            problem: None,
            pod_problem,
        },
    )
    .await?;
    // Pod events bring the app back while it is not ready (see the Pod watch in `super::run`).
    Ok(Action::requeue(RESYNC))
}

/// Reports a problem that kept the reconcile from applying the children, with the children as they
/// are now (what was applied before still shows in the status). `applied` is the Deployment this
/// reconcile already applied, when only the Service after it was refused; otherwise it is read.
async fn report_problem(
    app: &SpinApp,
    ctx: &Context,
    executor: &SpinAppExecutor,
    problem: (&str, String),
    applied: Option<Option<Deployment>>,
) -> Result<(), Error> {
    let (ns, name) = (app.namespace().unwrap_or_default(), app.name_any());
    let deployment = match applied {
        Some(d) => d,
        None => {
            Api::<Deployment>::namespaced(ctx.client.clone(), &ns)
                .get_opt(&name)
                .await?
        }
    };
    let service_name = Api::<Service>::namespaced(ctx.client.clone(), &ns)
        .get_opt(&name)
        .await?
        .map(|s| s.name_any());
    let executor_name = executor.name_any();
    report(
        app,
        ctx,
        Observed {
            executor: Some(&executor_name),
            creates_deployment: executor.spec.create_deployment,
            deployment: deployment.as_ref(),
            service_name,
            problem: Some(problem),
            pod_problem: None,
        },
    )
    .await
}

fn all_ready(d: &Deployment) -> bool {
    let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    d.status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
        >= desired
}

/// Why the app's pods do not start, if they are stuck (one list call, only for apps not ready).
async fn stuck_pods(ctx: &Context, ns: &str, app: &str) -> Result<Option<String>, Error> {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let selector = format!("{}={}", labels::APP_NAME, app);
    let list = pods.list(&ListParams::default().labels(&selector)).await?;
    Ok(status::pods::problem(&list.items))
}

/// Retries with a per-app exponential delay (`--retry-delay` doubling to `--max-retry-delay`).
pub fn error_policy(app: Arc<SpinApp>, err: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.error("spinapp", &err.reason());
    let delay = ctx.app_retries.failed(&super::retry_key(app.as_ref()));
    warn!(spinapp = %app.name_any(), namespace = ?app.namespace(), error = %err, retry_in = ?delay, "reconcile failed; retrying");
    Action::requeue(delay)
}

async fn fetch_lookups(ctx: &Context, app: &SpinApp, ns: &str) -> Result<Lookups, Error> {
    let (secret_names, config_map_names) = lookups::objects_to_fetch(app);
    let mut lookups = Lookups {
        namespace: ns.to_string(),
        ..Default::default()
    };
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    for name in secret_names {
        let data = get_opt(&secrets, &name).await?.map(|s| {
            let mut data: BTreeMap<String, String> = s
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                .collect();
            data.extend(s.string_data.unwrap_or_default());
            data
        });
        lookups.secrets.insert(name, data);
    }
    let config_maps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), ns);
    for name in config_map_names {
        let data = get_opt(&config_maps, &name)
            .await?
            .map(|c| c.data.unwrap_or_default());
        lookups.config_maps.insert(name, data);
    }
    Ok(lookups)
}

/// Applies the children and returns the Deployment as the API server holds it (with its status);
/// If the Service (applied last) is refused, `applied` gets the Deployment for the status.
async fn apply_plan(
    ctx: &Context,
    app: &SpinApp,
    ns: &str,
    plan: &Plan,
    applied: &mut Option<Option<Deployment>>,
) -> Result<Option<Deployment>, Error> {
    let client = &ctx.client;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    if let Some(secret) = &plan.runtime_config_secret {
        apply(&secrets, secret)
            .await
            .map_err(refused("Secret", &secret.metadata))?;
    }
    if let Some(ca) = &plan.ca_secret {
        // Shared by the namespace and replaceable by the cluster operator: create once, never overwrite.
        match secrets.create(&PostParams::default(), ca).await {
            Ok(_) => {
                info!(namespace = ns, secret = ?ca.metadata.name, "created default CA bundle Secret")
            }
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(refused("Secret", &ca.metadata)(e)),
        }
    }
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let name = app.name_any();
    let deployment = match &plan.deployment {
        Some(d) => Some(
            apply(&deployments, d)
                .await
                .map_err(refused("Deployment", &d.metadata))?,
        ),
        None => {
            // The executor stopped wanting a Deployment: remove the one we made earlier.
            if let Some(old) = deployments.get_opt(&name).await? {
                if owned_by(&old, app) {
                    deployments
                        .delete(&name, &DeleteParams::background())
                        .await?;
                }
            }
            None
        }
    };
    let service = apply(
        &Api::<Service>::namespaced(client.clone(), ns),
        &plan.service,
    )
    .await
    .map_err(refused("Service", &plan.service.metadata));
    if let Err(e) = service {
        *applied = Some(deployment);
        return Err(e);
    }
    if let (Some(d), Some(current)) = (&deployment, &plan.runtime_config_secret) {
        if rolled_out(d) {
            delete_stale_runtime_configs(
                &secrets,
                app,
                current.metadata.name.as_deref().unwrap_or(""),
            )
            .await?;
        }
    }
    Ok(deployment)
}

/// Maps a failed write of a child to `Error::Refused` when the API server refused it for good.
fn refused(kind: &'static str, meta: &ObjectMeta) -> impl FnOnce(kube::Error) -> Error {
    let name = meta.name.clone().unwrap_or_default();
    move |e| match refusal(kind, &name, &e) {
        Some(message) => Error::Refused(message),
        None => e.into(),
    }
}

fn owned_by<K: Resource>(obj: &K, app: &SpinApp) -> bool {
    obj.owner_references()
        .iter()
        .any(|o| Some(&o.uid) == app.meta().uid.as_ref())
}

fn rolled_out(d: &Deployment) -> bool {
    let (Some(spec), Some(status)) = (&d.spec, &d.status) else {
        return false;
    };
    let desired = spec.replicas.unwrap_or(1);
    status.observed_generation >= d.metadata.generation
        && status.updated_replicas.unwrap_or(0) >= desired
        && status.replicas.unwrap_or(0) == status.updated_replicas.unwrap_or(0)
}

/// Old generated runtime-config Secrets stay until the rollout that stops using them completes (pods of
/// the previous ReplicaSet still mount them).
async fn delete_stale_runtime_configs(
    secrets: &Api<Secret>,
    app: &SpinApp,
    current: &str,
) -> Result<(), Error> {
    let name = app.name_any();
    let selector = format!("{}={}", labels::APP_NAME, name);
    for s in secrets
        .list_metadata(&ListParams::default().labels(&selector))
        .await?
        .items
    {
        let sname = s.metadata.name.clone().unwrap_or_default();
        let ours = s
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| Some(&o.uid) == app.meta().uid.as_ref());
        if ours && sname != current && sname.starts_with(&format!("{name}-")) {
            info!(secret = %sname, spinapp = %name, "deleting superseded runtime-config Secret");
            match secrets.delete(&sname, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// Writes the status when it changed, and an Event when the Ready condition changes reason.
async fn report(app: &SpinApp, ctx: &Context, observed: Observed<'_>) -> Result<(), Error> {
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let new = status::status(app, &observed, &now);
    let old = app.status.clone().unwrap_or_default();
    let ready = |s: &crate::api::SpinAppStatus| {
        s.conditions
            .iter()
            .find(|c| c.type_ == status::READY)
            .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
    };
    let (old_ready, new_ready) = (ready(&old), ready(&new));
    if old_ready != new_ready {
        if let Some((state, reason, message)) = &new_ready {
            let type_ = if state == "False" && is_problem(reason) {
                EventType::Warning
            } else {
                EventType::Normal
            };
            if type_ == EventType::Warning {
                warn!(spinapp = %app.name_any(), namespace = ?app.namespace(), reason = %reason, "{message}");
            }
            let event = Event {
                type_,
                reason: reason.clone(),
                note: Some(truncate(message, 1000)),
                action: "Reconcile".into(),
                secondary: None,
            };
            if let Err(e) = ctx.recorder.publish(&event, &app.object_ref(&())).await {
                warn!(error = %e, "could not publish event");
            }
        }
    }
    if new != old {
        let api: Api<SpinApp> =
            Api::namespaced(ctx.client.clone(), &app.namespace().unwrap_or_default());
        let patch = serde_json::json!({ "status": new });
        api.patch_status(
            &app.name_any(),
            &super::apply::merge_params(),
            &Patch::Merge(&patch),
        )
        .await?;
    }
    Ok(())
}

fn is_problem(reason: &str) -> bool {
    !matches!(
        reason,
        "ReplicasNotReady" | "DeploymentNotFound" | "ReplicasReady" | "ExternallyManaged"
    )
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}
