//! Outbound HTTP from guests (`wasi:http/outgoing-handler`): the
//! `allowed_outbound_hosts` gate, and local service chaining / self requests
//! answered in-process without touching the network.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};

use wasmtime_wasi_http::{RequestOptions, WasiHttpHooks};

use super::allowed_hosts::{
    is_self_request_host, is_service_chaining_host, log_denied, AllowedHosts, OutboundTarget,
};

type WasiBody = wasmtime_wasi_http::WasiBody;
type IoFuture = Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>;
type SendFuture = Box<
    dyn Future<Output = wasmtime_wasi_http::Result<(http::Response<WasiBody>, IoFuture)>> + Send,
>;

/// Where an in-process request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalTarget {
    /// `http://self.alt/...` or a relative URL: the app's own routes.
    App,
    /// `http://<id>.spin.internal/...`: that component, private routes included.
    Component(String),
}

/// Something that can answer a request in-process (the HTTP trigger).
pub trait LocalHttp: Send + Sync {
    /// Answers `request` in-process for `target`, as if it had come over the network.
    fn handle_local(
        self: Arc<Self>,
        target: LocalTarget,
        request: http::Request<WasiBody>,
    ) -> Pin<Box<dyn Future<Output = http::Response<WasiBody>> + Send>>;
}

/// Set once the trigger exists (it owns the components that hold this).
pub type LocalHttpSlot = Arc<OnceLock<Weak<dyn LocalHttp>>>;

/// Per-instance hooks that wasmtime-wasi-http calls for every outgoing request.
pub struct OutboundHttpHooks {
    /// Component making the requests, for denial logs.
    pub component_id: Arc<str>,
    /// The component's `allowed_outbound_hosts`.
    pub allowed: Arc<AllowedHosts>,
    /// The HTTP trigger, once built, for service chaining and self requests.
    pub local: LocalHttpSlot,
}

/// The decision for one outgoing request; pure so it can be table-tested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Answered in-process: a self request or local service chaining.
    Local(LocalTarget),
    /// Allowed; sent over the network.
    Network,
    /// Not granted by `allowed_outbound_hosts`; `suggestion` is the entry that would allow it.
    Denied {
        /// The `allowed_outbound_hosts` entry that would allow the request.
        suggestion: String,
    },
}

/// Routes one outgoing request: denied unless allowed, then in-process for
/// `self.alt`/`<id>.spin.internal`, else the network.
pub fn decide(allowed: &AllowedHosts, scheme: &str, host: &str, port: Option<u16>) -> Route {
    let target = OutboundTarget::new(scheme, host, port);
    if !allowed.allows(&target) {
        return Route::Denied {
            suggestion: AllowedHosts::suggestion(&target),
        };
    }
    if is_self_request_host(host) {
        return Route::Local(LocalTarget::App);
    }
    match is_service_chaining_host(host) {
        Some(id) if id != "*" => Route::Local(LocalTarget::Component(id.to_string())),
        _ => Route::Network,
    }
}

fn deny_log(component: &str, scheme: &str, host: &str, port: Option<u16>, suggestion: &str) {
    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
    log_denied(
        component,
        "outbound HTTP",
        &format!("{scheme}://{host}{port}"),
        suggestion,
    );
}

/// Keeps a request body readable after the receiver is done with it: hyper
/// may finish a request (e.g. `content-length: 0`) before the guest has
/// finished writing, and a dropped body would make the guest's next write
/// fail with `closed`. The rest is drained into the void instead.
struct DrainOnDrop {
    inner: Option<WasiBody>,
}

impl http_body::Body for DrainOnDrop {
    type Data = bytes::Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        match self.inner.as_mut() {
            Some(b) => {
                let polled = Pin::new(b).poll_frame(cx);
                if let std::task::Poll::Ready(None) = polled {
                    self.inner = None;
                }
                polled
            }
            None => std::task::Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner
            .as_ref()
            .map(|b| b.size_hint())
            .unwrap_or_else(|| http_body::SizeHint::with_exact(0))
    }
}

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        if let (Some(mut body), Ok(rt)) = (self.inner.take(), tokio::runtime::Handle::try_current())
        {
            rt.spawn(async move {
                use http_body_util::BodyExt;
                while let Some(Ok(_)) = body.frame().await {}
            });
        }
    }
}

fn keep_body_open(request: http::Request<WasiBody>) -> http::Request<WasiBody> {
    request.map(|b| http_body_util::BodyExt::boxed_unsync(DrainOnDrop { inner: Some(b) }))
}

impl WasiHttpHooks for OutboundHttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> SendFuture {
        let request = keep_body_open(request);
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("http").to_string();
        let host = uri.host().unwrap_or_default().to_string();
        let port = uri.port_u16();
        match decide(&self.allowed, &scheme, &host, port) {
            Route::Denied { suggestion } => {
                deny_log(&self.component_id, &scheme, &host, port, &suggestion);
                Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
            }
            Route::Local(target) => {
                let local = self.local.get().and_then(Weak::upgrade);
                Box::new(async move {
                    let Some(local) = local else {
                        return Err(wasmtime_wasi_http::Error::DestinationNotFound);
                    };
                    let response = local.handle_local(target, request).await;
                    let io: IoFuture = Box::new(async { Ok(()) });
                    Ok((response, io))
                })
            }
            Route::Network => Box::new(async move {
                let (response, io) =
                    wasmtime_wasi_http::default_send_request(request, options).await?;
                let response = response.map(http_body_util::BodyExt::boxed_unsync);
                let io: IoFuture = Box::new(io);
                Ok((response, io))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(entries: &[&str]) -> AllowedHosts {
        let entries: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
        AllowedHosts::parse(&entries, &|s| Ok(s.to_string())).unwrap()
    }

    #[test]
    fn decides_network_local_or_denied() {
        let a = allowed(&[
            "https://api.example.com",
            "http://self",
            "http://*.spin.internal",
        ]);
        let cases: &[(&str, &str, Option<u16>, Route)] = &[
            ("https", "api.example.com", None, Route::Network),
            ("https", "api.example.com", Some(443), Route::Network),
            (
                "https",
                "api.example.com",
                Some(8443),
                Route::Denied {
                    suggestion: "https://api.example.com:8443".into(),
                },
            ),
            (
                "http",
                "api.example.com",
                None,
                Route::Denied {
                    suggestion: "http://api.example.com".into(),
                },
            ),
            ("http", "self.alt", None, Route::Local(LocalTarget::App)),
            (
                "http",
                "peer.spin.internal",
                None,
                Route::Local(LocalTarget::Component("peer".into())),
            ),
            (
                "https",
                "peer.spin.internal",
                None,
                Route::Denied {
                    suggestion: "https://peer.spin.internal".into(),
                },
            ),
        ];
        for (scheme, host, port, expected) in cases {
            assert_eq!(
                &decide(&a, scheme, host, *port),
                expected,
                "{scheme}://{host}:{port:?}"
            );
        }
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        let none = AllowedHosts::none();
        assert!(matches!(
            decide(&none, "https", "example.com", None),
            Route::Denied { .. }
        ));
        assert!(matches!(
            decide(&none, "http", "self.alt", None),
            Route::Denied { .. }
        ));
    }
}
