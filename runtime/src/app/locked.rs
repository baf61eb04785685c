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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LockedApp {
    /// 0 when there is nothing the host must understand, 1 otherwise (as Spin writes it).
    pub spin_lock_version: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub must_understand: Vec<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub host_requirements: Map<String, Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, Variable>,
    pub triggers: Vec<LockedTrigger>,
    pub components: Vec<LockedComponent>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variable {
    /// No default means the variable is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockedTrigger {
    pub id: String,
    pub trigger_type: String,
    pub trigger_config: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockedComponent {
    pub id: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    pub source: LockedComponentSource,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<ContentPath>,
    /// Component variables (`[component.x.variables]`), values may be `{{ templates }}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub dependencies: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockedComponentSource {
    pub content_type: String,
    #[serde(flatten)]
    pub content: ContentRef,
    /// The content is machine code from this runtime's own ahead-of-time compiler (set only by
    /// the shim, for layers it precompiled); never read from or written to JSON.
    #[serde(skip)]
    pub precompiled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentPath {
    #[serde(flatten)]
    pub content: ContentRef,
    pub path: String,
}

/// Where content lives: a URI (`file://` locally), inline bytes, and/or a digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "base64_opt")]
    pub inline: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl LockedApp {
    pub fn from_json(bytes: &[u8]) -> Result<Self, crate::app::AppError> {
        let app: LockedApp = serde_json::from_slice(bytes)
            .map_err(|e| crate::app::AppError::LockedJson(e.to_string()))?;
        app.check_understood()?;
        Ok(app)
    }

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
