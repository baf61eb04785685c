//! Key-value stores: `fermyon:spin/key-value@2.0.0` and `wasi:keyvalue` (draft2),
//! backed by SQLite (`type = "spin"`) or Redis (`type = "redis"`).

mod host;
mod redis_store;
mod sqlite_store;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

pub use redis_store::RedisKv;
pub use sqlite_store::SqliteKv;

/// Why a key-value operation failed, mapped onto each interface's error type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvError {
    /// The guest opened a label that is not configured.
    NoSuchStore,
    /// The component is not granted the label (`key_value_stores`).
    AccessDenied,
    /// A backend failure, with a message for the guest.
    Other(String),
}

/// Where a store label's data lives.
#[derive(Debug, Clone)]
pub enum StoreBackendConfig {
    /// A SQLite file; several labels may share one file.
    Sqlite {
        /// The database file (`:memory:` for an in-memory store).
        path: PathBuf,
    },
    /// A Redis server, `redis://host[:port][/db]`.
    Redis {
        /// Redis URL, `redis://host[:port][/db]`.
        url: String,
    },
}

/// An opened store's backend; cheap to clone (connections are shared).
#[derive(Clone)]
pub enum Backend {
    /// `type = "spin"`: a label in a Spin-schema SQLite file.
    Sqlite(SqliteKv),
    /// `type = "redis"`: keys map onto Redis keys.
    Redis(RedisKv),
}

/// The stores of one app, by label.
#[derive(Clone, Default)]
pub struct KeyValueStores {
    stores: HashMap<String, Backend>,
}

impl KeyValueStores {
    /// SQLite stores that share a file share one connection (one file holds many stores).
    pub fn new(configs: impl IntoIterator<Item = (String, StoreBackendConfig)>) -> Self {
        let mut files: HashMap<PathBuf, sqlite_store::SharedDb> = HashMap::new();
        let stores = configs
            .into_iter()
            .map(|(label, cfg)| {
                let backend = match cfg {
                    StoreBackendConfig::Sqlite { path } => {
                        let db = files
                            .entry(path.clone())
                            .or_insert_with(|| sqlite_store::SharedDb::new(path))
                            .clone();
                        Backend::Sqlite(SqliteKv::new(label.clone(), db))
                    }
                    StoreBackendConfig::Redis { url } => Backend::Redis(RedisKv::new(url)),
                };
                (label, backend)
            })
            .collect();
        Self { stores }
    }

    /// The backend of store `label`, if configured.
    pub fn get(&self, label: &str) -> Option<&Backend> {
        self.stores.get(label)
    }

    /// Human description of store `label` (backend and file or redacted URL), for logs.
    pub fn describe(&self, label: &str) -> Option<String> {
        self.stores.get(label).map(|b| match b {
            Backend::Sqlite(s) => format!("SQLite {}", s.path().display()),
            Backend::Redis(r) => format!("Redis {}", r.redacted_url()),
        })
    }
}

/// A store a guest opened (resource `store` / `bucket`).
pub struct StoreHandle {
    /// The store label the guest opened (e.g. `default`).
    pub label: String,
    /// Where the store's data lives.
    pub backend: Backend,
}

/// A compare-and-swap in progress (`wasi:keyvalue/atomics.cas`).
pub struct CasHandle {
    /// Store the CAS operates on.
    pub backend: Backend,
    /// Key the CAS operates on.
    pub key: String,
    /// The value seen by `current`, compared on `swap`.
    pub seen: Option<Option<Vec<u8>>>,
}

impl Backend {
    /// The value of `key`, or `None` if absent.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        match self {
            Backend::Sqlite(s) => s.get(key).await,
            Backend::Redis(r) => r.get(key).await,
        }
    }

    /// Sets `key` to `value`, overwriting any previous value.
    pub async fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        match self {
            Backend::Sqlite(s) => s.set(key, value).await,
            Backend::Redis(r) => r.set(key, value).await,
        }
    }

    /// Removes `key`; not an error if it is absent.
    pub async fn delete(&self, key: &str) -> Result<(), KvError> {
        match self {
            Backend::Sqlite(s) => s.delete(key).await,
            Backend::Redis(r) => r.delete(key).await,
        }
    }

    /// Whether `key` has a value.
    pub async fn exists(&self, key: &str) -> Result<bool, KvError> {
        match self {
            Backend::Sqlite(s) => s.exists(key).await,
            Backend::Redis(r) => r.exists(key).await,
        }
    }

    /// All keys of the store, sorted.
    pub async fn keys(&self) -> Result<Vec<String>, KvError> {
        match self {
            Backend::Sqlite(s) => s.keys().await,
            Backend::Redis(r) => r.keys().await,
        }
    }

    /// Each of `keys` with its value, in order; `None` for absent keys.
    pub async fn get_many(
        &self,
        keys: Vec<String>,
    ) -> Result<Vec<(String, Option<Vec<u8>>)>, KvError> {
        match self {
            Backend::Sqlite(s) => s.get_many(keys).await,
            Backend::Redis(r) => r.get_many(keys).await,
        }
    }

    /// Sets every `(key, value)` pair.
    pub async fn set_many(&self, pairs: Vec<(String, Vec<u8>)>) -> Result<(), KvError> {
        match self {
            Backend::Sqlite(s) => s.set_many(pairs).await,
            Backend::Redis(r) => r.set_many(pairs).await,
        }
    }

    /// Removes every key in `keys`.
    pub async fn delete_many(&self, keys: Vec<String>) -> Result<(), KvError> {
        match self {
            Backend::Sqlite(s) => s.delete_many(keys).await,
            Backend::Redis(r) => r.delete_many(keys).await,
        }
    }

    /// Atomically adds `delta` to the counter at `key` (absent = 0) and returns the new value.
    pub async fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        match self {
            Backend::Sqlite(s) => s.increment(key, delta).await,
            Backend::Redis(r) => r.increment(key, delta).await,
        }
    }

    /// Sets `key` to `new` only if it still holds `expected` (`None` = absent).
    pub async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
    ) -> Result<bool, KvError> {
        match self {
            Backend::Sqlite(s) => s.compare_and_swap(key, expected, new).await,
            Backend::Redis(r) => r.compare_and_swap(key, expected, new).await,
        }
    }
}

/// Shared by all instances of an app.
pub type SharedStores = Arc<KeyValueStores>;
