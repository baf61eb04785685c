//! Walks the TOML by hand (rather than serde) so each error can name the exact
//! dotted key and list what is accepted there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

use super::{
    KeyValueStoreConfig, RuntimeConfig, RuntimeConfigError as E, SqliteDatabaseConfig,
    UnsupportedBackend, VariablesProviderConfig,
};

const TOP_LEVEL: &str = "key_value_store, sqlite_database, variables_provider, config_provider, state_dir, log_dir, max_instance_memory, llm_compute";
const KV_SUPPORTED: &str = "\"spin\", \"redis\"";
const SQLITE_SUPPORTED: &str = "\"spin\"";

struct Ctx<'a> {
    file: &'a Path,
    /// Base for relative store paths: the config file's directory (Spin's rule).
    dir: &'a Path,
}

pub(super) fn parse(text: &str, file: &Path) -> Result<RuntimeConfig, E> {
    let table: Table = text.parse().map_err(|e: toml::de::Error| E::Syntax {
        file: file.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    let cx = Ctx {
        file,
        dir: file.parent().unwrap_or(Path::new("")),
    };
    // Spin reads one of the two and rejects the other as an unused key.
    if table.contains_key("variables_provider") && table.contains_key("config_provider") {
        return Err(cx.invalid(
            "config_provider",
            "use either [[variables_provider]] or the legacy [[config_provider]], not both",
        ));
    }
    let mut rc = RuntimeConfig::default();
    for (key, value) in &table {
        match key.as_str() {
            "key_value_store" => {
                for (label, t) in cx.labelled(key, value)? {
                    rc.key_value_stores.insert(label, cx.kv_store(&t)?);
                }
            }
            "sqlite_database" => {
                for (label, t) in cx.labelled(key, value)? {
                    rc.sqlite_databases.insert(label, cx.sqlite(&t)?);
                }
            }
            "variables_provider" | "config_provider" => {
                rc.variables_providers = cx.providers(key, value)?;
            }
            "state_dir" => rc.state_dir = Some(PathBuf::from(cx.string(key, value)?)),
            "log_dir" => rc.log_dir = Some(PathBuf::from(cx.string(key, value)?)),
            "max_instance_memory" => rc.max_instance_memory = Some(cx.size(key, value)?),
            "llm_compute" => rc.llm_compute = Some(cx.llm(key, value)?),
            "outbound_http" | "client_tls" => {
                return Err(E::Unsupported {
                    file: file.to_owned(),
                    key: key.clone(),
                    what: String::new(),
                    hint: "remove it from the runtime config file".into(),
                })
            }
            _ => return Err(cx.unknown_key(key, TOP_LEVEL)),
        }
    }
    Ok(rc)
}

/// A table plus its dotted path, for messages.
struct Section<'v> {
    path: String,
    table: &'v Table,
}

impl Ctx<'_> {
    fn kv_store(&self, s: &Section) -> Result<KeyValueStoreConfig, E> {
        let ty = self.type_of(s, KV_SUPPORTED)?;
        match ty {
            "spin" => {
                self.fields(s, &["type", "path"])?;
                Ok(KeyValueStoreConfig::Spin {
                    path: self.opt_path(s, "path")?,
                })
            }
            "redis" => {
                self.fields(s, &["type", "url"])?;
                let key = format!("{}.url", s.path);
                let url = self.required_string(
                    s,
                    "url",
                    "give the Redis URL, e.g. url = \"redis://localhost:6379\"",
                )?;
                check_redis_url(url).map_err(|m| self.invalid(&key, m))?;
                Ok(KeyValueStoreConfig::Redis {
                    url: url.to_owned(),
                })
            }
            "azure_cosmos" | "aws_dynamo" => Ok(KeyValueStoreConfig::Unsupported(
                self.unsupported(s, ty, KV_SUPPORTED),
            )),
            other => Err(self.unknown_type(s, other, KV_SUPPORTED)),
        }
    }

    fn sqlite(&self, s: &Section) -> Result<SqliteDatabaseConfig, E> {
        match self.type_of(s, SQLITE_SUPPORTED)? {
            "spin" => {
                self.fields(s, &["type", "path"])?;
                Ok(SqliteDatabaseConfig::Spin {
                    path: self.opt_path(s, "path")?,
                })
            }
            "libsql" => Ok(SqliteDatabaseConfig::Unsupported(self.unsupported(
                s,
                "libsql",
                SQLITE_SUPPORTED,
            ))),
            other => Err(self.unknown_type(s, other, SQLITE_SUPPORTED)),
        }
    }

    fn llm(&self, key: &str, value: &Value) -> Result<UnsupportedBackend, E> {
        let s = self.section(key.to_owned(), value)?;
        match self.type_of(&s, "\"spin\", \"remote_http\"")? {
            ty @ ("spin" | "remote_http") => Ok(self.unsupported(&s, ty, "none (no LLM support)")),
            other => Err(self.unknown_type(&s, other, "\"spin\", \"remote_http\"")),
        }
    }

    fn providers(&self, key: &str, value: &Value) -> Result<Vec<VariablesProviderConfig>, E> {
        let Value::Array(items) = value else {
            let msg = format!(
                "expected an array of tables (write [[{key}]]), found {}",
                value.type_str()
            );
            return Err(self.invalid(key, msg));
        };
        let accepted = "\"env\", \"static\"";
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let s = self.section(format!("{key}[{i}]"), item)?;
            out.push(match self.type_of(&s, accepted)? {
                "env" => {
                    self.fields(&s, &["type", "prefix", "dotenv_path"])?;
                    VariablesProviderConfig::Env {
                        prefix: self.opt_string(&s, "prefix")?.map(str::to_owned),
                        dotenv_path: self.opt_string(&s, "dotenv_path")?.map(PathBuf::from),
                    }
                }
                "static" => {
                    self.fields(&s, &["type", "values"])?;
                    VariablesProviderConfig::Static {
                        values: self.string_map(&s, "values")?,
                    }
                }
                ty @ ("vault" | "open_bao" | "azure_key_vault") => {
                    return Err(self.unsupported(&s, ty, accepted).error())
                }
                other => return Err(self.unknown_type(&s, other, accepted)),
            });
        }
        Ok(out)
    }

    /// `[key.<label>]` tables, e.g. `[key_value_store.cache]`.
    fn labelled<'v>(&self, key: &str, value: &'v Value) -> Result<Vec<(String, Section<'v>)>, E> {
        let outer = self.section(key.to_owned(), value)?;
        outer
            .table
            .iter()
            .map(|(label, v)| Ok((label.clone(), self.section(dotted(key, label), v)?)))
            .collect()
    }

    fn section<'v>(&self, path: String, value: &'v Value) -> Result<Section<'v>, E> {
        match value {
            Value::Table(table) => Ok(Section { path, table }),
            other => {
                let msg = format!("expected a table, found {}", other.type_str());
                Err(self.invalid(&path, msg))
            }
        }
    }

    fn type_of<'v>(&self, s: &Section<'v>, accepted: &str) -> Result<&'v str, E> {
        let hint = format!("set `type` to one of {accepted}");
        self.required_string(s, "type", &hint)
    }

    fn fields(&self, s: &Section, allowed: &[&str]) -> Result<(), E> {
        match s.table.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(self.unknown_key(&dotted(&s.path, k), &allowed.join(", "))),
            None => Ok(()),
        }
    }

    fn required_string<'v>(&self, s: &Section<'v>, field: &str, hint: &str) -> Result<&'v str, E> {
        self.opt_string(s, field)?.ok_or_else(|| E::Missing {
            file: self.file.to_owned(),
            key: dotted(&s.path, field),
            hint: hint.to_owned(),
        })
    }

    fn opt_string<'v>(&self, s: &Section<'v>, field: &str) -> Result<Option<&'v str>, E> {
        match s.table.get(field) {
            None => Ok(None),
            Some(v) => self.string(&dotted(&s.path, field), v).map(Some),
        }
    }

    fn opt_path(&self, s: &Section, field: &str) -> Result<Option<PathBuf>, E> {
        let Some(raw) = self.opt_string(s, field)? else {
            return Ok(None);
        };
        if raw.is_empty() {
            let msg = "must not be empty; leave it out for an in-memory store";
            return Err(self.invalid(&dotted(&s.path, field), msg));
        }
        Ok(Some(self.dir.join(raw))) // join keeps absolute paths as they are
    }

    fn string<'v>(&self, key: &str, value: &'v Value) -> Result<&'v str, E> {
        value.as_str().ok_or_else(|| {
            self.invalid(
                key,
                format!("expected a string, found {}", value.type_str()),
            )
        })
    }

    fn string_map(&self, s: &Section, field: &str) -> Result<BTreeMap<String, String>, E> {
        let key = dotted(&s.path, field);
        let Some(v) = s.table.get(field) else {
            return Ok(BTreeMap::new());
        };
        let table = self.section(key.clone(), v)?.table;
        table
            .iter()
            .map(|(k, v)| Ok((k.clone(), self.string(&dotted(&key, k), v)?.to_owned())))
            .collect()
    }

    fn size(&self, key: &str, value: &Value) -> Result<usize, E> {
        let msg = "expected a non-negative integer number of bytes";
        match value.as_integer().map(usize::try_from) {
            Some(Ok(n)) => Ok(n),
            _ => Err(self.invalid(key, msg)),
        }
    }

    fn unsupported(&self, s: &Section, kind: &str, supported: &'static str) -> UnsupportedBackend {
        UnsupportedBackend {
            file: self.file.to_owned(),
            key: dotted(&s.path, "type"),
            kind: kind.to_owned(),
            supported,
        }
    }

    fn unknown_type(&self, s: &Section, found: &str, accepted: &str) -> E {
        E::UnknownType {
            file: self.file.to_owned(),
            key: dotted(&s.path, "type"),
            found: found.to_owned(),
            accepted: accepted.to_owned(),
        }
    }

    fn unknown_key(&self, key: &str, accepted: &str) -> E {
        E::UnknownKey {
            file: self.file.to_owned(),
            key: key.to_owned(),
            accepted: accepted.to_owned(),
        }
    }

    fn invalid(&self, key: &str, message: impl Into<String>) -> E {
        E::invalid(self.file, key, message)
    }
}

/// `a` + `b` as a TOML dotted key, quoting `b` when it is not a bare key.
fn dotted(prefix: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        format!("{prefix}.{key}")
    } else {
        format!("{prefix}.{key:?}")
    }
}

/// The message never echoes the URL: it may hold a password.
fn check_redis_url(raw: &str) -> Result<(), String> {
    let url = url::Url::parse(raw).map_err(|e| format!("not a valid URL ({e})"))?;
    match url.scheme() {
        "redis" | "rediss" | "redis+unix" | "unix" => Ok(()),
        other => Err(format!(
            "scheme `{other}` is not a Redis scheme; use redis:// or rediss://"
        )),
    }
}
