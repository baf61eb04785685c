//! Spin manifest version 2 (`spin_manifest_version = 2`).

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestV2 {
    #[allow(dead_code)]
    pub spin_manifest_version: toml::Value,
    pub application: AppDetails,
    #[serde(default)]
    pub variables: BTreeMap<String, VariableDecl>,
    #[serde(default, rename = "trigger")]
    pub triggers: BTreeMap<String, Vec<TriggerDecl>>,
    #[serde(default, rename = "component")]
    pub components: BTreeMap<String, ComponentDecl>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppDetails {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub authors: Vec<String>,
    #[serde(default)]
    pub targets: Vec<String>,
    /// `[application.trigger.<type>]` app-wide trigger settings.
    #[serde(default)]
    pub trigger: BTreeMap<String, toml::Table>,
    #[serde(default)]
    pub tool: toml::Table,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub secret: bool,
}

#[derive(Debug, Deserialize)]
pub struct TriggerDecl {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub component: Option<ComponentSpec>,
    /// Everything else (`route`, `executor`, `channel`, ...) is trigger-type specific.
    #[serde(flatten)]
    pub config: toml::Table,
}

/// `component = "id"` or an inline `component = { source = ... }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ComponentSpec {
    Reference(String),
    Inline(Box<ComponentDecl>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentDecl {
    pub source: SourceDecl,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub files: Vec<FilesDecl>,
    #[serde(default)]
    pub exclude_files: Vec<String>,
    #[serde(default)]
    pub allowed_http_hosts: Vec<String>,
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    pub key_value_stores: Vec<String>,
    #[serde(default)]
    pub sqlite_databases: Vec<String>,
    #[serde(default)]
    pub ai_models: Vec<String>,
    #[serde(default)]
    pub targets: Option<Vec<String>>,
    #[serde(default)]
    pub build: Option<toml::Table>,
    #[serde(default)]
    pub tool: toml::Table,
    #[serde(default)]
    pub dependencies_inherit_configuration: bool,
    #[serde(default)]
    pub dependencies: toml::Table,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SourceDecl {
    Local(String),
    Remote {
        url: String,
        digest: String,
    },
    Registry {
        #[serde(default)]
        registry: Option<String>,
        package: String,
        version: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FilesDecl {
    Pattern(String),
    Placement { source: String, destination: String },
}
