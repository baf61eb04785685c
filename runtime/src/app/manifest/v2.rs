//! Spin manifest version 2 (`spin_manifest_version = 2`).

use std::collections::BTreeMap;

use serde::Deserialize;

/// A whole v2 `spin.toml`; unknown top-level keys are rejected, as Spin does.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestV2 {
    /// The version marker (`2`); only checked for presence, never read.
    #[allow(dead_code)]
    pub spin_manifest_version: toml::Value,
    /// The `[application]` table.
    pub application: AppDetails,
    /// `[variables]`: app-level variables, keyed by lower_snake_case name.
    #[serde(default)]
    pub variables: BTreeMap<String, VariableDecl>,
    /// `[[trigger.<type>]]` arrays, keyed by trigger type (`http`, `redis`, ...).
    #[serde(default, rename = "trigger")]
    pub triggers: BTreeMap<String, Vec<TriggerDecl>>,
    /// `[component.<id>]` tables, keyed by kebab-case component id.
    #[serde(default, rename = "component")]
    pub components: BTreeMap<String, ComponentDecl>,
}

/// The `[application]` table of a v2 manifest.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppDetails {
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
    /// Spin deployment targets (`targets = [...]`); accepted for compatibility, not enforced.
    #[serde(default)]
    pub targets: Vec<String>,
    /// `[application.trigger.<type>]` app-wide trigger settings.
    #[serde(default)]
    pub trigger: BTreeMap<String, toml::Table>,
    /// `[application.tool.*]` settings for external tools; accepted and ignored.
    #[serde(default)]
    pub tool: toml::Table,
}

/// An entry of `[variables]` (shared by v1 and v2): exactly one of `required` or `default`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    /// The app fails to start unless a provider supplies a value.
    #[serde(default)]
    pub required: bool,
    /// Value used when no provider supplies one.
    #[serde(default)]
    pub default: Option<String>,
    /// Hides the value from logs and errors (Spin's `secret = true`).
    #[serde(default)]
    pub secret: bool,
}

/// One `[[trigger.<type>]]` entry.
#[derive(Debug, Deserialize)]
pub struct TriggerDecl {
    /// Optional trigger id; Spin generates one when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// The component this trigger runs, by id or inline.
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
    /// `component = "id"`: a component declared under `[component.<id>]`.
    Reference(String),
    /// An inline component table, locked under a generated id.
    Inline(Box<ComponentDecl>),
}

/// A `[component.<id>]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentDecl {
    /// Where the Wasm comes from; only a local path is supported so far.
    pub source: SourceDecl,
    /// Optional description, copied into component metadata.
    #[serde(default)]
    pub description: Option<String>,
    /// Component variables (`name = "{{ app_var }}"` templates), locked as `config`.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Environment variables set for the guest.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
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
    /// Key-value store labels the component may open (e.g. `default`).
    #[serde(default)]
    pub key_value_stores: Vec<String>,
    /// SQLite database labels the component may open; locked as `databases`.
    #[serde(default)]
    pub sqlite_databases: Vec<String>,
    /// LLM model names the component may use; only carried into metadata, as no LLM backend is
    /// implemented.
    #[serde(default)]
    pub ai_models: Vec<String>,
    /// Targets the component is checked against; accepted for compatibility, not enforced.
    #[serde(default)]
    pub targets: Option<Vec<String>>,
    /// `[component.<id>.build]` for `spin build`; kept in metadata, never run here.
    #[serde(default)]
    pub build: Option<toml::Table>,
    /// `[component.<id>.tool.*]` settings for external tools; accepted and ignored.
    #[serde(default)]
    pub tool: toml::Table,
    /// Whether dependencies inherit this component's configuration; accepted, not used yet.
    #[serde(default)]
    pub dependencies_inherit_configuration: bool,
    /// Component dependencies (component composition); accepted, not resolved yet.
    #[serde(default)]
    pub dependencies: toml::Table,
}

/// A component's `source`: a local path, a URL with digest, or a registry package.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SourceDecl {
    /// Path to a `.wasm` file, relative to the manifest directory.
    Local(String),
    /// `{ url, digest }`; rejected for now (download it and use a local path).
    Remote {
        /// HTTP(S) address of the Wasm file.
        url: String,
        /// Expected content digest, `sha256:<hex>`.
        digest: String,
    },
    /// `{ registry, package, version }`; rejected for now.
    Registry {
        /// Registry host; Spin's default registry when absent.
        #[serde(default)]
        registry: Option<String>,
        /// Package name, `namespace:name`.
        package: String,
        /// Package version to fetch.
        version: String,
    },
}

/// One entry of a component's `files` list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FilesDecl {
    /// A glob, relative to the manifest directory, mounted at the same relative path.
    Pattern(String),
    /// A file or directory at `source` mounted at guest path `destination`.
    Placement {
        /// File or directory, relative to the manifest directory.
        source: String,
        /// Absolute path inside the guest.
        destination: String,
    },
}
