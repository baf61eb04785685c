//! The Secrets and ConfigMaps a SpinApp references, fetched by the reconciler and read by the pure planner.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{RuntimeConfigOption, SpinApp};

use super::PlanError;

/// A `valueFrom` reference to one key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ValueRef {
    /// A key of a Secret (`secretKeyRef`).
    Secret {
        /// Secret name, in the SpinApp's namespace.
        name: String,
        /// Data key.
        key: String,
    },
    /// A key of a ConfigMap (`configMapKeyRef`).
    ConfigMap {
        /// ConfigMap name, in the SpinApp's namespace.
        name: String,
        /// Data key.
        key: String,
    },
}

/// Referenced objects by name: `None` means the object does not exist.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lookups {
    /// Namespace the objects were fetched from (the SpinApp's), for error messages.
    pub namespace: String,
    /// Secrets by name: their decoded data, or `None` if absent.
    pub secrets: BTreeMap<String, Option<BTreeMap<String, String>>>,
    /// ConfigMaps by name: their data, or `None` if absent.
    pub config_maps: BTreeMap<String, Option<BTreeMap<String, String>>>,
}

impl Lookups {
    /// The value of `r`, or an error naming the object, key and the field that references it.
    pub fn value(&self, r: &ValueRef, field: &str) -> Result<String, PlanError> {
        let (kind, objects, name, key) = match r {
            ValueRef::Secret { name, key } => ("Secret", &self.secrets, name, key),
            ValueRef::ConfigMap { name, key } => ("ConfigMap", &self.config_maps, name, key),
        };
        let Some(Some(data)) = objects.get(name) else {
            return Err(PlanError::MissingObject {
                kind,
                name: name.clone(),
                namespace: self.namespace.clone(),
                field: field.to_string(),
            });
        };
        data.get(key).cloned().ok_or_else(|| PlanError::MissingKey {
            kind,
            name: name.clone(),
            key: key.clone(),
            field: field.to_string(),
        })
    }

    /// Key `key` of Secret `name`, if both exist.
    pub fn secret_value(&self, name: &str, key: &str) -> Option<String> {
        self.secrets.get(name)?.as_ref()?.get(key).cloned()
    }
}

/// Every reference a SpinApp makes, with the field that makes it (for error messages).
pub fn references(app: &SpinApp) -> Vec<(ValueRef, String)> {
    let mut refs = Vec::new();
    let rc = &app.spec.runtime_config;
    if let Some(name) = &rc.load_from_secret {
        refs.push((
            ValueRef::Secret {
                name: name.clone(),
                key: super::RUNTIME_CONFIG_KEY.to_string(),
            },
            "spec.runtimeConfig.loadFromSecret".to_string(),
        ));
    } else {
        let mut add = |options: &[RuntimeConfigOption], path: String| {
            for (i, o) in options.iter().enumerate() {
                if let Some(r) = option_ref(o) {
                    refs.push((r, format!("{path}.options[{i}]")));
                }
            }
        };
        for (i, s) in rc.key_value_stores.iter().enumerate() {
            add(
                &s.options,
                format!("spec.runtimeConfig.keyValueStores[{i}]"),
            );
        }
        for (i, s) in rc.sqlite_databases.iter().enumerate() {
            add(
                &s.options,
                format!("spec.runtimeConfig.sqliteDatabases[{i}]"),
            );
        }
        if let Some(llm) = &rc.llm_compute {
            add(&llm.options, "spec.runtimeConfig.llmCompute".to_string());
        }
    }
    // Variables are resolved by the kubelet; checking them here turns a pod stuck in
    // CreateContainerConfigError into a SpinApp condition that names the missing key.
    for (i, v) in app.spec.variables.iter().enumerate() {
        let Some(from) = &v.value_from else { continue };
        let field = format!("spec.variables[{i}].valueFrom");
        if let Some(s) = &from.secret_key_ref {
            if !s.optional.unwrap_or(false) {
                refs.push((
                    ValueRef::Secret {
                        name: s.name.clone(),
                        key: s.key.clone(),
                    },
                    field.clone(),
                ));
            }
        }
        if let Some(c) = &from.config_map_key_ref {
            if !c.optional.unwrap_or(false) {
                refs.push((
                    ValueRef::ConfigMap {
                        name: c.name.clone(),
                        key: c.key.clone(),
                    },
                    field,
                ));
            }
        }
    }
    refs
}

pub(super) fn option_ref(o: &RuntimeConfigOption) -> Option<ValueRef> {
    let from = o.value_from.as_ref()?;
    if let Some(s) = &from.secret_key_ref {
        return Some(ValueRef::Secret {
            name: s.name.clone(),
            key: s.key.clone(),
        });
    }
    from.config_map_key_ref
        .as_ref()
        .map(|c| ValueRef::ConfigMap {
            name: c.name.clone(),
            key: c.key.clone(),
        })
}

/// Names of the Secrets and ConfigMaps to fetch.
pub fn objects_to_fetch(app: &SpinApp) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut secrets = BTreeSet::new();
    let mut config_maps = BTreeSet::new();
    for (r, _) in references(app) {
        match r {
            ValueRef::Secret { name, .. } => secrets.insert(name),
            ValueRef::ConfigMap { name, .. } => config_maps.insert(name),
        };
    }
    (secrets, config_maps)
}

/// Check every reference resolves (the planner only reads the runtime-config ones).
pub fn check_references(app: &SpinApp, lookups: &Lookups) -> Result<(), PlanError> {
    for (r, field) in references(app) {
        lookups.value(&r, &field)?;
    }
    Ok(())
}
