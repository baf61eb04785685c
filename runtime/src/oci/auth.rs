//! Registry credentials: explicit user/password, else the Docker config file, else anonymous.
//!
//! Docker config: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`; an `auths` entry
//! keyed by the registry host (with or without `https://` and a path) holding `auth` =
//! base64(`user:password`) or `username` + `password`. Credential helpers (`credsStore`,
//! `credHelpers`) are not run.

use std::path::PathBuf;

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

use super::OciError;

/// Registry credentials; `Debug` never prints the password.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Credentials {
    /// No credentials.
    #[default]
    Anonymous,
    /// Username and password (HTTP basic auth, or a registry token as password).
    Basic {
        /// Registry user name.
        username: String,
        /// Registry password or access token.
        password: String,
    },
}

impl std::fmt::Debug for Credentials {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
        }
    }
}

impl Credentials {
    /// The same credentials in `oci-client`'s form.
    pub fn to_registry_auth(&self) -> RegistryAuth {
        match self {
            Credentials::Anonymous => RegistryAuth::Anonymous,
            Credentials::Basic { username, password } => {
                RegistryAuth::Basic(username.clone(), password.clone())
            }
        }
    }

    /// Explicit credentials win; otherwise the Docker config's entry for `registry`, if any.
    pub fn resolve(explicit: Option<Credentials>, registry: &str) -> Result<Self, OciError> {
        if let Some(c) = explicit {
            return Ok(c);
        }
        let Some(path) = docker_config_path() else {
            return Ok(Credentials::Anonymous);
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Credentials::Anonymous)
            }
            Err(e) => {
                return Err(OciError::Invalid(format!(
                    "cannot read Docker config {}: {e}",
                    path.display()
                )))
            }
        };
        from_docker_config(&text, registry).map_err(|e| {
            OciError::Invalid(format!(
                "Docker config {}: {e}; fix the file or set DOCKER_CONFIG to another directory",
                path.display()
            ))
        })
    }
}

fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker").join("config.json"))
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, AuthEntry>,
}

#[derive(Deserialize)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// The credentials for `registry` in a Docker config JSON document.
pub fn from_docker_config(text: &str, registry: &str) -> Result<Credentials, String> {
    let config: DockerConfig =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let want = normalize_host(registry);
    let Some(entry) = config
        .auths
        .iter()
        .find(|(k, _)| normalize_host(k) == want)
        .map(|(_, v)| v)
    else {
        return Ok(Credentials::Anonymous);
    };
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|e| format!("auths.{registry}.auth is not base64: {e}"))?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| format!("auths.{registry}.auth is not UTF-8"))?;
        let (username, password) = decoded
            .split_once(':')
            .ok_or_else(|| format!("auths.{registry}.auth must encode `user:password`"))?;
        return Ok(Credentials::Basic {
            username: username.into(),
            password: password.into(),
        });
    }
    match (&entry.username, &entry.password) {
        (Some(u), Some(p)) => Ok(Credentials::Basic {
            username: u.clone(),
            password: p.clone(),
        }),
        _ => Ok(Credentials::Anonymous),
    }
}

/// `https://index.docker.io/v1/` and `docker.io` are the same registry; so are `host` and `https://host/`.
fn normalize_host(key: &str) -> String {
    let key = key
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = key.split('/').next().unwrap_or(key).to_ascii_lowercase();
    match host.as_str() {
        "docker.io" | "registry-1.docker.io" => "index.docker.io".into(),
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_entries() {
        let cfg = r#"{"auths":{
            "https://index.docker.io/v1/":{"auth":"dTE6cDE="},
            "127.0.0.1:5000":{"auth":"YWxpY2U6czNjcjN0OndpdGg6Y29sb25z"},
            "ghcr.io":{"username":"bob","password":"pw"}}}"#;
        let basic = |u: &str, p: &str| Credentials::Basic {
            username: u.into(),
            password: p.into(),
        };
        assert_eq!(
            from_docker_config(cfg, "docker.io").unwrap(),
            basic("u1", "p1")
        );
        assert_eq!(
            from_docker_config(cfg, "127.0.0.1:5000").unwrap(),
            basic("alice", "s3cr3t:with:colons")
        );
        assert_eq!(
            from_docker_config(cfg, "ghcr.io").unwrap(),
            basic("bob", "pw")
        );
        assert_eq!(
            from_docker_config(cfg, "quay.io").unwrap(),
            Credentials::Anonymous
        );
        let bad = r#"{"auths":{"x.io":{"auth":"!!"}}}"#;
        assert!(from_docker_config(bad, "x.io")
            .unwrap_err()
            .contains("base64"));
        assert!(!format!("{:?}", basic("u", "secret")).contains("secret"));
    }
}
