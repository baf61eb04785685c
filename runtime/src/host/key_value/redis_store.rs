//! `type = "redis"` stores: keys map 1:1 onto Redis keys, as in Spin.

use redis::AsyncCommands;

use super::KvError;
use crate::host::redis_pool;

/// Compare-and-swap in one round trip; WATCH does not work on a multiplexed connection.
const CAS_SCRIPT: &str = r#"
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if cur ~= false then return 0 end
elseif cur ~= ARGV[2] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3])
return 1
"#;

/// A `type = "redis"` store; connections come from the shared Redis pool.
#[derive(Clone)]
pub struct RedisKv {
    url: String,
}

fn err(e: redis::RedisError) -> KvError {
    KvError::Other(format!("Redis: {e}"))
}

impl RedisKv {
    /// A store on the Redis server at `url` (connects lazily).
    pub fn new(url: String) -> Self {
        Self { url }
    }

    /// The URL with any password replaced, for logs and errors.
    pub fn redacted_url(&self) -> String {
        redis_pool::redact(&self.url)
    }

    /// Runs an idempotent operation, once more if the pooled connection turned
    /// out to be dead (Redis restarted): the manager reconnects on that failure,
    /// so the retry goes out on a fresh connection instead of failing the guest.
    async fn idempotent<T, F, Fut>(&self, op: F) -> Result<T, KvError>
    where
        F: Fn(redis::aio::ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        match op(self.conn().await?).await {
            Err(e) if e.is_connection_dropped() || e.is_io_error() => {
                tracing::debug!("Redis {}: {e}; retrying once", self.redacted_url());
                op(self.conn().await?).await.map_err(err)
            }
            other => other.map_err(err),
        }
    }

    async fn conn(&self) -> Result<redis::aio::ConnectionManager, KvError> {
        redis_pool::connection(&self.url).await.map_err(|e| {
            KvError::Other(format!(
                "cannot reach Redis at {}: {e}",
                self.redacted_url()
            ))
        })
    }

    /// `GET key`; retried once on a dropped connection.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.idempotent(|mut c| async move { c.get(key).await })
            .await
    }

    /// `SET key value`; retried once on a dropped connection.
    pub async fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.idempotent(|mut c| async move { c.set(key, value).await })
            .await
    }

    /// `DEL key`; retried once on a dropped connection.
    pub async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.idempotent(|mut c| async move { c.del(key).await })
            .await
    }

    /// `EXISTS key`; retried once on a dropped connection.
    pub async fn exists(&self, key: &str) -> Result<bool, KvError> {
        self.idempotent(|mut c| async move { c.exists(key).await })
            .await
    }

    /// Every key in the Redis database (`KEYS *`), sorted.
    pub async fn keys(&self) -> Result<Vec<String>, KvError> {
        let mut keys: Vec<String> = self
            .idempotent(|mut c| async move { c.keys("*").await })
            .await?;
        keys.sort();
        Ok(keys)
    }

    /// `MGET keys`: each key with its value, `None` for absent ones.
    pub async fn get_many(
        &self,
        keys: Vec<String>,
    ) -> Result<Vec<(String, Option<Vec<u8>>)>, KvError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut self.conn().await?)
            .await
            .map_err(err)?;
        Ok(keys.into_iter().zip(values).collect())
    }

    /// `MSET` of all pairs in one command.
    pub async fn set_many(&self, pairs: Vec<(String, Vec<u8>)>) -> Result<(), KvError> {
        if pairs.is_empty() {
            return Ok(());
        }
        self.conn().await?.mset(&pairs).await.map_err(err)
    }

    /// `DEL` of all keys in one command.
    pub async fn delete_many(&self, keys: Vec<String>) -> Result<(), KvError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.conn().await?.del(keys).await.map_err(err)
    }

    /// `INCRBY key delta`; Redis keeps the counter as a decimal string.
    pub async fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        self.conn().await?.incr(key, delta).await.map_err(err)
    }

    /// Sets `key` to `new` if its value is `expected` (`None` = absent), atomically via a Lua
    /// script; true if swapped.
    pub async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
    ) -> Result<bool, KvError> {
        let absent = if expected.is_none() { "1" } else { "0" };
        let swapped: i64 = redis::cmd("EVAL")
            .arg(CAS_SCRIPT)
            .arg(1)
            .arg(key)
            .arg(absent)
            .arg(expected.unwrap_or_default())
            .arg(new)
            .query_async(&mut self.conn().await?)
            .await
            .map_err(err)?;
        Ok(swapped == 1)
    }
}
