//! The app's Deployment, as SpinKube builds it: one container named after the app, the runtime config and
//! CA bundle mounted from Secrets, probes from `spec.checks`.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, HTTPGetAction, HTTPHeader, KeyToPath, Lifecycle, LifecycleHandler,
    PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SecretVolumeSource, SleepAction, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::service::non_empty;
use super::{env, PlanError, RUNTIME_CONFIG_KEY};
use crate::api::{ExecutorDeploymentConfig, HealthProbe, SpinApp};
use crate::labels;

/// Secrets the Deployment mounts.
#[derive(Debug, Clone, Default)]
pub struct Mounts {
    /// Generated or `loadFromSecret` runtime config Secret.
    pub runtime_config_secret: Option<String>,
    /// Content checksum of a `loadFromSecret` Secret (rolls the Deployment when it changes).
    pub runtime_config_checksum: Option<String>,
    /// CA bundle Secret.
    pub ca_secret: Option<String>,
}

/// The app's Deployment run by `executor` (its name, for errors) with `config`.
pub fn deployment(
    app: &SpinApp,
    executor: &str,
    config: &ExecutorDeploymentConfig,
    mounts: &Mounts,
) -> Result<Deployment, PlanError> {
    let name = app.metadata.name.clone().unwrap_or_default();
    let spec = &app.spec;
    let (volumes, volume_mounts) = volumes(app, mounts);
    let mut container = container(app, config, volume_mounts)?;
    run_with_executor(&mut container, app, executor, config)?;
    Ok(Deployment {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: app.metadata.namespace.clone(),
            labels: Some(labels::app_labels(&name)),
            annotations: non_empty(&spec.deployment_annotations),
            owner_references: Some(vec![labels::owner_reference(app)]),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            // With autoscaling the field is left out, so the autoscaler owns it under server-side apply.
            replicas: (!spec.enable_autoscaling).then(|| spec.replicas.unwrap_or(1)),
            selector: LabelSelector {
                match_labels: Some(labels::ready_labels(&name)),
                ..Default::default()
            },
            template: pod_template(app, config, mounts, container, volumes),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// The app's one container, before the executor decides what it runs.
fn container(
    app: &SpinApp,
    config: &ExecutorDeploymentConfig,
    volume_mounts: Vec<VolumeMount>,
) -> Result<Container, PlanError> {
    let spec = &app.spec;
    let port = spec.port.unwrap_or(labels::DEFAULT_HTTP_PORT);
    let probe_of = |p: &Option<HealthProbe>| p.as_ref().map(|p| probe(p, port)).transpose();
    Ok(Container {
        name: app.metadata.name.clone().unwrap_or_default(),
        image: Some(spec.image.clone()),
        image_pull_policy: spec.image_pull_policy.clone(),
        ports: Some(vec![ContainerPort {
            name: Some(labels::HTTP_PORT_NAME.into()),
            container_port: port,
            ..Default::default()
        }]),
        env: Some(env(app, port, config.otel.as_ref())?),
        volume_mounts: (!volume_mounts.is_empty()).then_some(volume_mounts),
        resources: (!spec.resources.is_empty()).then(|| ResourceRequirements {
            limits: (!spec.resources.limits.is_empty()).then(|| spec.resources.limits.clone()),
            requests: (!spec.resources.requests.is_empty())
                .then(|| spec.resources.requests.clone()),
            ..Default::default()
        }),
        readiness_probe: probe_of(&spec.checks.readiness)?,
        liveness_probe: probe_of(&spec.checks.liveness)?,
        lifecycle: Some(drain_before_stop()),
        ..Default::default()
    })
}

/// A shim executor (`runtimeClassName`) runs the app image itself; a `spinImage` executor runs
/// `spin up` from that image with the app image as its argument.
fn run_with_executor(
    container: &mut Container,
    app: &SpinApp,
    executor: &str,
    config: &ExecutorDeploymentConfig,
) -> Result<(), PlanError> {
    let spec = &app.spec;
    let port = spec.port.unwrap_or(labels::DEFAULT_HTTP_PORT);
    match (&config.runtime_class_name, &config.spin_image) {
        (Some(_), None) => container.command = Some(vec!["/".into()]),
        (None, Some(spin_image)) => {
            container.image = Some(spin_image.clone());
            let mut args: Vec<String> = vec![
                "up".into(),
                "--listen".into(),
                format!("0.0.0.0:{port}"),
                "-f".into(),
                spec.image.clone(),
                "--runtime-config-file".into(),
                "/runtime-config.toml".into(),
            ];
            for c in spec.components.iter().flatten() {
                args.extend(["--component-id".into(), c.clone()]);
            }
            container.args = Some(args);
        }
        _ => {
            return Err(PlanError::InvalidExecutor {
                executor: executor.to_string(),
                message: "set exactly one of spec.deploymentConfig.runtimeClassName and spec.deploymentConfig.spinImage".into(),
            })
        }
    }
    Ok(())
}

/// The pods: the user's labels and annotations plus the ones the Service and rollouts need.
fn pod_template(
    app: &SpinApp,
    config: &ExecutorDeploymentConfig,
    mounts: &Mounts,
    container: Container,
    volumes: Vec<Volume>,
) -> PodTemplateSpec {
    let spec = &app.spec;
    let name = app.metadata.name.clone().unwrap_or_default();
    let mut template_labels = spec.pod_labels.clone();
    template_labels.extend(labels::ready_labels(&name));
    let mut template_annotations = spec.pod_annotations.clone();
    if let Some(sum) = &mounts.runtime_config_checksum {
        template_annotations.insert(labels::RUNTIME_CONFIG_CHECKSUM.into(), sum.clone());
    }
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(template_labels),
            annotations: non_empty(&template_annotations),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            runtime_class_name: config.runtime_class_name.clone(),
            service_account_name: Some(
                spec.service_account_name
                    .clone()
                    .unwrap_or_else(|| "default".into()),
            ),
            containers: vec![container],
            image_pull_secrets: (!spec.image_pull_secrets.is_empty())
                .then(|| spec.image_pull_secrets.clone()),
            volumes: (!volumes.is_empty()).then_some(volumes),
            node_selector: non_empty(&spec.node_selector),
            tolerations: (!spec.tolerations.is_empty()).then(|| spec.tolerations.clone()),
            affinity: spec.affinity.clone(),
            ..Default::default()
        }),
    }
}

/// Seconds a stopping pod keeps serving before it gets SIGTERM (beyond SpinKube, which stops at
/// once). The pod leaves its Service's endpoints when it starts stopping, but kube-proxy (or any
/// other proxy) applies that a moment later; until then new connections still reach it, and a
/// stopped app would refuse them, so every rolling update and scale-down failed some requests.
/// The kubelet runs the sleep itself (Kubernetes 1.30+), nothing runs in the container.
const DRAIN_SLEEP_SECONDS: i64 = 5;

fn drain_before_stop() -> Lifecycle {
    Lifecycle {
        pre_stop: Some(LifecycleHandler {
            sleep: Some(SleepAction {
                seconds: DRAIN_SLEEP_SECONDS,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn probe(p: &HealthProbe, port: i32) -> Result<Probe, PlanError> {
    let http = p.http_get.as_ref().ok_or_else(|| {
        PlanError::InvalidSpec("a probe in spec.checks has no httpGet: set httpGet.path".into())
    })?;
    Ok(Probe {
        http_get: Some(HTTPGetAction {
            path: Some(http.path.clone()),
            port: IntOrString::Int(port),
            http_headers: (!http.http_headers.is_empty()).then(|| {
                http.http_headers
                    .iter()
                    .map(|h| HTTPHeader {
                        name: h.name.clone(),
                        value: h.value.clone(),
                    })
                    .collect()
            }),
            ..Default::default()
        }),
        initial_delay_seconds: Some(p.initial_delay_seconds),
        timeout_seconds: Some(p.timeout_seconds),
        period_seconds: Some(p.period_seconds),
        success_threshold: Some(p.success_threshold),
        failure_threshold: Some(p.failure_threshold),
        ..Default::default()
    })
}

fn secret_volume(volume: &str, secret: &str, key: &str, mount_path: &str) -> (Volume, VolumeMount) {
    (
        Volume {
            name: volume.into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.into()),
                optional: Some(true),
                items: Some(vec![KeyToPath {
                    key: key.into(),
                    path: key.into(),
                    mode: None,
                }]),
                ..Default::default()
            }),
            ..Default::default()
        },
        VolumeMount {
            name: volume.into(),
            read_only: Some(true),
            mount_path: mount_path.into(),
            sub_path: Some(key.into()),
            ..Default::default()
        },
    )
}

/// Runtime config first, then the user's volumes, then the CA bundle (SpinKube's order).
fn volumes(app: &SpinApp, mounts: &Mounts) -> (Vec<Volume>, Vec<VolumeMount>) {
    let mut volumes = Vec::new();
    let mut volume_mounts = Vec::new();
    if let Some(secret) = &mounts.runtime_config_secret {
        let (v, m) = secret_volume(
            "spin-runtime-config",
            secret,
            RUNTIME_CONFIG_KEY,
            "/runtime-config.toml",
        );
        volumes.push(v);
        volume_mounts.push(m);
    }
    volumes.extend(app.spec.volumes.iter().cloned());
    volume_mounts.extend(app.spec.volume_mounts.iter().cloned());
    if let Some(secret) = &mounts.ca_secret {
        let (v, m) = secret_volume(
            "spin-ca",
            secret,
            super::ca_bundle::CA_BUNDLE_KEY,
            "/etc/ssl/certs/ca-certificates.crt",
        );
        volumes.push(v);
        volume_mounts.push(m);
    }
    (volumes, volume_mounts)
}
