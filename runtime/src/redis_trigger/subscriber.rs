//! One pub-sub connection per Redis server: subscribes to the server's
//! channels, hands each message to the dispatcher, and reconnects (with
//! exponential backoff) and resubscribes whenever the connection drops.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;

use super::dispatch::Dispatcher;
use super::executor::RedisHandler;
use crate::host::redis_pool::redact;

/// First reconnect delay; doubled after each failed attempt up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(4);
/// A server that accepts TCP but never answers must not stall reconnection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) struct Subscriber {
    pub address: String,
    /// channel → handlers of the components on it.
    pub channels: BTreeMap<String, Vec<Arc<RedisHandler>>>,
    pub dispatcher: Arc<Dispatcher>,
}

/// Delay before reconnect attempt `attempt` (1-based).
pub(super) fn backoff(attempt: u32) -> Duration {
    MIN_BACKOFF
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF)
}

impl Subscriber {
    /// Runs until `stop` turns true; never fails (connection problems are retried).
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let shown = redact(&self.address);
        let handlers: Arc<HashMap<String, Vec<Arc<RedisHandler>>>> =
            Arc::new(self.channels.clone().into_iter().collect());
        let mut attempt = 0u32;
        loop {
            if *stop.borrow() {
                return;
            }
            let mut pubsub = match self.connect().await {
                Ok(p) => {
                    attempt = 0;
                    let names: Vec<&str> = self.channels.keys().map(String::as_str).collect();
                    tracing::info!("Redis trigger: subscribed to {names:?} on {shown}");
                    p
                }
                Err(e) => {
                    attempt += 1;
                    let delay = backoff(attempt);
                    tracing::warn!(
                        "Redis trigger: cannot subscribe on {shown} (attempt {attempt}): {e:#}; retrying in {delay:?}"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => continue,
                        _ = stop.wait_for(|s| *s) => return,
                    }
                }
            };
            let mut messages = pubsub.on_message();
            loop {
                let msg = tokio::select! {
                    biased;
                    _ = stop.wait_for(|s| *s) => return,
                    msg = messages.next() => msg,
                };
                let Some(msg) = msg else {
                    tracing::warn!("Redis trigger: lost the connection to {shown}; reconnecting");
                    break;
                };
                let channel = msg.get_channel_name().to_string();
                let Some(targets) = handlers.get(&channel).cloned() else {
                    continue; // not ours (cannot happen: we subscribe only to mapped channels)
                };
                let payload: Arc<[u8]> = Arc::from(msg.get_payload_bytes());
                self.dispatcher
                    .dispatch(handle(targets, channel, payload))
                    .await;
            }
        }
    }

    async fn connect(&self) -> anyhow::Result<redis::aio::PubSub> {
        let client = redis::Client::open(self.address.as_str())?;
        let attempt = async {
            let mut pubsub = client.get_async_pubsub().await?;
            for channel in self.channels.keys() {
                pubsub.subscribe(channel).await?;
            }
            Ok::<_, redis::RedisError>(pubsub)
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
            Ok(result) => Ok(result?),
            Err(_) => anyhow::bail!("no answer within {CONNECT_TIMEOUT:?}"),
        }
    }
}

/// Every component on the channel gets the message; failures are logged, not fatal.
async fn handle(targets: Vec<Arc<RedisHandler>>, channel: String, payload: Arc<[u8]>) {
    let runs = targets.iter().map(|h| {
        let (channel, payload) = (&channel, &payload);
        async move {
            if let Err(e) = h.handle(payload).await {
                tracing::error!(
                    "component `{}` failed to handle a message on Redis channel `{channel}`: {e:#}",
                    h.component_id()
                );
            }
        }
    });
    futures::future::join_all(runs).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(4), Duration::from_millis(800));
        assert_eq!(backoff(10), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }
}
