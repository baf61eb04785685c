//! Outbound Redis: `fermyon:spin/redis@2.0.0`, gated by `allowed_outbound_hosts` (host::p3 serves
//! `spin:redis@3.0.0` with the same checks, connections and replies).

use redis::AsyncCommands;
use wasmtime::component::Resource;
use wasmtime::Result;

use crate::host::bindings::fermyon::spin::redis as spin_redis;
use crate::host::bindings::fermyon::spin::redis::{Error, RedisParameter, RedisResult};
use crate::host::{redis_pool, InstanceState};

/// A connection a guest opened: a handle onto the shared per-address connection.
pub struct RedisHandle {
    conn: redis::aio::ConnectionManager,
}

pub(in crate::host) fn other(e: redis::RedisError) -> Error {
    match e.kind() {
        redis::ErrorKind::UnexpectedReturnType => Error::TypeError,
        _ if e.code() == Some("WRONGTYPE") => Error::TypeError,
        _ => Error::Other(e.to_string()),
    }
}

impl InstanceState {
    pub(in crate::host) fn redis(
        &self,
        c: &Resource<RedisHandle>,
    ) -> Result<redis::aio::ConnectionManager> {
        Ok(self.table.get(c)?.conn.clone())
    }

    /// A `redis://` or `rediss://` address that `allowed_outbound_hosts` permits.
    pub(in crate::host) fn check_redis_address(&self, address: &str) -> Result<(), Error> {
        let Ok(url) = url::Url::parse(address) else {
            return Err(Error::InvalidAddress);
        };
        if !matches!(url.scheme(), "redis" | "rediss") || url.host_str().is_none() {
            return Err(Error::InvalidAddress);
        }
        if !self.outbound_allowed(&url) {
            return Err(Error::InvalidAddress);
        }
        Ok(())
    }
}

/// The shared connection to a checked address.
pub(in crate::host) async fn connect(address: &str) -> Result<RedisHandle, Error> {
    match redis_pool::connection(address).await {
        Ok(conn) => Ok(RedisHandle { conn }),
        Err(e) => Err(Error::Other(format!(
            "cannot connect to Redis at {}: {e}",
            redis_pool::redact(address)
        ))),
    }
}

/// Any command, its reply flattened as Spin does.
pub(in crate::host) async fn execute(
    mut conn: redis::aio::ConnectionManager,
    command: &str,
    arguments: Vec<RedisParameter>,
) -> Result<Vec<RedisResult>, Error> {
    let mut cmd = redis::cmd(command);
    for a in arguments {
        match a {
            RedisParameter::Int64(i) => cmd.arg(i),
            RedisParameter::Binary(b) => cmd.arg(b),
        };
    }
    let value: redis::Value = cmd.query_async(&mut conn).await.map_err(other)?;
    Ok(flatten(value))
}

impl spin_redis::Host for InstanceState {}

impl spin_redis::HostConnection for InstanceState {
    async fn open(&mut self, address: String) -> Result<Result<Resource<RedisHandle>, Error>> {
        if let Err(e) = self.check_redis_address(&address) {
            return Ok(Err(e));
        }
        match connect(&address).await {
            Ok(handle) => Ok(Ok(self.table.push(handle)?)),
            Err(e) => Ok(Err(e)),
        }
    }

    async fn publish(
        &mut self,
        c: Resource<RedisHandle>,
        channel: String,
        payload: Vec<u8>,
    ) -> Result<Result<(), Error>> {
        Ok(self
            .redis(&c)?
            .publish(channel, payload)
            .await
            .map_err(other))
    }

    async fn get(
        &mut self,
        c: Resource<RedisHandle>,
        key: String,
    ) -> Result<Result<Option<Vec<u8>>, Error>> {
        Ok(self.redis(&c)?.get(key).await.map_err(other))
    }

    async fn set(
        &mut self,
        c: Resource<RedisHandle>,
        key: String,
        value: Vec<u8>,
    ) -> Result<Result<(), Error>> {
        Ok(self.redis(&c)?.set(key, value).await.map_err(other))
    }

    async fn incr(&mut self, c: Resource<RedisHandle>, key: String) -> Result<Result<i64, Error>> {
        Ok(self.redis(&c)?.incr(key, 1).await.map_err(other))
    }

    async fn del(
        &mut self,
        c: Resource<RedisHandle>,
        keys: Vec<String>,
    ) -> Result<Result<u32, Error>> {
        Ok(self.redis(&c)?.del(keys).await.map_err(other))
    }

    async fn sadd(
        &mut self,
        c: Resource<RedisHandle>,
        key: String,
        values: Vec<String>,
    ) -> Result<Result<u32, Error>> {
        Ok(self.redis(&c)?.sadd(key, values).await.map_err(other))
    }

    async fn smembers(
        &mut self,
        c: Resource<RedisHandle>,
        key: String,
    ) -> Result<Result<Vec<String>, Error>> {
        Ok(self.redis(&c)?.smembers(key).await.map_err(other))
    }

    async fn srem(
        &mut self,
        c: Resource<RedisHandle>,
        key: String,
        values: Vec<String>,
    ) -> Result<Result<u32, Error>> {
        Ok(self.redis(&c)?.srem(key, values).await.map_err(other))
    }

    async fn execute(
        &mut self,
        c: Resource<RedisHandle>,
        command: String,
        arguments: Vec<RedisParameter>,
    ) -> Result<Result<Vec<RedisResult>, Error>> {
        Ok(execute(self.redis(&c)?, &command, arguments).await)
    }

    async fn drop(&mut self, c: Resource<RedisHandle>) -> Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}

/// Redis replies as Spin's flat result list (arrays are spread out).
fn flatten(v: redis::Value) -> Vec<RedisResult> {
    match v {
        redis::Value::Nil => vec![RedisResult::Nil],
        redis::Value::Int(i) => vec![RedisResult::Int64(i)],
        redis::Value::BulkString(b) => vec![RedisResult::Binary(b)],
        redis::Value::SimpleString(s) => vec![RedisResult::Status(s)],
        redis::Value::Okay => vec![RedisResult::Status("OK".into())],
        redis::Value::Array(items) | redis::Value::Set(items) => {
            items.into_iter().flat_map(flatten).collect()
        }
        redis::Value::Double(d) => vec![RedisResult::Binary(d.to_string().into_bytes())],
        redis::Value::Boolean(b) => vec![RedisResult::Int64(i64::from(b))],
        redis::Value::VerbatimString { text, .. } => vec![RedisResult::Binary(text.into_bytes())],
        redis::Value::BigNumber(n) => vec![RedisResult::Binary(n)],
        redis::Value::Map(pairs) => pairs
            .into_iter()
            .flat_map(|(k, v)| flatten(k).into_iter().chain(flatten(v)))
            .collect(),
        other => vec![RedisResult::Status(format!("{other:?}"))],
    }
}
