//! Outbound MySQL / MariaDB: `fermyon:spin/mysql@2.0.0` (rdbms-types) on mysql_async.
//!
//! The address (`mysql://user:password@host:port/db`) is checked against
//! `allowed_outbound_hosts` as a `mysql` URL before anything is dialled (Spin's message:
//! `address ADDRESS is not permitted`). One mysql_async pool per address: a connection the
//! guest drops goes back to it (mysql_async resets the session first). TLS when the address
//! says `ssl-mode` (or `sslmode`) other than `disabled`, as in Spin.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::prelude::Queryable as _;
use wasmtime::component::Resource;
use wasmtime::Result;

use crate::host::bindings::fermyon::spin::mysql as spin_mysql;
use crate::host::bindings::fermyon::spin::rdbms_types::{
    Column, DbDataType, DbValue, Error, ParameterValue, RowSet,
};
use crate::host::InstanceState;

/// A connection a guest opened (back to its pool when dropped).
pub struct MysqlHandle {
    conn: Arc<tokio::sync::Mutex<mysql_async::Conn>>,
}

fn pools() -> &'static Mutex<HashMap<String, mysql_async::Pool>> {
    static POOLS: OnceLock<Mutex<HashMap<String, mysql_async::Pool>>> = OnceLock::new();
    POOLS.get_or_init(Default::default)
}

fn is_ssl_param(key: &str) -> bool {
    matches!(key.to_ascii_lowercase().as_str(), "ssl-mode" | "sslmode")
}

/// mysql_async options for `address`: Spin's `ssl-mode` parameter taken out (mysql_async does
/// not know it) and turned into TLS settings.
pub fn options(address: &str) -> Result<mysql_async::Opts, String> {
    let url = url::Url::parse(address).map_err(|e| format!("invalid MySQL address: {e}"))?;
    let use_tls = url
        .query_pairs()
        .any(|(k, v)| is_ssl_param(&k) && !v.eq_ignore_ascii_case("disabled"));
    let rest: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !is_ssl_param(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut cleaned = url.clone();
    cleaned.set_query(None);
    if !rest.is_empty() {
        cleaned.query_pairs_mut().extend_pairs(rest);
    }
    let opts = mysql_async::Opts::from_url(cleaned.as_str())
        .map_err(|e| format!("invalid MySQL address: {e}"))?;
    let ssl = use_tls.then(mysql_async::SslOpts::default);
    Ok(mysql_async::OptsBuilder::from_opts(opts)
        .ssl_opts(ssl)
        .into())
}

impl InstanceState {
    fn mysql_address_allowed(&self, address: &str) -> bool {
        match url::Url::parse(address) {
            Ok(url) if url.host_str().is_some() => self.outbound_allowed(&url),
            _ => false,
        }
    }

    fn mysql_conn(
        &self,
        c: &Resource<MysqlHandle>,
    ) -> Result<Arc<tokio::sync::Mutex<mysql_async::Conn>>> {
        Ok(self.table.get(c)?.conn.clone())
    }
}

async fn connect(address: &str) -> Result<MysqlHandle, Error> {
    let pool = {
        let mut pools = pools().lock().unwrap_or_else(|p| p.into_inner());
        match pools.get(address) {
            Some(p) => p.clone(),
            None => {
                // mysql_async's TLS builds rustls configs from the process-wide provider.
                crate::outbound::tls::install_default_provider();
                let opts = options(address).map_err(Error::ConnectionFailed)?;
                let pool = mysql_async::Pool::new(opts);
                pools.insert(address.to_string(), pool.clone());
                pool
            }
        }
    };
    let conn = pool
        .get_conn()
        .await
        .map_err(|e| Error::ConnectionFailed(format!("cannot connect to MySQL: {e}")))?;
    Ok(MysqlHandle {
        conn: Arc::new(tokio::sync::Mutex::new(conn)),
    })
}

fn param(p: ParameterValue) -> mysql_async::Value {
    use mysql_async::Value;
    match p {
        ParameterValue::Boolean(v) => Value::from(v),
        ParameterValue::Int8(v) => Value::from(v),
        ParameterValue::Int16(v) => Value::from(v),
        ParameterValue::Int32(v) => Value::from(v),
        ParameterValue::Int64(v) => Value::from(v),
        ParameterValue::Uint8(v) => Value::from(v),
        ParameterValue::Uint16(v) => Value::from(v),
        ParameterValue::Uint32(v) => Value::from(v),
        ParameterValue::Uint64(v) => Value::from(v),
        ParameterValue::Floating32(v) => Value::from(v),
        ParameterValue::Floating64(v) => Value::from(v),
        ParameterValue::Str(v) => Value::from(v),
        ParameterValue::Binary(v) => Value::from(v),
        ParameterValue::DbNull => Value::NULL,
    }
}

fn params(ps: Vec<ParameterValue>) -> mysql_async::Params {
    if ps.is_empty() {
        mysql_async::Params::Empty
    } else {
        mysql_async::Params::Positional(ps.into_iter().map(param).collect())
    }
}

/// The WIT data type of a column, as Spin decides it: integers by width and sign, text and
/// blobs by the binary flag, floats; anything else (dates, decimals, JSON) is `other`.
pub fn data_type(ty: ColumnType, flags: ColumnFlags) -> DbDataType {
    use ColumnType::*;
    let signed = !flags.contains(ColumnFlags::UNSIGNED_FLAG);
    let binary = flags.contains(ColumnFlags::BINARY_FLAG);
    match ty {
        MYSQL_TYPE_DOUBLE => DbDataType::Floating64,
        MYSQL_TYPE_FLOAT => DbDataType::Floating32,
        MYSQL_TYPE_TINY if signed => DbDataType::Int8,
        MYSQL_TYPE_TINY => DbDataType::Uint8,
        MYSQL_TYPE_SHORT if signed => DbDataType::Int16,
        MYSQL_TYPE_SHORT => DbDataType::Uint16,
        MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG if signed => DbDataType::Int32,
        MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG => DbDataType::Uint32,
        MYSQL_TYPE_LONGLONG if signed => DbDataType::Int64,
        MYSQL_TYPE_LONGLONG => DbDataType::Uint64,
        MYSQL_TYPE_BLOB if !binary => DbDataType::Str, // TEXT
        MYSQL_TYPE_BLOB | MYSQL_TYPE_LONG_BLOB | MYSQL_TYPE_MEDIUM_BLOB | MYSQL_TYPE_TINY_BLOB => {
            DbDataType::Binary
        }
        MYSQL_TYPE_STRING | MYSQL_TYPE_VAR_STRING | MYSQL_TYPE_VARCHAR if binary => {
            DbDataType::Binary
        }
        MYSQL_TYPE_STRING | MYSQL_TYPE_VAR_STRING | MYSQL_TYPE_VARCHAR => DbDataType::Str,
        _ => DbDataType::Other,
    }
}

fn convert<T: mysql_async::prelude::FromValue>(v: mysql_async::Value) -> Result<T, Error> {
    mysql_async::from_value_opt::<T>(v).map_err(|e| Error::ValueConversionFailed(e.to_string()))
}

/// One value of a column of type `ty` named `name`.
fn value(v: mysql_async::Value, name: &str, ty: DbDataType) -> Result<DbValue, Error> {
    if v == mysql_async::Value::NULL {
        return Ok(DbValue::DbNull);
    }
    Ok(match ty {
        DbDataType::Boolean => DbValue::Boolean(convert(v)?),
        DbDataType::Int8 => DbValue::Int8(convert(v)?),
        DbDataType::Int16 => DbValue::Int16(convert(v)?),
        DbDataType::Int32 => DbValue::Int32(convert(v)?),
        DbDataType::Int64 => DbValue::Int64(convert(v)?),
        DbDataType::Uint8 => DbValue::Uint8(convert(v)?),
        DbDataType::Uint16 => DbValue::Uint16(convert(v)?),
        DbDataType::Uint32 => DbValue::Uint32(convert(v)?),
        DbDataType::Uint64 => DbValue::Uint64(convert(v)?),
        DbDataType::Floating32 => DbValue::Floating32(convert(v)?),
        DbDataType::Floating64 => DbValue::Floating64(convert(v)?),
        DbDataType::Str => DbValue::Str(convert(v)?),
        DbDataType::Binary => DbValue::Binary(convert(v)?),
        DbDataType::Other => {
            return Err(Error::ValueConversionFailed(format!(
                "Cannot convert value {v:?} in column {name} data type {ty:?}"
            )))
        }
    })
}

fn query_failed(e: mysql_async::Error) -> Error {
    Error::QueryFailed(e.to_string())
}

async fn query(
    conn: Arc<tokio::sync::Mutex<mysql_async::Conn>>,
    statement: &str,
    ps: Vec<ParameterValue>,
) -> Result<RowSet, Error> {
    let mut conn = conn.lock().await;
    let mut result = conn
        .exec_iter(statement, params(ps))
        .await
        .map_err(query_failed)?;
    let columns: Vec<Column> = result
        .columns()
        .map(|cs| {
            cs.iter()
                .map(|c| Column {
                    name: c.name_str().into_owned(),
                    data_type: data_type(c.column_type(), c.flags()),
                })
                .collect()
        })
        .unwrap_or_default();
    let raw: Vec<mysql_async::Row> = result.collect().await.map_err(query_failed)?;
    let rows = raw
        .into_iter()
        .map(|row| {
            row.unwrap()
                .into_iter()
                .zip(&columns)
                .map(|(v, c)| value(v, &c.name, c.data_type))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RowSet { columns, rows })
}

async fn execute(
    conn: Arc<tokio::sync::Mutex<mysql_async::Conn>>,
    statement: &str,
    ps: Vec<ParameterValue>,
) -> Result<(), Error> {
    let mut conn = conn.lock().await;
    conn.exec_drop(statement, params(ps))
        .await
        .map_err(query_failed)
}

impl spin_mysql::Host for InstanceState {}

impl spin_mysql::HostConnection for InstanceState {
    async fn open(&mut self, address: String) -> Result<Result<Resource<MysqlHandle>, Error>> {
        if !self.mysql_address_allowed(&address) {
            return Ok(Err(Error::ConnectionFailed(format!(
                "address {address} is not permitted"
            ))));
        }
        let opened = connect(&address).await;
        Ok(self.opened::<_, Error>(opened)?)
    }

    async fn query(
        &mut self,
        c: Resource<MysqlHandle>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> Result<Result<RowSet, Error>> {
        Ok(query(self.mysql_conn(&c)?, &statement, params).await)
    }

    async fn execute(
        &mut self,
        c: Resource<MysqlHandle>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> Result<Result<(), Error>> {
        Ok(execute(self.mysql_conn(&c)?, &statement, params).await)
    }

    async fn drop(&mut self, c: Resource<MysqlHandle>) -> Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssl_mode_turns_tls_on_like_spin() {
        let tls = |a: &str| options(a).unwrap().ssl_opts().is_some();
        assert!(!tls("mysql://u:p@127.0.0.1/db"));
        assert!(!tls("mysql://u:p@127.0.0.1/db?ssl-mode=DISABLED"));
        assert!(tls("mysql://u:p@127.0.0.1/db?sslMode=VERIFY_CA"));
        let opts = options("mysql://u:p@127.0.0.1/db?SsLmOdE=REQUIRED&pool_max=10").unwrap();
        assert!(opts.ssl_opts().is_some());
        assert_eq!(opts.pool_opts().constraints().max(), 10);
        assert!(options("not a url").is_err());
    }

    #[test]
    fn column_types_map_like_spin() {
        let none = ColumnFlags::empty();
        assert_eq!(
            data_type(ColumnType::MYSQL_TYPE_LONG, ColumnFlags::UNSIGNED_FLAG),
            DbDataType::Uint32
        );
        assert_eq!(
            data_type(ColumnType::MYSQL_TYPE_TINY, none),
            DbDataType::Int8
        );
        assert_eq!(
            data_type(ColumnType::MYSQL_TYPE_BLOB, none),
            DbDataType::Str
        );
        assert_eq!(
            data_type(ColumnType::MYSQL_TYPE_BLOB, ColumnFlags::BINARY_FLAG),
            DbDataType::Binary
        );
        assert_eq!(
            data_type(ColumnType::MYSQL_TYPE_DATETIME, none),
            DbDataType::Other
        );
    }
}
