//! wasi:sockets behind `allowed_outbound_hosts`: TCP connects and UDP traffic go through
//! wasmtime-wasi's socket address check, name lookups through a gate in front of
//! wasmtime-wasi's resolver (p2, the 2023 release candidates and p3). Both ask the allow-list
//! module, so sockets follow the same rules as HTTP, Redis and the database APIs.

use std::net::IpAddr;
use std::sync::Arc;

use wasmtime::component::{Accessor, HasData, Linker, Resource};
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup as p2_lookup;
use wasmtime_wasi::p2::bindings::sockets::network::{ErrorCode, IpAddress, Network};
use wasmtime_wasi::p2::SocketError;
use wasmtime_wasi::p3::bindings::sockets::ip_name_lookup as p3_lookup;
use wasmtime_wasi::sockets::WasiSocketsCtxView;
use wasmtime_wasi::WasiCtxBuilder;

use crate::host::InstanceState;
use crate::outbound::allowed_hosts::{log_denied, AllowedHosts, SocketDenied};

/// Lets wasi:sockets use exactly what `allowed` grants. TCP and UDP are switched on only for
/// components with a non-empty list (a component without one gets `access-denied` at
/// socket creation, before any address is tried).
pub fn configure(builder: &mut WasiCtxBuilder, component: Arc<str>, allowed: Arc<AllowedHosts>) {
    let any = !allowed.is_empty();
    builder
        .allow_tcp(any)
        .allow_udp(any)
        // Per name, see `NameLookupGate`; wasmtime's own switch only has to be on.
        .allow_ip_name_lookup(any);
    builder.socket_addr_check(move |addr, use_| {
        let verdict = allowed.check_socket(addr, use_);
        if let Err(SocketDenied::NotGranted {
            address,
            suggestion,
        }) = &verdict
        {
            log_denied(&component, "socket", address, suggestion);
        }
        Box::pin(std::future::ready(verdict.is_ok()))
    });
}

/// What the name-lookup gate sees of an instance.
pub struct NameLookupGate<'a> {
    inner: WasiSocketsCtxView<'a>,
    component: &'a str,
    allowed: &'a AllowedHosts,
}

impl NameLookupGate<'_> {
    /// Whether `name` may be resolved; logs the grant to add when not.
    fn permits(&self, name: &str) -> bool {
        let allowed = self.allowed.allows_name_lookup(name);
        if !allowed {
            tracing::warn!(
                component = %self.component,
                "name lookup of {name:?} denied: add an entry naming the host, such as \"tcp://{name}:PORT\", to `allowed_outbound_hosts` in the component's spin.toml section"
            );
        }
        allowed
    }
}

impl InstanceState {
    pub(crate) fn name_lookup(&mut self) -> NameLookupGate<'_> {
        let component = &*self.component_id;
        let allowed = &*self.grants.allowed_hosts;
        let inner = WasiSocketsCtxView {
            ctx: self.wasi.sockets(),
            table: &mut self.table,
        };
        NameLookupGate {
            inner,
            component,
            allowed,
        }
    }
}

struct Gated;

impl HasData for Gated {
    type Data<'a> = NameLookupGate<'a>;
}

// The lookup's errors are `wasi:sockets/network` errors: converted by wasmtime's code.
impl wasmtime_wasi::p2::bindings::sockets::network::Host for NameLookupGate<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        wasmtime_wasi::p2::bindings::sockets::network::Host::convert_error_code(
            &mut self.inner,
            error,
        )
    }

    fn network_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        wasmtime_wasi::p2::bindings::sockets::network::Host::network_error_code(
            &mut self.inner,
            err,
        )
    }
}

impl wasmtime_wasi::p2::bindings::sockets::network::HostNetwork for NameLookupGate<'_> {
    fn drop(&mut self, network: Resource<Network>) -> wasmtime::Result<()> {
        wasmtime_wasi::p2::bindings::sockets::network::HostNetwork::drop(&mut self.inner, network)
    }
}

impl p2_lookup::Host for NameLookupGate<'_> {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> Result<Resource<p2_lookup::ResolveAddressStream>, SocketError> {
        if !self.permits(&name) {
            return Err(ErrorCode::AccessDenied.into());
        }
        p2_lookup::Host::resolve_addresses(&mut self.inner, network, name)
    }
}

impl p2_lookup::HostResolveAddressStream for NameLookupGate<'_> {
    fn resolve_next_address(
        &mut self,
        stream: Resource<p2_lookup::ResolveAddressStream>,
    ) -> Result<Option<IpAddress>, SocketError> {
        p2_lookup::HostResolveAddressStream::resolve_next_address(&mut self.inner, stream)
    }

    fn subscribe(
        &mut self,
        stream: Resource<p2_lookup::ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<wasmtime_wasi::p2::DynPollable>> {
        p2_lookup::HostResolveAddressStream::subscribe(&mut self.inner, stream)
    }

    fn drop(&mut self, stream: Resource<p2_lookup::ResolveAddressStream>) -> wasmtime::Result<()> {
        p2_lookup::HostResolveAddressStream::drop(&mut self.inner, stream)
    }
}

impl p3_lookup::Host for NameLookupGate<'_> {}

impl<U> p3_lookup::HostWithStore<U> for Gated {
    async fn resolve_addresses(
        store: &Accessor<U, Self>,
        name: String,
    ) -> wasmtime::Result<Result<Vec<p3_lookup::IpAddress>, p3_lookup::ErrorCode>> {
        if !store.with(|mut view| view.get().permits(&name)) {
            return Ok(Err(p3_lookup::ErrorCode::AccessDenied));
        }
        Ok(resolve(&name)
            .await
            .map(|ips| ips.into_iter().map(Into::into).collect()))
    }
}

/// wasmtime-wasi's p3 resolver (crate-private there): literals as they are, names through
/// the system resolver.
async fn resolve(name: &str) -> Result<Vec<IpAddr>, p3_lookup::ErrorCode> {
    let domain = match url::Host::parse(name) {
        Ok(url::Host::Domain(d)) => d,
        Ok(url::Host::Ipv4(ip)) => return Ok(vec![IpAddr::V4(ip)]),
        Ok(url::Host::Ipv6(ip)) => return Ok(vec![IpAddr::V6(ip)]),
        Err(_) => match name.parse::<std::net::Ipv6Addr>() {
            Ok(ip) => return Ok(vec![IpAddr::V6(ip)]),
            Err(_) => return Err(p3_lookup::ErrorCode::InvalidArgument),
        },
    };
    let lookup = tokio::net::lookup_host((domain.as_str(), 0)).await;
    match lookup {
        Ok(addrs) => Ok(addrs.map(|a| a.ip().to_canonical()).collect()),
        Err(_) => Err(p3_lookup::ErrorCode::NameUnresolvable),
    }
}

/// Puts the gate in front of wasmtime-wasi's `ip-name-lookup` (defined before by
/// `add_to_linker`), for p2 and, on the concurrent engine, p3.
pub fn gate_name_lookup(linker: &mut Linker<InstanceState>, p3: bool) -> anyhow::Result<()> {
    linker.allow_shadowing(true);
    p2_lookup::add_to_linker::<_, Gated>(linker, InstanceState::name_lookup)?;
    if p3 {
        p3_lookup::add_to_linker::<_, Gated>(linker, InstanceState::name_lookup)?;
    }
    linker.allow_shadowing(false);
    Ok(())
}
