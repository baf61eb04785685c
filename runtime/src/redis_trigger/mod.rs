//! The Spin Redis trigger: subscribes to the channels that components are
//! mapped to and runs each component's Redis handler (see executor) for each
//! message, in every component on the channel.

pub mod config;
pub mod dispatch;
pub mod executor;
mod subscriber;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::sync::watch;

pub use config::{RedisConfigError, RedisTriggerConfig, ServerPlan};
use dispatch::Dispatcher;
use executor::RedisHandler;
use subscriber::Subscriber;

use crate::host::loader::ComponentLoader;

/// Messages handled at once when nothing else is configured.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// The Redis trigger of one app: a subscriber per server, dispatching each message to every
/// component on its channel.
pub struct RedisTrigger {
    servers: Vec<ServerPlan>,
    subscribers: Vec<Subscriber>,
    dispatcher: Arc<Dispatcher>,
}

impl RedisTrigger {
    /// Renders the config, compiles (through `loader`) and pre-instantiates every Redis
    /// component. `concurrency`: messages in flight at once (1 = strictly in order).
    pub fn new(loader: &mut ComponentLoader, concurrency: usize) -> Result<Self> {
        let configs = RedisTriggerConfig::from_app(loader.app())?;
        let servers = config::plan(&configs, &loader.services().variables)?;
        let mut handlers: HashMap<String, Arc<RedisHandler>> = HashMap::new();
        for c in &configs {
            if handlers.contains_key(&c.component) {
                continue;
            }
            let handler = load_handler(loader, &c.component).with_context(|| {
                format!("component `{}` (Redis trigger `{}`)", c.component, c.id)
            })?;
            handlers.insert(c.component.clone(), Arc::new(handler));
        }
        let dispatcher = Arc::new(Dispatcher::new(concurrency));
        let subscribers = servers
            .iter()
            .map(|s| Subscriber {
                address: s.address.clone(),
                channels: s
                    .channels
                    .iter()
                    .map(|(channel, ids)| {
                        let hs = ids
                            .iter()
                            .filter_map(|id| handlers.get(id).cloned())
                            .collect();
                        (channel.clone(), hs)
                    })
                    .collect::<BTreeMap<_, _>>(),
                dispatcher: dispatcher.clone(),
            })
            .collect();
        Ok(Self {
            servers,
            subscribers,
            dispatcher,
        })
    }

    /// Servers and their channel → components mapping, for the startup banner.
    pub fn servers(&self) -> &[ServerPlan] {
        &self.servers
    }

    /// Consumes messages until `shutdown` resolves, then stops reading and
    /// waits up to `drain` for in-flight handlers to finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()>,
        drain: std::time::Duration,
    ) -> Result<()> {
        let (stop_tx, stop) = watch::channel(false);
        let tasks: Vec<_> = self
            .subscribers
            .into_iter()
            .map(|s| tokio::spawn(s.run(stop.clone())))
            .collect();
        shutdown.await;
        let _ = stop_tx.send(true);
        for t in tasks {
            let _ = t.await;
        }
        tokio::select! {
            _ = self.dispatcher.drain() => tracing::info!("Redis trigger stopped; in-flight messages finished"),
            _ = tokio::time::sleep(drain) => tracing::warn!("gave up waiting for in-flight Redis messages after {drain:?}"),
        }
        Ok(())
    }
}

/// `host:port` of a Redis URL, as Spin prints it in `Active Channels on ...`.
pub fn display_address(address: &str) -> String {
    match url::Url::parse(address) {
        Ok(u) => format!(
            "{}:{}",
            u.host_str().unwrap_or_default(),
            u.port().unwrap_or(6379)
        ),
        Err(_) => crate::host::redis_pool::redact(address),
    }
}

fn load_handler(loader: &mut ComponentLoader, id: &str) -> Result<RedisHandler> {
    let c = loader.component(id)?;
    RedisHandler::new(&c.engine, c.linker, c.ctx, &c.component)
}
