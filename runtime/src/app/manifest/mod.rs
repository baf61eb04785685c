//! spin.toml (manifest v1 and v2) → [`LockedApp`].

mod files;
pub mod v1;
pub mod v2;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::locked::{
    ContentRef, LockedApp, LockedComponent, LockedComponentSource, LockedTrigger, Variable,
};
use super::AppError;
use v2::{ComponentDecl, ComponentSpec, SourceDecl, VariableDecl};

/// Where a manifest's files come from and where copies of its `files` mounts go.
pub struct LoadOptions {
    /// Directory that receives a copy of each component's `files` (like `spin up` does).
    pub files_root: PathBuf,
}

/// Reads a spin.toml (or a directory holding one) into a locked app.
pub fn load_manifest_file(path: &Path, opts: &LoadOptions) -> Result<LockedApp, AppError> {
    let path = if path.is_dir() {
        path.join("spin.toml")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&path).map_err(|source| AppError::ReadManifest {
        path: path.clone(),
        source,
    })?;
    let app_dir = path
        .canonicalize()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    let mut app = parse_manifest(&text, &path, &app_dir, opts)?;
    let origin = url::Url::from_file_path(app_dir.join(path.file_name().unwrap_or_default()))
        .map(|u| u.to_string())
        .unwrap_or_default();
    app.metadata.insert("origin".into(), Value::String(origin));
    super::validate::validate(&app)?;
    Ok(app)
}

/// Parses manifest text; `app_dir` resolves relative paths.
pub fn parse_manifest(
    text: &str,
    path: &Path,
    app_dir: &Path,
    opts: &LoadOptions,
) -> Result<LockedApp, AppError> {
    let parse_err = |e: toml::de::Error| AppError::ParseManifest {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    };
    let table: toml::Table = toml::from_str(text).map_err(parse_err)?;
    let version = table
        .get("spin_manifest_version")
        .or_else(|| table.get("spin_version"));
    let cx = Converter {
        path,
        app_dir,
        opts,
    };
    match version {
        Some(toml::Value::Integer(2)) => cx.convert_v2(toml::from_str(text).map_err(parse_err)?),
        Some(toml::Value::String(v)) if v == "1" => {
            cx.convert_v1(toml::from_str(text).map_err(parse_err)?)
        }
        Some(other) => Err(AppError::ManifestVersion {
            path: path.to_path_buf(),
            found: other.to_string(),
        }),
        None => Err(AppError::ManifestVersion {
            path: path.to_path_buf(),
            found: "nothing (add `spin_manifest_version = 2` at the top)".into(),
        }),
    }
}

struct Converter<'a> {
    path: &'a Path,
    app_dir: &'a Path,
    opts: &'a LoadOptions,
}

impl Converter<'_> {
    fn invalid(&self, msg: impl std::fmt::Display) -> AppError {
        AppError::Invalid(format!("{}: {msg}", self.path.display()))
    }

    fn convert_v2(&self, m: v2::ManifestV2) -> Result<LockedApp, AppError> {
        let mut metadata = app_metadata(
            &m.application.name,
            m.application.version.as_deref(),
            m.application.description.as_deref(),
            &m.application.authors,
        );
        let trigger_settings: Map<String, Value> = m
            .application
            .trigger
            .iter()
            .map(|(k, v)| (k.clone(), toml_to_json(&toml::Value::Table(v.clone()))))
            .collect();
        metadata.insert("triggers".into(), Value::Object(trigger_settings.clone()));
        if m.triggers.len() == 1 {
            // Spin duplicates the single trigger type's settings into `trigger` for older hosts.
            if let Some(ty) = m.triggers.keys().next() {
                let mut single = trigger_settings
                    .get(ty)
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                single.insert("type".into(), Value::String(ty.clone()));
                metadata.insert("trigger".into(), Value::Object(single));
            }
        }

        let variables = self.variables(m.variables)?;
        let mut components = Vec::new();
        for (id, decl) in m.components {
            components.push(self.component(&id, decl)?);
        }
        let mut triggers = Vec::new();
        for (trigger_type, decls) in m.triggers {
            for (index, decl) in decls.into_iter().enumerate() {
                let component_id = match decl.component {
                    Some(ComponentSpec::Reference(id)) => Some(id),
                    Some(ComponentSpec::Inline(inline)) => {
                        let id = decl
                            .id
                            .clone()
                            .unwrap_or_else(|| format!("{trigger_type}-inline-{index}"));
                        components.push(self.component(&id, *inline)?);
                        Some(id)
                    }
                    None => None,
                };
                let mut config = match toml_to_json(&toml::Value::Table(decl.config)) {
                    Value::Object(o) => o,
                    _ => Map::new(),
                };
                if let Some(c) = &component_id {
                    config.insert("component".into(), Value::String(c.clone()));
                }
                let id = decl.id.unwrap_or_else(|| {
                    format!(
                        "{trigger_type}-{}",
                        component_id.clone().unwrap_or_else(|| index.to_string())
                    )
                });
                triggers.push(LockedTrigger {
                    id,
                    trigger_type: trigger_type.clone(),
                    trigger_config: Value::Object(config),
                });
            }
        }
        dedupe_trigger_ids(&mut triggers);
        Ok(LockedApp {
            spin_lock_version: 0,
            metadata,
            variables,
            triggers,
            components,
            ..Default::default()
        })
    }

    fn convert_v1(&self, m: v1::ManifestV1) -> Result<LockedApp, AppError> {
        let mut metadata = app_metadata(
            &m.name,
            m.version.as_deref(),
            m.description.as_deref(),
            &m.authors,
        );
        let trigger = toml_to_json(&toml::Value::Table(m.trigger.clone()));
        let trigger_type = m
            .trigger
            .get("type")
            .and_then(toml::Value::as_str)
            .ok_or_else(|| {
                self.invalid("`trigger` needs a `type`, e.g. trigger = { type = \"http\" }")
            })?
            .to_string();
        let mut settings = trigger.as_object().cloned().unwrap_or_default();
        settings.remove("type");
        metadata.insert("trigger".into(), trigger);
        metadata.insert(
            "triggers".into(),
            serde_json::json!({ trigger_type.clone(): Value::Object(settings) }),
        );
        let variables = self.variables(m.variables)?;
        let mut components = Vec::new();
        let mut triggers = Vec::new();
        for c in m.components {
            let trigger_config = c.trigger.clone().ok_or_else(|| {
                self.invalid(format!(
                    "component `{}` has no [component.trigger] section; add e.g. `route = \"/...\"`",
                    c.id
                ))
            })?;
            let mut config = match toml_to_json(&toml::Value::Table(trigger_config)) {
                Value::Object(o) => o,
                _ => Map::new(),
            };
            config.insert("component".into(), Value::String(c.id.clone()));
            triggers.push(LockedTrigger {
                id: format!("{trigger_type}-{}", c.id),
                trigger_type: trigger_type.clone(),
                trigger_config: Value::Object(config),
            });
            let decl = ComponentDecl {
                source: c.source,
                description: c.description,
                variables: c.config,
                environment: c.environment,
                files: c.files,
                exclude_files: c.exclude_files,
                allowed_http_hosts: c.allowed_http_hosts,
                allowed_outbound_hosts: c.allowed_outbound_hosts,
                key_value_stores: c.key_value_stores,
                sqlite_databases: c.sqlite_databases,
                ai_models: c.ai_models,
                targets: None,
                build: c.build,
                tool: Default::default(),
                dependencies_inherit_configuration: false,
                dependencies: Default::default(),
            };
            components.push(self.component(&c.id, decl)?);
        }
        dedupe_trigger_ids(&mut triggers);
        Ok(LockedApp {
            spin_lock_version: 0,
            metadata,
            variables,
            triggers,
            components,
            ..Default::default()
        })
    }

    fn variables(
        &self,
        decls: BTreeMap<String, VariableDecl>,
    ) -> Result<BTreeMap<String, Variable>, AppError> {
        let mut out = BTreeMap::new();
        for (name, v) in decls {
            if !is_lower_snake(&name) {
                return Err(self.invalid(format!(
                    "variable name `{name}` is invalid: use lower_snake_case (letters, digits, `_`, starting with a letter)"
                )));
            }
            if v.required == v.default.is_some() {
                return Err(self.invalid(format!(
                    "variable `{name}` must be either `required = true` or have a `default`, not both or neither"
                )));
            }
            out.insert(
                name,
                Variable {
                    default: v.default,
                    secret: v.secret,
                },
            );
        }
        Ok(out)
    }

    fn component(&self, id: &str, c: ComponentDecl) -> Result<LockedComponent, AppError> {
        if !is_kebab(id) {
            return Err(self.invalid(format!(
                "component id `{id}` is invalid: use kebab-case (lowercase letters, digits and `-`, starting with a letter)"
            )));
        }
        let source = match &c.source {
            SourceDecl::Local(p) => {
                let path = self.app_dir.join(p);
                if !path.is_file() {
                    return Err(AppError::MissingSource {
                        component: id.to_string(),
                        path,
                    });
                }
                let url = url::Url::from_file_path(&path)
                    .map_err(|_| self.invalid(format!("component `{id}`: bad source path {p}")))?;
                ContentRef { source: Some(url.to_string()), ..Default::default() }
            }
            SourceDecl::Remote { url, .. } => {
                return Err(self.invalid(format!(
                    "component `{id}`: remote source {url} is not supported yet; download it and use a local `source` path"
                )))
            }
            SourceDecl::Registry { package, .. } => {
                return Err(self.invalid(format!(
                    "component `{id}`: registry source `{package}` is not supported yet; use a local `source` path"
                )))
            }
        };
        let mut metadata = Map::new();
        if let Some(d) = c.description {
            metadata.insert("description".into(), Value::String(d));
        }
        let mut outbound = c.allowed_outbound_hosts.clone();
        outbound.extend(legacy_http_hosts(&c.allowed_http_hosts));
        insert_strings(&mut metadata, "allowed_outbound_hosts", &outbound);
        insert_strings(&mut metadata, "key_value_stores", &c.key_value_stores);
        insert_strings(&mut metadata, "databases", &c.sqlite_databases);
        insert_strings(&mut metadata, "ai_models", &c.ai_models);
        if let Some(build) = c.build {
            metadata.insert("build".into(), toml_to_json(&toml::Value::Table(build)));
        }
        let files = files::resolve(
            self.app_dir,
            &self.opts.files_root.join(id),
            &c.files,
            &c.exclude_files,
        )
        .map_err(|e| self.invalid(format!("component `{id}` files: {e}")))?;
        Ok(LockedComponent {
            id: id.to_string(),
            metadata,
            source: LockedComponentSource {
                content_type: "application/wasm".into(),
                content: source,
                precompiled: false,
            },
            env: c.environment,
            files,
            config: c.variables,
            dependencies: Map::new(),
        })
    }
}

fn app_metadata(
    name: &str,
    version: Option<&str>,
    description: Option<&str>,
    authors: &[String],
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), Value::String(name.into()));
    if let Some(v) = version {
        m.insert("version".into(), Value::String(v.into()));
    }
    if let Some(d) = description {
        m.insert("description".into(), Value::String(d.into()));
    }
    insert_strings(&mut m, "authors", authors);
    m
}

fn insert_strings(m: &mut Map<String, Value>, key: &str, values: &[String]) {
    if !values.is_empty() {
        m.insert(
            key.into(),
            Value::Array(values.iter().cloned().map(Value::String).collect()),
        );
    }
}

/// `allowed_http_hosts` (Spin 1) expressed as `allowed_outbound_hosts` entries.
fn legacy_http_hosts(hosts: &[String]) -> Vec<String> {
    hosts
        .iter()
        .flat_map(|h| {
            if h == "insecure:allow-all" {
                vec!["*://*:*".to_string()]
            } else if h.starts_with("http://") || h.starts_with("https://") {
                vec![h.clone()]
            } else {
                vec![format!("http://{h}"), format!("https://{h}")]
            }
        })
        .collect()
}

fn dedupe_trigger_ids(triggers: &mut [LockedTrigger]) {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for t in triggers.iter_mut() {
        let n = seen.entry(t.id.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            t.id = format!("{}-{}", t.id, n);
        }
    }
}

pub(crate) fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

fn is_kebab(s: &str) -> bool {
    s.split('-').all(|part| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    }) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

fn is_lower_snake(s: &str) -> bool {
    s.split('_').all(|part| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    }) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

#[cfg(test)]
mod tests;
