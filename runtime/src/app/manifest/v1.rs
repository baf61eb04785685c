//! Spin manifest version 1 (`spin_manifest_version = "1"`), still used by older apps.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::v2::{FilesDecl, SourceDecl, VariableDecl};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestV1 {
    #[serde(default, alias = "spin_version")]
    #[allow(dead_code)]
    pub spin_manifest_version: Option<toml::Value>,
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub authors: Vec<String>,
    /// `trigger = { type = "http", base = "/" }`
    pub trigger: toml::Table,
    #[serde(default)]
    pub variables: BTreeMap<String, VariableDecl>,
    #[serde(default, rename = "component")]
    pub components: Vec<ComponentV1>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentV1 {
    pub id: String,
    pub source: SourceDecl,
    #[serde(default)]
    pub description: Option<String>,
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
    pub environment: BTreeMap<String, String>,
    /// v1 name for component variables.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    #[serde(default)]
    pub trigger: Option<toml::Table>,
    #[serde(default)]
    pub build: Option<toml::Table>,
}
