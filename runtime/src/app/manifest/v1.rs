//! Spin manifest version 1 (`spin_manifest_version = "1"`), still used by older apps.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::v2::{FilesDecl, SourceDecl, VariableDecl};

/// A whole v1 `spin.toml` (one trigger for the whole app, `[[component]]` array).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestV1 {
    /// `"1"` (or the older `spin_version`); only checked for presence, never read.
    #[serde(default, alias = "spin_version")]
    #[allow(dead_code)]
    pub spin_manifest_version: Option<toml::Value>,
    /// App name; becomes the locked app's `name` metadata.
    pub name: String,
    /// Optional app version, copied into the locked app's metadata.
    #[serde(default)]
    pub version: Option<String>,
    /// Optional human description, copied into the locked app's metadata.
    #[serde(default)]
    pub description: Option<String>,
    /// Author strings, copied into the locked app's metadata.
    #[serde(default)]
    pub authors: Vec<String>,
    /// `trigger = { type = "http", base = "/" }`
    pub trigger: toml::Table,
    /// `[variables]`: app-level variables, keyed by lower_snake_case name.
    #[serde(default)]
    pub variables: BTreeMap<String, VariableDecl>,
    /// The `[[component]]` array, each carrying its own trigger settings.
    #[serde(default, rename = "component")]
    pub components: Vec<ComponentV1>,
}

/// One `[[component]]` entry of a v1 manifest.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentV1 {
    /// Component id (kebab-case), unique within the app.
    pub id: String,
    /// Where the Wasm comes from; same forms as v2.
    pub source: SourceDecl,
    /// Optional description, copied into component metadata.
    #[serde(default)]
    pub description: Option<String>,
    /// `files` mounts: glob patterns or `{ source, destination }` placements.
    #[serde(default)]
    pub files: Vec<FilesDecl>,
    /// Glob patterns removed from the `files` matches.
    #[serde(default)]
    pub exclude_files: Vec<String>,
    /// Spin 1 `allowed_http_hosts`; converted to `allowed_outbound_hosts` entries.
    #[serde(default)]
    pub allowed_http_hosts: Vec<String>,
    /// Network destinations the component may reach (`scheme://host:port`).
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    /// Key-value store labels the component may open.
    #[serde(default)]
    pub key_value_stores: Vec<String>,
    /// SQLite database labels the component may open.
    #[serde(default)]
    pub sqlite_databases: Vec<String>,
    /// LLM model names the component may use; only carried into metadata, as no LLM backend is
    /// implemented.
    #[serde(default)]
    pub ai_models: Vec<String>,
    /// Environment variables set for the guest.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// v1 name for component variables.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Per-component trigger settings (`route`, `channel`, `executor`, ...) for the app's trigger
    /// type.
    #[serde(default)]
    pub trigger: Option<toml::Table>,
    /// `[component.build]` for `spin build`; kept in metadata, never run here.
    #[serde(default)]
    pub build: Option<toml::Table>,
}
