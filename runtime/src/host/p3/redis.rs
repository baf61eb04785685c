//! `spin:redis/redis@3.0.0`: outbound Redis with the checks, connections and replies of
//! `fermyon:spin/redis@2.0.0` (host::redis_outbound), whose types have the same shapes.

use redis::AsyncCommands;
use wasmtime::component::{Accessor, Resource};
use wasmtime::Result;

use super::bindings::spin::redis::redis as v3;
use super::SpinP3;
use crate::host::bindings::fermyon::spin::redis as v2;
use crate::host::redis_outbound::{self, other, RedisHandle};
use crate::host::InstanceState;

impl From<v2::Error> for v3::Error {
    fn from(e: v2::Error) -> Self {
        match e {
            v2::Error::InvalidAddress => Self::InvalidAddress,
            v2::Error::TooManyConnections => Self::TooManyConnections,
            v2::Error::TypeError => Self::TypeError,
            v2::Error::Other(m) => Self::Other(m),
        }
    }
}

impl From<v3::RedisParameter> for v2::RedisParameter {
    fn from(p: v3::RedisParameter) -> Self {
        match p {
            v3::RedisParameter::Int64(i) => Self::Int64(i),
            v3::RedisParameter::Binary(b) => Self::Binary(b),
        }
    }
}

impl From<v2::RedisResult> for v3::RedisResult {
    fn from(r: v2::RedisResult) -> Self {
        match r {
            v2::RedisResult::Nil => Self::Nil,
            v2::RedisResult::Status(s) => Self::Status(s),
            v2::RedisResult::Int64(i) => Self::Int64(i),
            v2::RedisResult::Binary(b) => Self::Binary(b),
        }
    }
}

type Connection = redis::aio::ConnectionManager;

fn conn<U>(acc: &Accessor<U, SpinP3>, c: &Resource<RedisHandle>) -> Result<Connection> {
    acc.with(|mut a| a.get().redis(c))
}

/// A redis crate reply as this interface's result.
fn reply<T>(r: redis::RedisResult<T>) -> Result<Result<T, v3::Error>> {
    Ok(r.map_err(|e| other(e).into()))
}

impl v3::Host for InstanceState {}

impl v3::HostConnection for InstanceState {
    async fn drop(&mut self, c: Resource<RedisHandle>) -> Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}

impl<U> v3::HostConnectionWithStore<U> for SpinP3 {
    async fn open(
        acc: &Accessor<U, Self>,
        address: String,
    ) -> Result<Result<Resource<RedisHandle>, v3::Error>> {
        if let Err(e) = acc.with(|mut a| a.get().check_redis_address(&address)) {
            return Ok(Err(e.into()));
        }
        match redis_outbound::connect(&address).await {
            Ok(handle) => Ok(Ok(acc.with(|mut a| a.get().table.push(handle))?)),
            Err(e) => Ok(Err(e.into())),
        }
    }

    async fn publish(
        acc: &Accessor<U, Self>,
        c: Resource<RedisHandle>,
        channel: String,
        payload: Vec<u8>,
    ) -> Result<Result<(), v3::Error>> {
        reply(conn(acc, &c)?.publish(channel, payload).await)
    }

    async fn get(
        acc: &Accessor<U, Self>,
        c: Resource<RedisHandle>,
        key: String,
    ) -> Result<Result<Option<Vec<u8>>, v3::Error>> {
        reply(conn(acc, &c)?.get(key).await)
    }

    async fn set(
        acc: &Accessor<U, Self>,
        c: Resource<RedisHandle>,
        key: String,
        value: Vec<u8>,
    ) -> Result<Result<(), v3::Error>> {
        reply(conn(acc, &c)?.set(key, value).await)
    }

    async fn incr(
        acc: &Accessor<U, Self>,
        c: Resource<RedisHandle>,
        key: String,
    ) -> Result<Result<i64, v3::Error>> {
        reply(conn(acc, &c)?.incr(key, 1).await)
    }

    async fn del(
        acc: &Accessor<U, Self>,
        c: Resource<RedisHandle>,
        keys: Vec<String>,
    ) -> Result<Result<u32, v3::Error>> {
        reply(conn(acc, &c)?.del(keys).await)
    }

    async fn sadd(
        acc: &Accessor<U, Self>,
        c: Resource<RedisHandle>,
        key: String,
        values: Vec<String>,
    ) -> Result<Result<u32, v3::Error>> {
        reply(conn(acc, &c)?.sadd(key, values).await)
    }

    async fn smembers(
        acc: &Accessor<U, Self>,
        c: Resource<RedisHandle>,
        key: String,
    ) -> Result<Result<Vec<String>, v3::Error>> {
        reply(conn(acc, &c)?.smembers(key).await)
    }

    async fn srem(
        acc: &Accessor<U, Self>,
        c: Resource<RedisHandle>,
        key: String,
        values: Vec<String>,
    ) -> Result<Result<u32, v3::Error>> {
        reply(conn(acc, &c)?.srem(key, values).await)
    }

    async fn execute(
        acc: &Accessor<U, Self>,
        c: Resource<RedisHandle>,
        command: String,
        arguments: Vec<v3::RedisParameter>,
    ) -> Result<Result<Vec<v3::RedisResult>, v3::Error>> {
        let arguments = arguments.into_iter().map(Into::into).collect();
        let out = redis_outbound::execute(conn(acc, &c)?, &command, arguments).await;
        Ok(out
            .map(|r| r.into_iter().map(Into::into).collect())
            .map_err(Into::into))
    }
}
