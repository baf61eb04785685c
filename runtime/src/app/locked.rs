//! The locked app: Spin's fully resolved application format (`spin.lock` /
//! the `application/vnd.fermyon.spin.application.v1+config` OCI layer).
//!
//! Field names and optionality follow Spin's JSON exactly so that apps locked
//! by Spin run here and apps locked here run on Spin.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Host requirement key for local service chaining.
pub const SERVICE_CHAINING: &str = "local_service_chaining";
/// Host requirements this runtime knows how to satisfy.
pub const SUPPORTED_HOST_REQUIREMENTS: &[&str] = &[SERVICE_CHAINING];
/// `must_understand` features this runtime knows.
pub const UNDERSTOOD_FEATURES: &[&str] = &["host_requirements"];

/// A Spin locked app (`spin.lock` JSON), the one app model every loader produces.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LockedApp {
    /// 0 when there is nothing the host must understand, 1 otherwise (as Spin writes it).
    pub spin_lock_version: u32,
    /// Features the host must support or refuse the app (only `host_requirements` is understood).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub must_understand: Vec<String>,
    /// App-level metadata: `name`, `version`, `description`, `authors`, app-wide trigger settings.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    /// Host features the app needs (key to `"required"`/`"optional"`); only
    /// `local_service_chaining` is supported.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub host_requirements: Map<String, Value>,
    /// App variables by name, resolved through the configured providers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, Variable>,
    /// Every trigger of the app; the trigger type decides which fields `trigger_config` holds.
    pub triggers: Vec<LockedTrigger>,
    /// Every component of the app.
    pub components: Vec<LockedComponent>,
}

/// An app variable declaration as locked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variable {
    /// No default means the variable is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Keep the value out of logs and error messages.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

/// One trigger of a locked app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockedTrigger {
    /// Unique trigger id (Spin's `<type>-<component>` when the manifest gives none).
    pub id: String,
    /// Trigger type, e.g. `http` or `redis`.
    pub trigger_type: String,
    /// Type-specific settings (`route`, `channel`, `executor`, ...) plus `component`, the id it
    /// runs.
    pub trigger_config: Value,
}

/// One component of a locked app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockedComponent {
    /// Component id, unique within the app (kebab-case).
    pub id: String,
    /// Component settings: `allowed_outbound_hosts`, `key_value_stores`, `databases`,
    /// `description`, ...
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    /// The component's Wasm (or precompiled) content.
    pub source: LockedComponentSource,
    /// Environment variables for the guest.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Files mounted into the guest's filesystem.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<ContentPath>,
    /// Component variables (`[component.x.variables]`), values may be `{{ templates }}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    /// Component dependencies as Spin locks them; not resolved by this runtime yet.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub dependencies: Map<String, Value>,
}

/// A component's code and its media type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockedComponentSource {
    /// Media type; `application/wasm` for a Wasm component or module.
    pub content_type: String,
    /// Where the bytes live.
    #[serde(flatten)]
    pub content: ContentRef,
    /// The content is machine code from this runtime's own ahead-of-time compiler (set only by
    /// the shim, for layers it precompiled); never read from or written to JSON.
    #[serde(skip)]
    pub precompiled: bool,
}

/// A file or directory mounted into the guest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentPath {
    /// Where the bytes live on the host.
    #[serde(flatten)]
    pub content: ContentRef,
    /// Mount point inside the guest.
    pub path: String,
}

/// Where content lives: a URI (`file://` locally), inline bytes, and/or a digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentRef {
    /// Content URI; `file://` locally, rewritten by the OCI loader to unpacked layers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The content bytes themselves, base64 in JSON.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "base64_opt")]
    pub inline: Option<Vec<u8>>,
    /// Content digest, `sha256:<hex>`, used to find OCI layers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl LockedApp {
    /// Parses locked-app JSON and refuses it if it needs features this runtime lacks
    /// (`must_understand`, `host_requirements`).
    pub fn from_json(bytes: &[u8]) -> Result<Self, crate::app::AppError> {
        let app: LockedApp = serde_json::from_slice(bytes)
            .map_err(|e| crate::app::AppError::LockedJson(e.to_string()))?;
        app.check_understood()?;
        Ok(app)
    }

    /// Serialises as pretty JSON, with `spin_lock_version` 1 when `must_understand` or
    /// `host_requirements` is set, else 0 (as Spin does).
    pub fn to_json(&self) -> Vec<u8> {
        let mut app = self.clone();
        app.spin_lock_version =
            u32::from(!(self.must_understand.is_empty() && self.host_requirements.is_empty()));
        // Serialising plain data structures cannot fail.
        serde_json::to_vec_pretty(&app).unwrap_or_default()
    }

    /// Spin's contract: a feature listed in `must_understand` that the host does not
    /// know must stop the load rather than be ignored.
    fn check_understood(&self) -> Result<(), crate::app::AppError> {
        let unknown: Vec<_> = self
            .must_understand
            .iter()
            .filter(|f| !UNDERSTOOD_FEATURES.contains(&f.as_str()))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(crate::app::AppError::MustUnderstand(unknown));
        }
        let unmet: Vec<_> = self
            .host_requirements
            .iter()
            .filter(|(k, v)| {
                v.as_str() != Some("optional") && !SUPPORTED_HOST_REQUIREMENTS.contains(&k.as_str())
            })
            .map(|(k, _)| k.clone())
            .collect();
        if !unmet.is_empty() {
            return Err(crate::app::AppError::HostRequirements(unmet));
        }
        Ok(())
    }

    /// The component with id `id`, if any.
    pub fn component(&self, id: &str) -> Option<&LockedComponent> {
        self.components.iter().find(|c| c.id == id)
    }

    /// The application name from metadata, if any.
    pub fn name(&self) -> Option<&str> {
        self.metadata.get("name").and_then(Value::as_str)
    }

    /// Application-level trigger settings, e.g. `[application.trigger.http] base`.
    pub fn trigger_settings(&self, trigger_type: &str) -> Option<&Map<String, Value>> {
        self.metadata
            .get("triggers")
            .and_then(|t| t.get(trigger_type))
            .and_then(Value::as_object)
            .or_else(|| {
                // v1-style single `trigger = { type = ... }` metadata.
                let t = self.metadata.get("trigger")?.as_object()?;
                (t.get("type")?.as_str()? == trigger_type).then_some(t)
            })
    }
}

impl LockedComponent {
    /// String-list metadata such as `allowed_outbound_hosts` or `key_value_stores`.
    pub fn metadata_strings(&self, key: &str) -> Vec<String> {
        self.metadata
            .get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

mod base64_opt {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(bytes) => {
                s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_writes_version_0_without_requirements() {
        let json = br#"{"spin_lock_version":1,"triggers":[{"id":"t","trigger_type":"http","trigger_config":{"route":"/...","component":"c"}}],
            "components":[{"id":"c","source":{"content_type":"application/wasm","source":"file:///x.wasm"},"files":[{"inline":"aGk=","path":"/a.txt"}]}],
            "unknown_field_is_ignored": true}"#;
        let app = LockedApp::from_json(json).unwrap();
        assert_eq!(
            app.components[0].files[0].content.inline.as_deref(),
            Some(&b"hi"[..])
        );
        let out = String::from_utf8(app.to_json()).unwrap();
        assert!(out.contains("\"spin_lock_version\": 0"), "{out}");
        assert!(out.contains("\"inline\": \"aGk=\""), "{out}");
        let again = LockedApp::from_json(out.as_bytes()).unwrap();
        assert_eq!(again.components, app.components);
    }

    #[test]
    fn unknown_must_understand_is_an_error() {
        let json = br#"{"spin_lock_version":1,"must_understand":["warp_drive"],"triggers":[],"components":[]}"#;
        let err = LockedApp::from_json(json).unwrap_err().to_string();
        assert!(err.contains("warp_drive"), "{err}");
    }

    #[test]
    fn host_requirements_known_optional_and_unknown() {
        let ok = br#"{"spin_lock_version":1,"must_understand":["host_requirements"],
            "host_requirements":{"local_service_chaining":"required","fancy":"optional"},"triggers":[],"components":[]}"#;
        assert!(LockedApp::from_json(ok).is_ok());
        let bad = br#"{"spin_lock_version":1,"must_understand":["host_requirements"],
            "host_requirements":{"fancy":"required"},"triggers":[],"components":[]}"#;
        let err = LockedApp::from_json(bad).unwrap_err().to_string();
        assert!(err.contains("fancy"), "{err}");
    }
}
