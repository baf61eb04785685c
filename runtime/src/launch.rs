//! The one way to run an app, shared by `spinkube up` and the containerd shim: [`AppHost::build`]
//! checks and builds everything before anything is served, [`AppHost::run`] serves HTTP and
//! Redis together until shutdown, then drains.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::app::{AppError, LockedApp};
use crate::engine::{EngineConfig, SpinEngine};
use crate::host::loader::ComponentLoader;
use crate::host::AppServices;
use crate::http::connection::ServerLimits;
use crate::http::{routing::Router, server, HttpTrigger, HttpTriggerConfig, RouteInfo, RouteSpec};
use crate::redis_trigger::{RedisTrigger, RedisTriggerConfig, ServerPlan};
use crate::services::{self, ServiceOptions};

/// How long shutdown waits for in-flight work by default: well inside the kubelet's 30 s grace
/// period, so a drained pod exits on its own before it is killed.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(25);

/// How to build an app (`spinkube up` flags, or the shim's settings).
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// Runtime config, state dir and variables.
    pub services: ServiceOptions,
    /// `max_instance_memory` unset here falls back to the runtime config's.
    pub engine: EngineConfig,
    /// Redis messages in flight at once.
    pub redis_concurrency: usize,
}

/// Where the HTTP trigger serves: a bound listener (see [`server::bind`]), TLS when configured,
/// and the limits it puts on clients.
pub struct HttpListener {
    /// The bound TCP listener.
    pub listener: TcpListener,
    /// TLS acceptor (see [`server::tls_acceptor`]); `None` serves plain HTTP.
    pub tls: Option<TlsAcceptor>,
    /// Connection and request limits.
    pub limits: ServerLimits,
}

/// A built app: every component compiled and pre-instantiated, every service reachable.
pub struct AppHost {
    services: Arc<AppServices>,
    http: Option<Arc<HttpTrigger>>,
    redis: Option<RedisTrigger>,
}

impl AppHost {
    /// Validates the app and its triggers, prepares its stores and variables, and builds each
    /// trigger. Every error names the part of the app (or the setting) to fix.
    pub fn build(app: &LockedApp, opts: &LaunchOptions) -> Result<Self> {
        crate::app::validate(app)?;
        validate_triggers(app)?;
        let opened = services::open(app, &opts.services)?;
        let mut engine_config = opts.engine.clone();
        engine_config.max_instance_memory = engine_config
            .max_instance_memory
            .or(opened.runtime_config.max_instance_memory);
        let engine = SpinEngine::new(engine_config)?;
        // Shared by both triggers, so a component that both run is compiled once.
        let mut loader = ComponentLoader::new(app, &engine, opened.services.clone());
        let has = |ty: &str| app.triggers.iter().any(|t| t.trigger_type == ty);
        let redis = match has("redis") {
            true => Some(RedisTrigger::new(&mut loader, opts.redis_concurrency)?),
            false => None,
        };
        let http = match (has("http"), redis.is_some()) {
            (true, _) => Some(HttpTrigger::new(&mut loader)?),
            (false, true) => None,
            (false, false) => {
                bail!(
                    "the app has no triggers; add a [[trigger.http]] or [[trigger.redis]] section"
                )
            }
        };
        Ok(Self {
            services: opened.services,
            http,
            redis,
        })
    }

    /// The app's stores and variables (e.g. to seed a store before serving).
    pub fn services(&self) -> &Arc<AppServices> {
        &self.services
    }

    /// True when the app has HTTP triggers and so needs a listener.
    pub fn serves_http(&self) -> bool {
        self.http.is_some()
    }

    /// The HTTP routes, as `spin up` prints them (empty without HTTP triggers).
    pub fn routes(&self) -> Vec<RouteInfo> {
        self.http.as_ref().map(|h| h.routes()).unwrap_or_default()
    }

    /// Redis servers and their channel → components mapping (empty without Redis triggers).
    pub fn redis_servers(&self) -> &[ServerPlan] {
        self.redis.as_ref().map(|r| r.servers()).unwrap_or_default()
    }

    /// Serves until `shutdown` resolves, then gives in-flight requests and messages up to
    /// `drain` to finish. `listener` is required when [`Self::serves_http`].
    pub async fn run(
        self,
        listener: Option<HttpListener>,
        shutdown: impl Future<Output = ()>,
        drain: Duration,
    ) -> Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let http = match (self.http, listener) {
            (Some(trigger), Some(l)) => Some(server::serve(
                trigger,
                l.listener,
                l.tls,
                l.limits,
                stopped(stop_rx.clone()),
                drain,
            )),
            (Some(_), None) => bail!("the app has HTTP triggers but no listener was given"),
            (None, _) => None,
        };
        let redis = self.redis.map(|r| r.run(stopped(stop_rx.clone()), drain));
        let signal = async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        };
        let http_run = async {
            match http {
                Some(serve) => serve.await,
                None => Ok(()),
            }
        };
        let redis_run = async {
            match redis {
                Some(run) => run.await,
                None => Ok(()),
            }
        };
        let ((), http_result, redis_result) = tokio::join!(signal, http_run, redis_run);
        http_result?;
        redis_result
    }
}

/// Resolves on SIGTERM (what containerd and the kubelet send) or SIGINT (Ctrl-C).
pub async fn termination_signal() {
    spinkube_signals::termination().await;
    tracing::info!("shutting down: finishing in-flight requests");
}

/// Each trigger's own settings, checked the same way however the app was loaded (spin.toml,
/// registry, containerd layers): Redis addresses and channels, HTTP routes and executors.
pub fn validate_triggers(app: &LockedApp) -> Result<(), AppError> {
    RedisTriggerConfig::from_app(app).map_err(|e| AppError::Invalid(e.to_string()))?;
    let http = HttpTriggerConfig::from_app(app).map_err(|e| AppError::Invalid(e.to_string()))?;
    let base = app
        .trigger_settings("http")
        .and_then(|s| s.get("base"))
        .and_then(|b| b.as_str())
        .unwrap_or("/");
    let routes = http.iter().filter_map(|t| match &t.route {
        RouteSpec::Path(p) => Some((p.clone(), ())),
        RouteSpec::Private { .. } => None,
    });
    Router::build(base, routes).map_err(|e| AppError::Invalid(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locked(triggers: &str) -> LockedApp {
        LockedApp::from_json(
            format!(
                r#"{{"spin_lock_version": 0, "triggers": [{triggers}],
                "components": [{{"id": "a", "source": {{"content_type": "application/wasm", "inline": "AGFzbQEAAAA="}}}}]}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn trigger_settings_are_checked_for_every_app() {
        let cases = [
            (
                r#"{"id": "t", "trigger_type": "http", "trigger_config": {"component": "a"}}"#,
                "route",
            ),
            (
                r#"{"id": "t", "trigger_type": "http", "trigger_config": {"route": "/a/.../b", "component": "a"}}"#,
                "wildcard",
            ),
            (
                r#"{"id": "t", "trigger_type": "redis", "trigger_config": {"component": "a"}}"#,
                "channel",
            ),
        ];
        for (trigger, expected) in cases {
            let err = validate_triggers(&locked(trigger)).unwrap_err().to_string();
            assert!(err.contains(expected), "{trigger}: {err}");
        }
        let ok = r#"{"id": "t", "trigger_type": "http", "trigger_config": {"route": "/...", "component": "a"}}"#;
        validate_triggers(&locked(ok)).unwrap();
    }

    #[test]
    fn an_app_without_triggers_says_what_to_add() {
        let app =
            LockedApp::from_json(br#"{"spin_lock_version": 0, "triggers": [], "components": []}"#)
                .unwrap();
        let opts = LaunchOptions {
            services: ServiceOptions::default(),
            engine: EngineConfig {
                cache_dir: None,
                pooling: false,
                ..Default::default()
            },
            redis_concurrency: 1,
        };
        let err = AppHost::build(&app, &opts).err().unwrap().to_string();
        assert!(err.contains("[[trigger.http]]"), "{err}");
    }
}
