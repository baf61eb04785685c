//! One multiplexed, self-reconnecting Redis connection per server address,
//! shared by the Redis key-value backend and outbound Redis.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// Requests fail this fast while Redis is unreachable, instead of hanging the guest.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

fn pool() -> &'static Mutex<HashMap<String, ConnectionManager>> {
    // Process-wide: connections are per address, whichever component asks.
    static POOL: OnceLock<Mutex<HashMap<String, ConnectionManager>>> = OnceLock::new();
    POOL.get_or_init(Default::default)
}

/// A connection to `url`. A failed first connect is not cached, so the next
/// call tries again (Redis may come back).
pub async fn connection(url: &str) -> Result<ConnectionManager, redis::RedisError> {
    if let Some(c) = pool().lock().unwrap_or_else(|p| p.into_inner()).get(url) {
        return Ok(c.clone());
    }
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500));
    let manager = client.get_connection_manager_with_config(config).await?;
    let mut pool = pool().lock().unwrap_or_else(|p| p.into_inner());
    Ok(pool.entry(url.to_string()).or_insert(manager).clone())
}

/// The URL without its password, for logs and errors.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}
