//! `wasi:http/handler@0.3.x` guests (spin-sdk 6/7 `#[http_service]`, WASI p3), served through
//! wasmtime-wasi-http's `ProxyHandler`: as in Spin 4, one instance serves up to
//! `max_requests` requests, `max_concurrent` at a time, and is dropped after `idle_timeout`
//! without work (each picked per instance from [`InstanceReuse`]); a trap drops it and fails only
//! the requests on it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use wasmtime::component::{GuestTaskId, InstancePre};
use wasmtime::{Store, StoreContextMut};
use wasmtime_wasi_http::handler::{
    ExpirationError, HandlerState, Instance, Proxy, ProxyHandler, ShouldAccept, WorkerExpiration,
    WorkerState, WorkerStatus,
};
use wasmtime_wasi_http::p3::bindings::ServicePre;
use wasmtime_wasi_http::{WasiHttpCtxView, WasiHttpView};

use super::cut_short::GuestFailure;
use super::{Body, ComponentContext, Invocation};
use crate::engine::{SpinEngine, FORWARDED_RC_HANDLER};
use crate::host::guest;
use crate::host::InstanceState;
use crate::http::reuse::InstanceReuse;

/// One instance's limits, picked from the engine's [`InstanceReuse`].
#[derive(Debug, Clone, Copy)]
struct Reuse {
    max_requests: usize,
    max_concurrent: usize,
    idle_timeout: Duration,
    /// Per request; `None` waits for ever.
    request_timeout: Option<Duration>,
}

impl Reuse {
    fn pick(settings: &InstanceReuse, request_timeout: Option<Duration>) -> Reuse {
        let r = random();
        Reuse {
            max_requests: settings.max_requests.pick(r),
            max_concurrent: settings.max_concurrent.pick(r.rotate_left(21)),
            idle_timeout: settings.idle_timeout.pick(r.rotate_left(42)),
            request_timeout,
        }
    }
}

/// Randomness enough to spread instance lifetimes: std's per-hasher random keys.
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

pub struct WasiHttpP3Executor {
    handler: ProxyHandler<Handler>,
    component: Arc<str>,
}

impl WasiHttpP3Executor {
    pub fn new(
        engine: &SpinEngine,
        ctx: ComponentContext,
        pre: InstancePre<InstanceState>,
    ) -> Result<Self> {
        // Spin runs `handler@0.3.0-rc-2026-03-15` (Python spin-sdk 4) in a fresh instance per
        // request; such a handler was renamed to 0.3.0 when compiled, and marked.
        let fresh_per_request = pre
            .component()
            .get_export_index(None, FORWARDED_RC_HANDLER)
            .is_some();
        let pre = ServicePre::new(pre)?;
        Ok(Self {
            component: ctx.id.clone(),
            handler: ProxyHandler::new(Handler {
                engine: engine.clone(),
                ctx,
                pre,
                fresh_per_request,
            }),
        })
    }

    pub async fn execute(&self, inv: Invocation) -> Result<hyper::Response<Body>> {
        let failure = GuestFailure::new(self.component.clone(), inv.request.uri().path());
        let request = with_absolute_uri(inv.request, inv.scheme);
        let response = self.handler.handle(failure.clone(), request).await;
        let response = response.map_err(|e| {
            if e.downcast_ref::<ExpirationError>().is_some() {
                anyhow!("the guest did not answer within the request timeout")
            } else {
                anyhow!(e)
            }
        })?;
        failure.hand_over(response).await
    }
}

/// The p3 request carries its scheme and authority in the URI (p2 gets them on the side).
fn with_absolute_uri<B>(request: hyper::Request<B>, scheme: &str) -> hyper::Request<B> {
    let (mut parts, body) = request.into_parts();
    if parts.uri.scheme().is_none() {
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        if let Ok(uri) = format!("{scheme}://{host}{path}").parse() {
            parts.uri = uri;
        }
    }
    hyper::Request::from_parts(parts, body)
}

struct Handler {
    engine: SpinEngine,
    ctx: ComponentContext,
    pre: ServicePre<InstanceState>,
    fresh_per_request: bool,
}

impl HandlerState for Handler {
    type StoreData = InstanceState;
    type WorkerExpiration = Expiration;
    type WorkerState = Worker;

    async fn instantiate(&self) -> wasmtime::Result<Instance<InstanceState, Expiration, Worker>> {
        let mut store =
            guest::new_store(&self.engine, &self.ctx).map_err(wasmtime::Error::from_anyhow)?;
        let service = self.pre.instantiate_async(&mut store).await?;
        let config = self.engine.config();
        let mut reuse = Reuse::pick(&config.instance_reuse, config.execution_timeout);
        if self.fresh_per_request {
            reuse.max_requests = 1;
        }
        Ok(Instance {
            store,
            proxy: Proxy::P3(service),
            view: http_view,
            expiration: Expiration { reuse, timer: None },
            state: Worker {
                reuse,
                engine: self.engine.clone(),
                requests: Mutex::default(),
            },
        })
    }
}

fn http_view(state: &mut InstanceState) -> WasiHttpCtxView<'_> {
    state.http()
}

struct Worker {
    reuse: Reuse,
    engine: SpinEngine,
    /// The requests this instance has taken whose responses may still be streaming: told when
    /// the instance fails, so that their bodies end cut short.
    requests: Mutex<Vec<Weak<GuestFailure>>>,
}

impl WorkerState for Worker {
    type StoreData = InstanceState;
    type RequestData = Arc<GuestFailure>;

    fn should_accept_request(&self, concurrent: usize, total: usize) -> ShouldAccept {
        if total >= self.reuse.max_requests {
            ShouldAccept::Never
        } else if concurrent >= self.reuse.max_concurrent {
            ShouldAccept::No
        } else {
            ShouldAccept::Yes
        }
    }

    fn on_request_start(
        &self,
        _store: StoreContextMut<'_, InstanceState>,
        request: Arc<GuestFailure>,
        _task: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
        let mut requests = self.requests.lock().unwrap();
        requests.retain(|r| r.strong_count() > 0);
        requests.push(Arc::downgrade(&request));
        drop(requests);
        match self.reuse.request_timeout {
            Some(limit) => Box::pin(tokio::time::sleep(limit)),
            None => Box::pin(std::future::pending()),
        }
    }

    fn drop(&self, store: Store<InstanceState>, result: wasmtime::Result<()>) {
        if let Err(e) = result {
            let e = guest::explain_failure(
                e,
                store.data().memory_limit_exceeded(),
                self.engine.config().max_instance_memory,
            );
            // While the store (and with it the bodies' senders) still lives.
            for request in self.requests.lock().unwrap().iter() {
                if let Some(request) = request.upgrade() {
                    request.failed(&e);
                }
            }
            tracing::error!("a reused instance failed and was dropped: {e:#}");
        }
    }
}

/// Drops an instance idle for [`Reuse::idle_timeout`], or whose newest request has run past the
/// request timeout (checked outside the guest's event loop, which a busy guest can block).
struct Expiration {
    reuse: Reuse,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl WorkerExpiration for Expiration {
    fn poll(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        status: WorkerStatus,
        start: Instant,
    ) -> Poll<()> {
        let limit = match status {
            WorkerStatus::Idle => Some(self.reuse.idle_timeout),
            WorkerStatus::Requests | WorkerStatus::PostReturn => self.reuse.request_timeout,
        };
        let Some(limit) = limit else {
            return Poll::Pending;
        };
        let deadline = tokio::time::Instant::from_std(start + limit);
        let this = self.get_mut();
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        timer.as_mut().poll(cx)
    }
}
