//! SQLite databases: `fermyon:spin/sqlite@2.0.0` and `spin:sqlite/sqlite@3.0.0`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::types::{Value as SqlValue, ValueRef};
use wasmtime::component::Resource;
use wasmtime::Result;

use crate::host::bindings::fermyon::spin::sqlite as v2;
use crate::host::bindings::spin::sqlite::sqlite as v3;
use crate::host::InstanceState;

/// A database file opened on first use; its connection is shared by instances.
#[derive(Clone)]
pub struct Database {
    path: PathBuf,
    conn: Arc<Mutex<Option<rusqlite::Connection>>>,
}

/// The databases of one app, by label.
#[derive(Clone, Default)]
pub struct Databases {
    dbs: HashMap<String, Database>,
}

impl Databases {
    /// The databases of `(label, path)` pairs; files are opened on first use.
    pub fn new(configs: impl IntoIterator<Item = (String, PathBuf)>) -> Self {
        let dbs = configs
            .into_iter()
            .map(|(label, path)| {
                (
                    label,
                    Database {
                        path,
                        conn: Arc::new(Mutex::new(None)),
                    },
                )
            })
            .collect();
        Self { dbs }
    }

    /// The file of database `label`, if configured.
    pub fn path(&self, label: &str) -> Option<&std::path::Path> {
        self.dbs.get(label).map(|d| d.path.as_path())
    }

    /// Runs one statement against a database (`spinkube up --sqlite`).
    pub async fn execute(&self, label: &str, sql: &str) -> anyhow::Result<()> {
        let db = self
            .dbs
            .get(label)
            .ok_or_else(|| anyhow::anyhow!("no SQLite database `{label}`"))?;
        let db = db.clone();
        let sql = sql.to_string();
        tokio::task::spawn_blocking(move || {
            // Several statements are allowed here (a migration file), unlike `execute`.
            rusqlite::Connection::open(&db.path)?.execute_batch(&sql)
        })
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// A connection a guest opened.
pub struct ConnectionHandle {
    db: Database,
    last_insert_rowid: i64,
    changes: u64,
}

/// Interface-neutral failure, mapped to each interface's error.
pub(in crate::host) enum SqlError {
    NoSuchDatabase,
    AccessDenied,
    Io(String),
}

pub(in crate::host) struct QueryOutput {
    pub(in crate::host) columns: Vec<String>,
    pub(in crate::host) rows: Vec<Vec<SqlValue>>,
    last_insert_rowid: i64,
    changes: u64,
}

impl Database {
    pub(in crate::host) async fn execute(
        &self,
        sql: String,
        params: Vec<SqlValue>,
    ) -> Result<QueryOutput, SqlError> {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = db.conn.lock().unwrap_or_else(|p| p.into_inner());
            if guard.is_none() {
                if let Some(dir) = db.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| SqlError::Io(e.to_string()))?;
                }
                let conn = rusqlite::Connection::open(&db.path)
                    .map_err(|e| SqlError::Io(format!("cannot open {}: {e}", db.path.display())))?;
                let _ = conn.busy_timeout(std::time::Duration::from_secs(5));
                *guard = Some(conn);
            }
            let conn = guard.as_mut().ok_or(SqlError::Io("no connection".into()))?;
            run(conn, &sql, params).map_err(|e| SqlError::Io(e.to_string()))
        })
        .await
        .map_err(|e| SqlError::Io(format!("SQLite task failed: {e}")))?
    }
}

fn run(
    conn: &mut rusqlite::Connection,
    sql: &str,
    params: Vec<SqlValue>,
) -> rusqlite::Result<QueryOutput> {
    let mut stmt = conn.prepare_cached(sql)?;
    let columns: Vec<String> = stmt.column_names().map(String::from).collect();
    let mut rows = Vec::new();
    {
        let mut result = stmt.query(rusqlite::params_from_iter(params))?;
        while let Some(row) = result.next()? {
            let values = (0..columns.len())
                .map(|i| row.get_ref(i).map(to_owned_value))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.push(values);
        }
    }
    drop(stmt);
    Ok(QueryOutput {
        columns,
        rows,
        last_insert_rowid: conn.last_insert_rowid(),
        changes: conn.changes(),
    })
}

fn to_owned_value(v: ValueRef<'_>) -> SqlValue {
    match v {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Integer(i),
        ValueRef::Real(f) => SqlValue::Real(f),
        ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
    }
}

impl InstanceState {
    pub(in crate::host) fn open_database(&self, label: &str) -> Result<ConnectionHandle, SqlError> {
        if !self.grants.sqlite_databases.iter().any(|d| d == label) {
            tracing::warn!(component = %self.component_id, "access to SQLite database `{label}` denied: add it to `sqlite_databases` in the component's spin.toml section");
            return Err(SqlError::AccessDenied);
        }
        let db = self.services.sqlite.dbs.get(label).ok_or_else(|| {
            tracing::warn!(component = %self.component_id, "no SQLite database `{label}`: define it with [sqlite_database.{label}] in the runtime config");
            SqlError::NoSuchDatabase
        })?;
        Ok(ConnectionHandle {
            db: db.clone(),
            last_insert_rowid: 0,
            changes: 0,
        })
    }

    pub(in crate::host) async fn execute_sql(
        &mut self,
        c: &Resource<ConnectionHandle>,
        sql: String,
        params: Vec<SqlValue>,
    ) -> Result<Result<QueryOutput, SqlError>> {
        let out = self.sqlite_database(c)?.execute(sql, params).await;
        self.record_sql_outcome(c, &out)?;
        Ok(out)
    }

    pub(in crate::host) fn sqlite_database(
        &self,
        c: &Resource<ConnectionHandle>,
    ) -> Result<Database> {
        Ok(self.table.get(c)?.db.clone())
    }

    /// Keeps what `last-insert-rowid` and `changes` report after a statement.
    pub(in crate::host) fn record_sql_outcome(
        &mut self,
        c: &Resource<ConnectionHandle>,
        out: &Result<QueryOutput, SqlError>,
    ) -> Result<()> {
        if let Ok(o) = out {
            let h = self.table.get_mut(c)?;
            h.last_insert_rowid = o.last_insert_rowid;
            h.changes = o.changes;
        }
        Ok(())
    }

    pub(in crate::host) fn sqlite_counters(
        &self,
        c: &Resource<ConnectionHandle>,
    ) -> Result<(i64, u64)> {
        let h = self.table.get(c)?;
        Ok((h.last_insert_rowid, h.changes))
    }
}

/// Conversions between an interface version's types and the neutral ones, and its `Host`.
macro_rules! sqlite_interface {
    ($m:ident) => {
        impl From<$crate::host::sqlite::SqlError> for $m::Error {
            fn from(e: $crate::host::sqlite::SqlError) -> Self {
                use $crate::host::sqlite::SqlError;
                match e {
                    SqlError::NoSuchDatabase => Self::NoSuchDatabase,
                    SqlError::AccessDenied => Self::AccessDenied,
                    SqlError::Io(m) => Self::Io(m),
                }
            }
        }

        impl From<$m::Value> for rusqlite::types::Value {
            fn from(v: $m::Value) -> Self {
                match v {
                    $m::Value::Integer(i) => Self::Integer(i),
                    $m::Value::Real(f) => Self::Real(f),
                    $m::Value::Text(t) => Self::Text(t),
                    $m::Value::Blob(b) => Self::Blob(b),
                    $m::Value::Null => Self::Null,
                }
            }
        }

        impl From<rusqlite::types::Value> for $m::Value {
            fn from(v: rusqlite::types::Value) -> Self {
                use rusqlite::types::Value as SqlValue;
                match v {
                    SqlValue::Integer(i) => Self::Integer(i),
                    SqlValue::Real(f) => Self::Real(f),
                    SqlValue::Text(t) => Self::Text(t),
                    SqlValue::Blob(b) => Self::Blob(b),
                    SqlValue::Null => Self::Null,
                }
            }
        }

        impl From<$crate::host::sqlite::QueryOutput> for $m::QueryResult {
            fn from(o: $crate::host::sqlite::QueryOutput) -> Self {
                Self {
                    columns: o.columns,
                    rows: o
                        .rows
                        .into_iter()
                        .map(|r| $m::RowResult {
                            values: r.into_iter().map(Into::into).collect(),
                        })
                        .collect(),
                }
            }
        }

        impl $m::Host for $crate::host::InstanceState {}
    };
}
pub(in crate::host) use sqlite_interface;

sqlite_interface!(v2);
sqlite_interface!(v3);

impl v2::HostConnection for InstanceState {
    async fn open(
        &mut self,
        database: String,
    ) -> Result<Result<Resource<ConnectionHandle>, v2::Error>> {
        Ok(self.opened(self.open_database(&database))?)
    }

    async fn execute(
        &mut self,
        c: Resource<ConnectionHandle>,
        statement: String,
        parameters: Vec<v2::Value>,
    ) -> Result<Result<v2::QueryResult, v2::Error>> {
        let params = parameters.into_iter().map(Into::into).collect();
        Ok(self
            .execute_sql(&c, statement, params)
            .await?
            .map(Into::into)
            .map_err(Into::into))
    }

    async fn drop(&mut self, c: Resource<ConnectionHandle>) -> Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}

/// The synchronous `connection` functions of `spin:sqlite@3.x` (3.1 adds async twins).
macro_rules! sqlite_v3_connection {
    ($m:ident) => {
        impl $m::HostConnection for $crate::host::InstanceState {
            async fn open(
                &mut self,
                database: String,
            ) -> wasmtime::Result<Result<wasmtime::component::Resource<ConnectionHandle>, $m::Error>>
            {
                Ok(self.opened(self.open_database(&database))?)
            }

            async fn execute(
                &mut self,
                c: wasmtime::component::Resource<ConnectionHandle>,
                statement: String,
                parameters: Vec<$m::Value>,
            ) -> wasmtime::Result<Result<$m::QueryResult, $m::Error>> {
                let params = parameters.into_iter().map(Into::into).collect();
                let out = self.execute_sql(&c, statement, params).await?;
                Ok(out.map(Into::into).map_err(Into::into))
            }

            async fn last_insert_rowid(
                &mut self,
                c: wasmtime::component::Resource<ConnectionHandle>,
            ) -> wasmtime::Result<i64> {
                Ok(self.sqlite_counters(&c)?.0)
            }

            async fn changes(
                &mut self,
                c: wasmtime::component::Resource<ConnectionHandle>,
            ) -> wasmtime::Result<u64> {
                Ok(self.sqlite_counters(&c)?.1)
            }

            async fn drop(
                &mut self,
                c: wasmtime::component::Resource<ConnectionHandle>,
            ) -> wasmtime::Result<()> {
                self.table.delete(c)?;
                Ok(())
            }
        }
    };
}
pub(in crate::host) use sqlite_v3_connection;

sqlite_v3_connection!(v3);
