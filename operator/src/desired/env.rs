//! The app container's environment: Spin variables, listen address, OpenTelemetry, limits, components.

use k8s_openapi::api::core::v1::EnvVar;

use super::{quantity, PlanError};
use crate::api::{OtelConfig, SpinApp};

fn var(name: impl Into<String>, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

/// `SPIN_VARIABLE_<NAME>` per variable (Spin's env provider upper-cases names), then
/// `SPIN_HTTP_LISTEN_ADDR`, `OTEL_EXPORTER_OTLP_*`, `SPIN_MAX_INSTANCE_MEMORY` and
/// `SPIN_COMPONENTS_TO_RETAIN`.
pub fn env(app: &SpinApp, port: i32, otel: Option<&OtelConfig>) -> Result<Vec<EnvVar>, PlanError> {
    let mut env: Vec<EnvVar> = app
        .spec
        .variables
        .iter()
        .map(|v| EnvVar {
            name: format!("SPIN_VARIABLE_{}", v.name.to_uppercase()),
            value: v.value.clone(),
            value_from: v.value_from.clone(),
        })
        .collect();
    env.push(var("SPIN_HTTP_LISTEN_ADDR", format!("0.0.0.0:{port}")));
    if let Some(o) = otel {
        for (name, value) in [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &o.exporter_otlp_endpoint),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                &o.exporter_otlp_traces_endpoint,
            ),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                &o.exporter_otlp_metrics_endpoint,
            ),
            (
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                &o.exporter_otlp_logs_endpoint,
            ),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                env.push(var(name, v));
            }
        }
    }
    if let Some(limit) = app.spec.invocation_limits.get("memory") {
        let bytes = quantity::to_units(limit).ok_or_else(|| {
            PlanError::InvalidSpec(format!(
                "spec.invocationLimits.memory {limit:?} is not a quantity: use a value like 128Mi"
            ))
        })?;
        env.push(var("SPIN_MAX_INSTANCE_MEMORY", bytes.to_string()));
    }
    if let Some(components) = &app.spec.components {
        env.push(var("SPIN_COMPONENTS_TO_RETAIN", components.join(",")));
    }
    Ok(env)
}
