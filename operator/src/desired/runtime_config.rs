//! Spin's runtime-config.toml from `spec.runtimeConfig`, and the Secret that carries it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;

use super::lookups::{option_ref, Lookups};
use super::PlanError;
use crate::api::{RuntimeConfig, RuntimeConfigOption, SpinApp};
use crate::labels;

/// Key of the runtime config in its Secret (also what `loadFromSecret` Secrets must hold).
pub const RUNTIME_CONFIG_KEY: &str = "runtime-config.toml";

/// Renders the TOML: an `env` variables provider with SpinKube's `SPIN_VARIABLE_` prefix, then one table
/// per key-value store and SQLite database (`type` plus the options as strings), then `llm_compute`.
pub fn render(rc: &RuntimeConfig, lookups: &Lookups) -> Result<String, PlanError> {
    let mut doc = toml::Table::new();
    let mut provider = toml::Table::new();
    provider.insert("type".into(), "env".into());
    provider.insert("prefix".into(), "SPIN_VARIABLE_".into());
    doc.insert(
        "config_provider".into(),
        toml::Value::Array(vec![provider.into()]),
    );

    let mut stores = toml::Table::new();
    for (i, s) in rc.key_value_stores.iter().enumerate() {
        let path = format!("spec.runtimeConfig.keyValueStores[{i}]");
        insert_unique(
            &mut stores,
            &s.name,
            table(&s.type_, &s.options, lookups, &path)?,
            "key value store",
        )?;
    }
    if !stores.is_empty() {
        doc.insert("key_value_store".into(), stores.into());
    }
    let mut databases = toml::Table::new();
    for (i, s) in rc.sqlite_databases.iter().enumerate() {
        let path = format!("spec.runtimeConfig.sqliteDatabases[{i}]");
        insert_unique(
            &mut databases,
            &s.name,
            table(&s.type_, &s.options, lookups, &path)?,
            "sqlite database",
        )?;
    }
    if !databases.is_empty() {
        doc.insert("sqlite_database".into(), databases.into());
    }
    if let Some(llm) = &rc.llm_compute {
        doc.insert(
            "llm_compute".into(),
            table(
                &llm.type_,
                &llm.options,
                lookups,
                "spec.runtimeConfig.llmCompute",
            )?
            .into(),
        );
    }
    toml::to_string(&doc).map_err(|e| PlanError::InvalidRuntimeConfig(e.to_string()))
}

fn insert_unique(
    into: &mut toml::Table,
    name: &str,
    value: toml::Table,
    what: &str,
) -> Result<(), PlanError> {
    if name.is_empty() {
        return Err(PlanError::InvalidRuntimeConfig(format!(
            "a {what} has an empty name: give it the label the app uses"
        )));
    }
    if into.insert(name.to_string(), value.into()).is_some() {
        return Err(PlanError::InvalidRuntimeConfig(format!(
            "duplicate definition for {what} with name: {name}: give each one a different name"
        )));
    }
    Ok(())
}

fn table(
    type_: &str,
    options: &[RuntimeConfigOption],
    lookups: &Lookups,
    path: &str,
) -> Result<toml::Table, PlanError> {
    if type_.is_empty() {
        return Err(PlanError::InvalidRuntimeConfig(format!(
            "{path}.type is empty: set it (for example spin, redis or libsql)"
        )));
    }
    let mut t = toml::Table::new();
    t.insert("type".into(), type_.into());
    for (i, o) in options.iter().enumerate() {
        let field = format!("{path}.options[{i}]");
        let value = match (&o.value, option_ref(o)) {
            (Some(v), _) => v.clone(),
            (None, Some(r)) => lookups.value(&r, &field)?,
            (None, None) => {
                return Err(PlanError::InvalidRuntimeConfig(format!(
                    "{field} ({}) has neither value nor valueFrom: set one of them",
                    o.name
                )))
            }
        };
        t.insert(o.name.clone(), value.into());
    }
    Ok(t)
}

/// The generated Secret. Its name carries a checksum of the content (as SpinKube names it), so a changed
/// config is a new Secret and the Deployment that mounts it rolls.
pub fn runtime_config_secret(app: &SpinApp, toml: &str) -> Secret {
    let name = app.metadata.name.clone().unwrap_or_default();
    Secret {
        metadata: ObjectMeta {
            name: Some(format!(
                "{name}-{:x}",
                adler2::adler32_slice(toml.as_bytes())
            )),
            namespace: app.metadata.namespace.clone(),
            labels: Some(labels::app_labels(&name)),
            owner_references: Some(vec![labels::owner_reference(app)]),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            RUNTIME_CONFIG_KEY.to_string(),
            ByteString(toml.as_bytes().to_vec()),
        )])),
        ..Default::default()
    }
}
