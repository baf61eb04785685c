//! The Spin HTTP trigger: routes requests to components (or static
//! responses) and runs them with the right executor.

pub mod config;
pub mod connection;
pub mod executor;
pub mod reuse;
pub mod routing;
pub mod server;
pub mod spin_headers;
mod wellknown;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use http::{HeaderName, HeaderValue, StatusCode};
use http_body_util::BodyExt;

pub use config::{HttpTriggerConfig, RouteSpec, StaticResponse};
use executor::{full_body, Body, Executor, Invocation, RequestBody, WagiRequest};
use routing::Router;

use crate::engine::SpinEngine;
use crate::host::loader::ComponentLoader;
use crate::outbound::http::{LocalHttp, LocalTarget};

#[derive(Clone)]
enum Target {
    Handler(usize),
    Static(StaticResponse),
}

/// What a route leads to, and the name `spinkube up` prints for it.
#[derive(Clone)]
struct RouteEntry {
    label: String,
    target: Target,
}

struct Handler {
    component_id: Arc<str>,
    executor: Executor,
}

/// A route as `spin up` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// The component id, or the trigger id for a static response.
    pub label: String,
    /// Path without the trailing `/...`.
    pub path: String,
    /// Whether the route ends in `/...` and matches every path below it.
    pub wildcard: bool,
}

/// Connection facts the handler needs for Spin's request headers.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    /// `"http"` or `"https"`.
    pub scheme: &'static str,
    /// The client's address.
    pub client_addr: SocketAddr,
    /// The address the server accepted the connection on.
    pub local_addr: SocketAddr,
}

/// The HTTP trigger of one app: its router and a pre-instantiated handler per component.
pub struct HttpTrigger {
    router: Router<RouteEntry>,
    /// Per component, for local service chaining (`http://<id>.spin.internal/...`):
    /// its own routes, private ones included.
    chain_routers: HashMap<String, Router<RouteEntry>>,
    base: String,
    handlers: Vec<Handler>,
    app_name: String,
    engine: SpinEngine,
}

impl HttpTrigger {
    /// Compiles (through `loader`) and pre-instantiates every HTTP component of the app, and
    /// registers the trigger for in-process service chaining.
    pub fn new(loader: &mut ComponentLoader) -> Result<Arc<Self>> {
        let trigger = Arc::new(Self::build(loader)?);
        let local: Arc<dyn LocalHttp> = trigger.clone();
        let _ = loader.services().local_http.set(Arc::downgrade(&local));
        Ok(trigger)
    }

    fn build(loader: &mut ComponentLoader) -> Result<Self> {
        let app = loader.app();
        let configs = HttpTriggerConfig::from_app(app)?;
        let base = app
            .trigger_settings("http")
            .and_then(|s| s.get("base"))
            .and_then(|b| b.as_str())
            .unwrap_or("/")
            .to_string();
        let mut handlers = Vec::new();
        let mut routes = Vec::new();
        let mut chain_routes: HashMap<String, Vec<(String, RouteEntry)>> = HashMap::new();
        for cfg in configs {
            let target = match (&cfg.component, &cfg.static_response) {
                (_, Some(s)) => Target::Static(s.clone()),
                (Some(id), None) => {
                    let handler = load_handler(loader, id, &cfg)
                        .with_context(|| format!("component `{id}` (HTTP trigger `{}`)", cfg.id))?;
                    handlers.push(handler);
                    Target::Handler(handlers.len() - 1)
                }
                (None, None) => continue, // rejected by HttpTriggerConfig::from_app
            };
            let label = cfg.component.clone().unwrap_or_else(|| cfg.id.clone());
            let entry = RouteEntry { label, target };
            if let Some(component) = &cfg.component {
                let route = match &cfg.route {
                    RouteSpec::Path(route) => route.clone(),
                    RouteSpec::Private { .. } => "/...".to_string(),
                };
                chain_routes
                    .entry(component.clone())
                    .or_default()
                    .push((route, entry.clone()));
            }
            if let RouteSpec::Path(route) = &cfg.route {
                routes.push((route.clone(), entry));
            }
        }
        let (router, duplicates) = Router::build(&base, routes)?;
        for d in duplicates {
            tracing::warn!("{d}");
        }
        let chain_routers = chain_routes
            .into_iter()
            .map(|(component, routes)| Ok((component, Router::build("/", routes)?.0)))
            .collect::<Result<_>>()?;
        Ok(Self {
            router,
            chain_routers,
            base,
            handlers,
            app_name: app.name().unwrap_or("app").to_string(),
            engine: loader.engine().clone(),
        })
    }

    /// The public routes, for `spin up`-style listing at startup.
    pub fn routes(&self) -> Vec<RouteInfo> {
        self.router
            .routes()
            .map(|(route, entry)| {
                let wildcard = route.ends_with("/...");
                let path = route.strip_suffix("/...").unwrap_or(route);
                let path = if path.is_empty() { "" } else { path };
                RouteInfo {
                    label: entry.label.clone(),
                    path: path.to_string(),
                    wildcard,
                }
            })
            .collect()
    }

    /// Answers one request; never fails: guest errors become a 500 and a log line.
    pub async fn handle<B>(&self, req: hyper::Request<B>, conn: ConnInfo) -> hyper::Response<Body>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let req = req.map(|b| b.map_err(Into::into).boxed_unsync());
        if req.uri().path() == "*" {
            return asterisk_response(req.method());
        }
        if let Some(resp) = wellknown::respond(req.uri().path(), &self.app_name) {
            return resp;
        }
        self.dispatch(&self.router, &self.base, req, conn).await
    }

    /// A request from a component to `http://<component>.spin.internal/...`:
    /// served in-process by that component, private routes included.
    pub async fn handle_chained(
        &self,
        component: &str,
        req: hyper::Request<RequestBody>,
        conn: ConnInfo,
    ) -> hyper::Response<Body> {
        match self.chain_routers.get(component) {
            Some(router) => self.dispatch(router, "/", req, conn).await,
            None => status_response(StatusCode::NOT_FOUND),
        }
    }

    async fn dispatch(
        &self,
        router: &Router<RouteEntry>,
        base: &str,
        req: hyper::Request<RequestBody>,
        conn: ConnInfo,
    ) -> hyper::Response<Body> {
        let path = req.uri().path().to_string();
        let Some(m) = router.route(&path) else {
            return status_response(StatusCode::NOT_FOUND);
        };
        let index = match &m.target.target {
            Target::Static(s) => return static_response(s),
            Target::Handler(i) => *i,
        };
        let handler = &self.handlers[index];
        let (parts, body) = req.into_parts();
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| conn.local_addr.to_string());
        let path_and_query = parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str().to_string())
            .unwrap_or_else(|| path.clone());
        let info = spin_headers::RequestInfo {
            scheme: conn.scheme,
            host: &host,
            path_and_query: &path_and_query,
            client_addr: conn.client_addr,
        };
        let (mut parts, body, wagi) = if matches!(handler.executor, Executor::Wagi(_)) {
            let wagi = match WagiRequest::from_http(&m, base, &info, &parts, body).await {
                Ok(wagi) => wagi,
                Err(e) => {
                    tracing::warn!("reading request body for {path}: {e}");
                    return status_response(StatusCode::BAD_REQUEST);
                }
            };
            let empty = http_body_util::Empty::new().map_err(|never| match never {});
            (parts, empty.boxed_unsync(), Some(wagi))
        } else {
            (parts, body.boxed_unsync(), None)
        };
        stamp_spin_headers(&mut parts.headers, &m, base, &info);
        // wasi:http guests see an absolute URI, as on Spin.
        if let Ok(uri) = format!("{}://{host}{path_and_query}", conn.scheme).parse() {
            parts.uri = uri;
        }
        tracing::debug!(component = %handler.component_id, "dispatching {} {path}", parts.method);
        let inv = Invocation {
            request: hyper::Request::from_parts(parts, body),
            scheme: conn.scheme,
            client_addr: conn.client_addr,
            wagi,
        };
        self.execute(handler, inv, &path).await
    }

    /// Runs the guest; a failure becomes a 500 and a log line that says why.
    async fn execute(
        &self,
        handler: &Handler,
        inv: Invocation,
        path: &str,
    ) -> hyper::Response<Body> {
        let result = match self.engine.config().execution_timeout {
            // Backstop for time spent outside guest code (the epoch deadline covers guest code).
            Some(limit) => {
                match tokio::time::timeout(limit * 2, handler.executor.execute(inv)).await {
                    Ok(r) => r,
                    Err(_) => Err(anyhow::anyhow!("timed out after {limit:?}")),
                }
            }
            None => handler.executor.execute(inv).await,
        };
        match result {
            Ok(resp) => resp,
            Err(e) => {
                let timeout = e
                    .downcast_ref::<wasmtime::Trap>()
                    .is_some_and(|t| *t == wasmtime::Trap::Interrupt);
                if timeout {
                    tracing::error!(component = %handler.component_id, "request to {path} timed out: the guest ran longer than the execution limit (--request-timeout) and was stopped");
                } else {
                    tracing::error!(component = %handler.component_id, "request to {path} failed: {e:#}");
                }
                status_response(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

/// Spin's headers are authoritative: any a client sent under `spin-` are replaced.
fn stamp_spin_headers(
    headers: &mut http::HeaderMap,
    m: &routing::RouteMatch<'_, RouteEntry>,
    base: &str,
    info: &spin_headers::RequestInfo<'_>,
) {
    let forged: Vec<HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("spin-"))
        .cloned()
        .collect();
    for k in forged {
        headers.remove(k);
    }
    let fields = spin_headers::spin_header_fields(m, base, info);
    headers.reserve(fields.len());
    for (name, value) in fields {
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(name, value);
        }
    }
}

/// Chained requests carry the caller's identity as loopback.
const LOCAL_CONN: ConnInfo = ConnInfo {
    scheme: "http",
    client_addr: SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0),
    local_addr: SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0),
};

impl LocalHttp for HttpTrigger {
    fn handle_local(
        self: Arc<Self>,
        target: LocalTarget,
        request: hyper::Request<RequestBody>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = hyper::Response<Body>> + Send>> {
        Box::pin(async move {
            match target {
                LocalTarget::App => self.handle(request, LOCAL_CONN).await,
                LocalTarget::Component(id) => self.handle_chained(&id, request, LOCAL_CONN).await,
            }
        })
    }
}

/// The executor that runs component `id` for the trigger `cfg`.
fn load_handler(
    loader: &mut ComponentLoader,
    id: &str,
    cfg: &HttpTriggerConfig,
) -> Result<Handler> {
    let executor = match &cfg.executor {
        Some(config::ExecutorConfig::Wagi(w)) => {
            let (module, ctx) = loader.module(id)?;
            Executor::wagi(loader.engine(), ctx, module, w.clone())?
        }
        _ => {
            let c = loader.component(id)?;
            Executor::for_component(&c.engine, c.linker, c.ctx, &c.component)?
        }
    };
    Ok(Handler {
        component_id: Arc::from(id),
        executor,
    })
}

/// A request for `*` (asterisk form) is about the server, not one of the app's resources:
/// `OPTIONS *` (a client probing what the server supports) is answered here, with the methods
/// the app's routes may take; no other method may use that form.
fn asterisk_response(method: &http::Method) -> hyper::Response<Body> {
    if method != http::Method::OPTIONS {
        return status_response(StatusCode::BAD_REQUEST);
    }
    let mut r = hyper::Response::new(full_body(""));
    r.headers_mut().insert(
        http::header::ALLOW,
        HeaderValue::from_static("OPTIONS, GET, HEAD, POST, PUT, PATCH, DELETE"),
    );
    r
}

fn status_response(status: StatusCode) -> hyper::Response<Body> {
    let mut r = hyper::Response::new(full_body(
        status.canonical_reason().unwrap_or("").to_string(),
    ));
    *r.status_mut() = status;
    r
}

fn static_response(s: &StaticResponse) -> hyper::Response<Body> {
    let mut builder = hyper::Response::builder().status(s.status_code.unwrap_or(200));
    for (k, v) in &s.headers {
        builder = builder.header(k, v);
    }
    builder
        .body(full_body(s.body.clone().unwrap_or_default()))
        .unwrap_or_else(|_| status_response(StatusCode::INTERNAL_SERVER_ERROR))
}
