//! `type = "spin"` stores: one SQLite file, one table, a `store` column per
//! label — the same schema as Spin, so `.spin/sqlite_key_value.db` files move
//! between the two.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};

use super::KvError;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS spin_key_value (
    store TEXT NOT NULL,
    key   TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (store, key)
)";
const UPSERT: &str = "INSERT INTO spin_key_value (store, key, value) VALUES ($1, $2, $3)
    ON CONFLICT(store, key) DO UPDATE SET value=$3";

/// A database file opened on first use and shared by its stores.
#[derive(Clone)]
pub struct SharedDb {
    path: PathBuf,
    conn: Arc<Mutex<Option<Connection>>>,
}

impl SharedDb {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            conn: Arc::new(Mutex::new(None)),
        }
    }

    /// Runs `f` on the connection in the blocking pool.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, KvError> {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = db.conn.lock().unwrap_or_else(|p| p.into_inner());
            if guard.is_none() {
                *guard = Some(open(&db.path)?);
            }
            let conn = guard
                .as_mut()
                .ok_or_else(|| KvError::Other("no connection".into()))?;
            f(conn).map_err(|e| KvError::Other(format!("SQLite {}: {e}", db.path.display())))
        })
        .await
        .map_err(|e| KvError::Other(format!("key-value task failed: {e}")))?
    }
}

fn open(path: &Path) -> Result<Connection, KvError> {
    let err = |e: &dyn std::fmt::Display| {
        KvError::Other(format!(
            "cannot open key-value database {}: {e}",
            path.display()
        ))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
    }
    let conn = Connection::open(path).map_err(|e| err(&e))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| err(&e))?;
    conn.execute(SCHEMA, []).map_err(|e| err(&e))?;
    Ok(conn)
}

/// A `type = "spin"` store: one label's rows in a Spin-schema SQLite file.
#[derive(Clone)]
pub struct SqliteKv {
    store: Arc<str>,
    db: SharedDb,
}

impl SqliteKv {
    /// The store `store` (its label) in the shared database `db`.
    pub fn new(store: String, db: SharedDb) -> Self {
        Self {
            store: store.into(),
            db,
        }
    }

    /// The SQLite file holding the store.
    pub fn path(&self) -> &Path {
        &self.db.path
    }

    /// The value of `key`, or `None` if absent.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let (store, key) = (self.store.clone(), key.to_string());
        self.db
            .with(move |c| {
                c.prepare_cached("SELECT value FROM spin_key_value WHERE store=$1 AND key=$2")?
                    .query_row(params![&*store, key], |r| r.get(0))
                    .optional()
            })
            .await
    }

    /// Upserts `key` = `value`.
    pub async fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        let (store, key, value) = (self.store.clone(), key.to_string(), value.to_vec());
        self.db
            .with(move |c| {
                c.prepare_cached(UPSERT)?
                    .execute(params![&*store, key, value])
                    .map(drop)
            })
            .await
    }

    /// Removes `key`; not an error if it is absent.
    pub async fn delete(&self, key: &str) -> Result<(), KvError> {
        let (store, key) = (self.store.clone(), key.to_string());
        self.db
            .with(move |c| {
                c.prepare_cached("DELETE FROM spin_key_value WHERE store=$1 AND key=$2")?
                    .execute(params![&*store, key])
                    .map(drop)
            })
            .await
    }

    /// Whether `key` has a value.
    pub async fn exists(&self, key: &str) -> Result<bool, KvError> {
        Ok(self.get(key).await?.is_some())
    }

    /// All keys of the store, sorted.
    pub async fn keys(&self) -> Result<Vec<String>, KvError> {
        let store = self.store.clone();
        self.db
            .with(move |c| {
                let mut stmt =
                    c.prepare_cached("SELECT key FROM spin_key_value WHERE store=$1 ORDER BY key")?;
                let keys = stmt.query_map(params![&*store], |r| r.get(0))?;
                keys.collect()
            })
            .await
    }

    /// Each of `keys` with its value, in order; `None` for absent keys.
    pub async fn get_many(
        &self,
        keys: Vec<String>,
    ) -> Result<Vec<(String, Option<Vec<u8>>)>, KvError> {
        let store = self.store.clone();
        self.db
            .with(move |c| {
                let mut stmt =
                    c.prepare_cached("SELECT value FROM spin_key_value WHERE store=$1 AND key=$2")?;
                keys.into_iter()
                    .map(|k| {
                        let v = stmt
                            .query_row(params![&*store, k], |r| r.get(0))
                            .optional()?;
                        Ok((k, v))
                    })
                    .collect()
            })
            .await
    }

    /// Upserts every pair in one transaction.
    pub async fn set_many(&self, pairs: Vec<(String, Vec<u8>)>) -> Result<(), KvError> {
        let store = self.store.clone();
        self.db
            .with(move |c| {
                let tx = c.transaction()?;
                for (k, v) in pairs {
                    tx.prepare_cached(UPSERT)?.execute(params![&*store, k, v])?;
                }
                tx.commit()
            })
            .await
    }

    /// Removes every key in one transaction.
    pub async fn delete_many(&self, keys: Vec<String>) -> Result<(), KvError> {
        let store = self.store.clone();
        self.db
            .with(move |c| {
                let tx = c.transaction()?;
                for k in keys {
                    tx.prepare_cached("DELETE FROM spin_key_value WHERE store=$1 AND key=$2")?
                        .execute(params![&*store, k])?;
                }
                tx.commit()
            })
            .await
    }

    /// Counters are 8-byte little-endian integers, as Spin stores them.
    pub async fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        let (store, key) = (self.store.clone(), key.to_string());
        let result = self
            .db
            .with(move |c| {
                let tx = c.transaction()?;
                let current: Option<Vec<u8>> = tx
                    .prepare_cached("SELECT value FROM spin_key_value WHERE store=$1 AND key=$2")?
                    .query_row(params![&*store, key], |r| r.get(0))
                    .optional()?;
                let current = match current {
                    None => 0,
                    Some(bytes) => match <[u8; 8]>::try_from(bytes.as_slice()) {
                        Ok(b) => i64::from_le_bytes(b),
                        Err(_) => return Ok(Err(())),
                    },
                };
                let Some(new) = current.checked_add(delta) else {
                    return Ok(Err(()));
                };
                tx.prepare_cached(UPSERT)?.execute(params![
                    &*store,
                    key,
                    new.to_le_bytes().to_vec()
                ])?;
                tx.commit()?;
                Ok(Ok(new))
            })
            .await?;
        result.map_err(|()| {
            KvError::Other("the value is not a 64-bit counter (or it would overflow)".into())
        })
    }

    /// Sets `key` to `new` if its value is `expected` (`None` = absent), in one transaction; true
    /// if swapped.
    pub async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
    ) -> Result<bool, KvError> {
        let (store, key) = (self.store.clone(), key.to_string());
        self.db
            .with(move |c| {
                let tx = c.transaction()?;
                let current: Option<Vec<u8>> = tx
                    .prepare_cached("SELECT value FROM spin_key_value WHERE store=$1 AND key=$2")?
                    .query_row(params![&*store, key], |r| r.get(0))
                    .optional()?;
                if current != expected {
                    return Ok(false);
                }
                tx.prepare_cached(UPSERT)?
                    .execute(params![&*store, key, new])?;
                tx.commit()?;
                Ok(true)
            })
            .await
    }
}
