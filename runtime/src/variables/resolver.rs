//! Resolves every app variable once and renders component `config` templates.

use std::collections::BTreeMap;
use std::fmt;

use super::provider::{process_env, EnvFn};
use super::template::{self, Part};
use super::{env_name, validate_name, Provider, VariablesError};
use crate::app::locked::Variable;
use crate::app::LockedApp;

/// Resolved app variables and the component templates over them, for one app.
pub struct Resolver {
    declared: BTreeMap<String, Variable>,
    /// Resolved values; a declared name is absent when nothing supplied one.
    values: BTreeMap<String, String>,
    /// Component id → key → template.
    components: BTreeMap<String, BTreeMap<String, String>>,
    /// Env prefix to suggest in "missing variable" hints, if an env provider exists.
    hint_prefix: Option<String>,
}

impl Resolver {
    /// `cli_values`: from `spinkube up --variable k=v` (highest priority).
    pub fn new(
        app: &LockedApp,
        providers: Vec<Provider>,
        cli_values: BTreeMap<String, String>,
    ) -> Result<Self, VariablesError> {
        Self::with_env(app, providers, cli_values, &process_env)
    }

    /// Like [`Self::new`], with `env` standing in for the process environment.
    pub fn with_env_map(
        app: &LockedApp,
        providers: Vec<Provider>,
        cli_values: BTreeMap<String, String>,
        env: &BTreeMap<String, String>,
    ) -> Result<Self, VariablesError> {
        Self::with_env(app, providers, cli_values, &|key: &str| {
            Ok(env.get(key).cloned())
        })
    }

    pub(super) fn with_env(
        app: &LockedApp,
        providers: Vec<Provider>,
        cli_values: BTreeMap<String, String>,
        env: &EnvFn<'_>,
    ) -> Result<Self, VariablesError> {
        for name in app.variables.keys() {
            validate_name(name, "[variables]")?;
        }
        for name in cli_values.keys() {
            validate_name(name, "--variable")?;
            if !app.variables.contains_key(name) {
                tracing::warn!("--variable {name}: the app declares no such variable; ignoring it");
            }
        }
        let mut values = BTreeMap::new();
        for (name, var) in &app.variables {
            if let Some(v) = resolve_one(name, var, &providers, &cli_values, env)? {
                values.insert(name.clone(), v);
            }
        }
        let hint_prefix = providers.iter().find_map(|p| match p {
            Provider::Env { prefix, .. } => Some(prefix.clone()),
            Provider::Static(_) => None,
        });
        Ok(Self {
            declared: app.variables.clone(),
            values,
            components: app
                .components
                .iter()
                .map(|c| (c.id.clone(), c.config.clone()))
                .collect(),
            hint_prefix,
        })
    }

    /// Startup check: every required variable has a value, and every component
    /// variable has a valid name and a template over declared variables.
    pub fn validate(&self) -> Result<(), VariablesError> {
        for (component, config) in &self.components {
            for (key, tmpl) in config {
                validate_name(key, &format!("component `{component}` variables"))?;
                let location = component_location(component, key);
                for part in parse(&location, tmpl)? {
                    if let Part::Var(name) = part {
                        self.check_declared(&location, tmpl, name)?;
                    }
                }
            }
        }
        let missing: Vec<String> = (self.declared.keys())
            .filter(|n| !self.values.contains_key(*n))
            .cloned()
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(self.missing(missing))
        }
    }

    /// The value of app variable `name`; an error if it is undeclared or has no value.
    pub fn get_app_variable(&self, name: &str) -> Result<String, VariablesError> {
        validate_name(name, "lookup")?;
        if !self.declared.contains_key(name) {
            return Err(VariablesError::Undefined {
                component: None,
                name: name.to_owned(),
            });
        }
        self.value(name)
    }

    /// What `fermyon:spin/variables.get` / `wasi:config/store.get` return: the
    /// component's `config` entry rendered.
    pub fn get_component_variable(
        &self,
        component_id: &str,
        key: &str,
    ) -> Result<String, VariablesError> {
        validate_name(key, "lookup")?;
        let tmpl = self
            .components
            .get(component_id)
            .and_then(|c| c.get(key))
            .ok_or_else(|| VariablesError::Undefined {
                component: Some(component_id.to_owned()),
                name: key.to_owned(),
            })?;
        self.render_at(&component_location(component_id, key), tmpl)
    }

    /// For `wasi:config/store.get-all`.
    pub fn component_variable_names(&self, component_id: &str) -> Vec<String> {
        (self.components.get(component_id))
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Renders a `{{ name }}` template over app variables (outbound hosts, Redis addresses...).
    pub fn render(&self, template: &str) -> Result<String, VariablesError> {
        self.render_at("template", template)
    }

    /// [`Self::render`] with `location` (e.g. "component `x` allowed_outbound_hosts") in errors.
    pub fn render_at(&self, location: &str, template: &str) -> Result<String, VariablesError> {
        let mut out = String::new();
        for part in parse(location, template)? {
            match part {
                Part::Lit(lit) => out.push_str(lit),
                Part::Var(name) => {
                    self.check_declared(location, template, name)?;
                    out.push_str(&self.value(name)?);
                }
            }
        }
        Ok(out)
    }

    /// Whether app variable `name` is declared `secret` (false for undeclared names).
    pub fn is_secret(&self, name: &str) -> bool {
        self.declared.get(name).is_some_and(|v| v.secret)
    }

    fn value(&self, name: &str) -> Result<String, VariablesError> {
        (self.values.get(name).cloned()).ok_or_else(|| self.missing(vec![name.to_owned()]))
    }

    fn check_declared(&self, location: &str, tmpl: &str, name: &str) -> Result<(), VariablesError> {
        if self.declared.contains_key(name) {
            return Ok(());
        }
        let known: Vec<&str> = self.declared.keys().map(String::as_str).collect();
        let known = if known.is_empty() {
            "the app declares no variables".to_owned()
        } else {
            format!("declared variables: {}", known.join(", "))
        };
        Err(VariablesError::BadTemplate {
            location: location.to_owned(),
            template: tmpl.to_owned(),
            reason: format!("`{name}` is not declared in [variables] ({known})"),
        })
    }

    fn missing(&self, names: Vec<String>) -> VariablesError {
        let flags: Vec<String> = names
            .iter()
            .map(|n| format!("--variable {n}=..."))
            .collect();
        let hint = match &self.hint_prefix {
            Some(prefix) => {
                let envs: Vec<String> = names.iter().map(|n| env_name(prefix, n)).collect();
                format!("set {} or pass {}", envs.join(", "), flags.join(" "))
            }
            None => format!("pass {}", flags.join(" ")),
        };
        VariablesError::MissingRequired { names, hint }
    }
}

/// CLI, then providers in order, then the declared default.
fn resolve_one(
    name: &str,
    var: &Variable,
    providers: &[Provider],
    cli: &BTreeMap<String, String>,
    env: &EnvFn<'_>,
) -> Result<Option<String>, VariablesError> {
    if let Some(v) = cli.get(name) {
        return Ok(Some(v.clone()));
    }
    for p in providers {
        if let Some(v) = p.lookup(name, env)? {
            return Ok(Some(v));
        }
    }
    Ok(var.default.clone())
}

fn parse<'t>(location: &str, tmpl: &'t str) -> Result<Vec<Part<'t>>, VariablesError> {
    template::parse(tmpl).map_err(|reason| VariablesError::BadTemplate {
        location: location.to_owned(),
        template: tmpl.to_owned(),
        reason,
    })
}

fn component_location(component: &str, key: &str) -> String {
    format!("component `{component}` variable `{key}`")
}

// Never prints secret values.
impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: BTreeMap<&str, &str> = (self.declared.iter())
            .map(|(name, var)| {
                let v = match self.values.get(name) {
                    None => "<unset>",
                    Some(_) if var.secret => "<secret>",
                    Some(v) => v.as_str(),
                };
                (name.as_str(), v)
            })
            .collect();
        f.debug_struct("Resolver")
            .field("variables", &shown)
            .field("components", &self.components)
            .finish()
    }
}
