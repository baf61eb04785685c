//! Outbound PostgreSQL on tokio-postgres: `spin:postgres/postgres@4.0.0` and `@3.0.0`, and
//! `fermyon:spin/postgres@2.0.0` (rdbms-types), all served by one implementation on 4.0's
//! types (see `versions.rs` for the older shapes).
//!
//! Every host of the connection string is checked against `allowed_outbound_hosts` as
//! `postgres://host:port` before anything is dialled (Spin's rule and message). Connections
//! are pooled per connection string: a handle the guest drops goes back to the pool after a
//! `ROLLBACK` and `RESET ALL`, so one request's session state never reaches the next.
//! TLS: `sslmode=disable` is plain, anything else tries TLS (rustls, the system's roots).

// The WIT's error (with 4.0's structured server error) is what guests get; boxing it on the
// way would only move the allocation.
#![allow(clippy::result_large_err)]

mod pool;
pub mod types;
pub mod versions;

use tokio_postgres::error::ErrorPosition;
use wasmtime::component::Resource;
use wasmtime::Result;

use crate::host::bindings::fermyon::spin::postgres as pg2;
use crate::host::bindings::fermyon::spin::rdbms_types as v2;
use crate::host::bindings::spin::postgres3_0_0::postgres as v3;
use crate::host::bindings::spin::postgres4_0_0::postgres as v4;
use crate::host::InstanceState;
use crate::outbound::allowed_hosts::{AllowedHosts, OutboundTarget};

pub use pool::PgHandle;

/// Why a connection string may not be used.
#[derive(Debug, PartialEq, Eq)]
pub enum Denied {
    /// A host `allowed_outbound_hosts` does not grant (port as the string gives it).
    Host {
        /// Host name from the connection string.
        host: String,
        /// Port, if the connection string gives one.
        port: Option<u16>,
    },
    /// A Unix-socket connection string; not supported on WebAssembly.
    Unix,
}

impl Denied {
    /// Spin's words for it.
    pub fn message(&self) -> String {
        match self {
            Denied::Host { host, port } => {
                let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                format!("address postgres://{host}{port} is not permitted")
            }
            Denied::Unix => "Unix sockets are not supported on WebAssembly".into(),
        }
    }
}

/// Checks every host of `config` as `postgres://host:port`, Spin's rule: each host's port is
/// the one at its index, or the only port given (the scheme's 5432 when there is none).
pub fn check_hosts(config: &tokio_postgres::Config, allowed: &AllowedHosts) -> Result<(), Denied> {
    let ports = config.get_ports();
    for (i, host) in config.get_hosts().iter().enumerate() {
        let name = match host {
            tokio_postgres::config::Host::Tcp(name) => name,
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(_) => return Err(Denied::Unix),
        };
        let port = ports
            .get(i)
            .or(if ports.len() == 1 {
                ports.first()
            } else {
                None
            })
            .copied();
        if !allowed.allows(&OutboundTarget::new("postgres", name, port)) {
            return Err(Denied::Host {
                host: name.clone(),
                port,
            });
        }
    }
    Ok(())
}

impl InstanceState {
    /// A pooled connection to `address` if `allowed_outbound_hosts` grants all its hosts.
    async fn pg_open(&mut self, address: &str) -> Result<Result<Resource<PgHandle>, v4::Error>> {
        let config = match address.parse::<tokio_postgres::Config>() {
            Ok(c) => c,
            Err(e) => {
                return Ok(Err(v4::Error::ConnectionFailed(format!(
                    "invalid PostgreSQL connection string: {e}"
                ))))
            }
        };
        if let Err(denied) = check_hosts(&config, &self.grants.allowed_hosts) {
            if let Denied::Host { host, port } = &denied {
                let target = OutboundTarget::new("postgres", host, *port);
                let shown = port.map(|p| format!(":{p}")).unwrap_or_default();
                crate::outbound::allowed_hosts::log_denied(
                    &self.component_id,
                    "PostgreSQL",
                    &format!("postgres://{host}{shown}"),
                    &AllowedHosts::suggestion(&target),
                );
            }
            return Ok(Err(v4::Error::ConnectionFailed(denied.message())));
        }
        let opened = pool::checkout(address, config).await;
        Ok(self.opened::<_, v4::Error>(opened)?)
    }

    fn pg_client(&self, c: &Resource<PgHandle>) -> Result<pool::Shared> {
        Ok(self.table.get(c)?.client())
    }
}

/// `e` with its causes: tokio-postgres's own text is only the kind ("db error").
pub(crate) fn error_text(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    text
}

/// Statement failures as 4.0 reports them: the server's structured error where there is one.
fn query_failed(e: tokio_postgres::Error) -> v4::Error {
    let Some(db) = e.as_db_error() else {
        return v4::Error::QueryFailed(v4::QueryError::Text(error_text(&e)));
    };
    let mut extras = Vec::new();
    let mut extra = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            extras.push((k.to_string(), v.to_string()));
        }
    };
    extra("hint", db.hint());
    extra("where", db.where_());
    extra("schema", db.schema());
    extra("table", db.table());
    extra("column", db.column());
    extra("constraint", db.constraint());
    if let Some(ErrorPosition::Original(p)) = db.position() {
        extra("position", Some(&p.to_string()));
    }
    v4::Error::QueryFailed(v4::QueryError::DbError(v4::DbError {
        as_text: error_text(&e),
        severity: db.severity().to_string(),
        code: db.code().code().to_string(),
        message: db.message().to_string(),
        detail: db.detail().map(str::to_string),
        extras,
    }))
}

fn params(ps: Vec<v4::ParameterValue>) -> Result<Vec<types::Param>, v4::Error> {
    ps.into_iter()
        .enumerate()
        .map(|(i, p)| {
            types::param(p)
                .map_err(|e| v4::Error::BadParameter(format!("parameter {}: {e}", i + 1)))
        })
        .collect()
}

async fn query(
    client: pool::Shared,
    statement: &str,
    ps: Vec<v4::ParameterValue>,
) -> Result<v4::RowSet, v4::Error> {
    let ps = params(ps)?;
    let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        ps.iter().map(|p| &**p as _).collect();
    let stmt = client.prepare(statement).await.map_err(query_failed)?;
    let rows = client.query(&stmt, &refs).await.map_err(query_failed)?;
    let columns = stmt
        .columns()
        .iter()
        .map(|c| v4::Column {
            name: c.name().to_string(),
            data_type: types::data_type(c.type_()),
        })
        .collect();
    let rows = rows
        .iter()
        .map(|row| {
            (0..row.len())
                .map(|i| types::value(row, i))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(v4::Error::ValueConversionFailed)?;
    Ok(v4::RowSet { columns, rows })
}

async fn execute(
    client: pool::Shared,
    statement: &str,
    ps: Vec<v4::ParameterValue>,
) -> Result<u64, v4::Error> {
    let ps = params(ps)?;
    let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        ps.iter().map(|p| &**p as _).collect();
    client.execute(statement, &refs).await.map_err(query_failed)
}

impl v4::Host for InstanceState {}

impl v4::HostConnection for InstanceState {
    async fn open(&mut self, address: String) -> Result<Result<Resource<PgHandle>, v4::Error>> {
        self.pg_open(&address).await
    }

    async fn query(
        &mut self,
        c: Resource<PgHandle>,
        statement: String,
        params: Vec<v4::ParameterValue>,
    ) -> Result<Result<v4::RowSet, v4::Error>> {
        Ok(query(self.pg_client(&c)?, &statement, params).await)
    }

    async fn execute(
        &mut self,
        c: Resource<PgHandle>,
        statement: String,
        params: Vec<v4::ParameterValue>,
    ) -> Result<Result<u64, v4::Error>> {
        Ok(execute(self.pg_client(&c)?, &statement, params).await)
    }

    async fn drop(&mut self, c: Resource<PgHandle>) -> Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}

impl v3::Host for InstanceState {}

impl v3::HostConnection for InstanceState {
    async fn open(&mut self, address: String) -> Result<Result<Resource<PgHandle>, v3::Error>> {
        Ok(self.pg_open(&address).await?.map_err(versions::v3_error))
    }

    async fn query(
        &mut self,
        c: Resource<PgHandle>,
        statement: String,
        params: Vec<v3::ParameterValue>,
    ) -> Result<Result<v3::RowSet, v3::Error>> {
        let params = params.into_iter().map(versions::v3_param).collect();
        Ok(query(self.pg_client(&c)?, &statement, params)
            .await
            .map(versions::v3_rows)
            .map_err(versions::v3_error))
    }

    async fn execute(
        &mut self,
        c: Resource<PgHandle>,
        statement: String,
        params: Vec<v3::ParameterValue>,
    ) -> Result<Result<u64, v3::Error>> {
        let params = params.into_iter().map(versions::v3_param).collect();
        Ok(execute(self.pg_client(&c)?, &statement, params)
            .await
            .map_err(versions::v3_error))
    }

    async fn drop(&mut self, c: Resource<PgHandle>) -> Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}

fn v2_params(ps: Vec<v2::ParameterValue>) -> Result<Vec<v4::ParameterValue>, v2::Error> {
    ps.into_iter()
        .map(versions::v2_param)
        .collect::<Result<_, _>>()
        .map_err(v2::Error::ValueConversionFailed)
}

impl pg2::Host for InstanceState {}

// rdbms-types has no functions; MySQL shares it.
impl v2::Host for InstanceState {}

impl pg2::HostConnection for InstanceState {
    async fn open(&mut self, address: String) -> Result<Result<Resource<PgHandle>, v2::Error>> {
        Ok(self.pg_open(&address).await?.map_err(versions::v2_error))
    }

    async fn query(
        &mut self,
        c: Resource<PgHandle>,
        statement: String,
        params: Vec<v2::ParameterValue>,
    ) -> Result<Result<v2::RowSet, v2::Error>> {
        let params = match v2_params(params) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        Ok(query(self.pg_client(&c)?, &statement, params)
            .await
            .map(versions::v2_rows)
            .map_err(versions::v2_error))
    }

    async fn execute(
        &mut self,
        c: Resource<PgHandle>,
        statement: String,
        params: Vec<v2::ParameterValue>,
    ) -> Result<Result<u64, v2::Error>> {
        let params = match v2_params(params) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        Ok(execute(self.pg_client(&c)?, &statement, params)
            .await
            .map_err(versions::v2_error))
    }

    async fn drop(&mut self, c: Resource<PgHandle>) -> Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(entries: &[&str]) -> AllowedHosts {
        let entries: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
        AllowedHosts::parse(&entries, &|_| Err("no templates".into())).unwrap()
    }

    #[test]
    fn every_host_of_a_connection_string_is_checked_like_spin() {
        let grants = allowed(&["postgres://db.internal:5433", "postgres://10.0.0.0/8"]);
        let check = |s: &str| check_hosts(&s.parse().unwrap(), &grants).map_err(|d| d.message());
        assert_eq!(check("host=db.internal port=5433 user=u"), Ok(()));
        assert_eq!(check("postgres://u:p@10.1.2.3/app"), Ok(()));
        assert_eq!(
            check("host=db.internal user=u"),
            Err("address postgres://db.internal is not permitted".into())
        );
        assert_eq!(
            check("postgres://u@10.1.2.3,db.internal:5432/app"),
            Err("address postgres://db.internal:5432 is not permitted".into())
        );
        assert_eq!(
            check("host=/run/postgresql user=u"),
            Err("Unix sockets are not supported on WebAssembly".into())
        );
    }
}
