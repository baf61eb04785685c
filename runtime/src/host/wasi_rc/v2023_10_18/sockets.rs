//! wasi:sockets. TCP maps onto 0.2 with renamed options (options 0.2 dropped
//! answer `not-supported`); UDP was redesigned around datagram streams
//! before 0.2 and is not offered: `create-udp-socket` answers `not-supported`.

use wasmtime::component::Resource;
use wasmtime_wasi::p2::SocketError;
use wasmtime_wasi::sockets::WasiSocketsView as _;

use super::bindings::wasi;
use crate::host::wasi_rc::{latest, UnsupportedUdpSocket};
use crate::host::InstanceState;
use latest::io::poll::Pollable;
use latest::io::streams::{InputStream, OutputStream};
use latest::sockets::network::ErrorCode::NotSupported;
use latest::sockets::tcp::TcpSocket;
use wasi::sockets::network::{IpAddress, IpAddressFamily, IpSocketAddress};

type SocketResult<T> = Result<T, SocketError>;

shared_socket_impls!(wasi);

impl wasi::sockets::network::Host for InstanceState {
    fn convert_error_code(
        &mut self,
        err: SocketError,
    ) -> wasmtime::Result<wasi::sockets::network::ErrorCode> {
        Ok(err.downcast()?.into())
    }
}

impl wasi::sockets::ip_name_lookup::Host for InstanceState {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
        _family: Option<IpAddressFamily>,
        _include_unavailable: bool,
    ) -> SocketResult<Resource<latest::sockets::ip_name_lookup::ResolveAddressStream>> {
        latest::sockets::ip_name_lookup::Host::resolve_addresses(
            &mut self.name_lookup(),
            network,
            name,
        )
    }
}

impl wasi::sockets::ip_name_lookup::HostResolveAddressStream for InstanceState {
    fn resolve_next_address(
        &mut self,
        s: Resource<latest::sockets::ip_name_lookup::ResolveAddressStream>,
    ) -> SocketResult<Option<IpAddress>> {
        let addr = latest::sockets::ip_name_lookup::HostResolveAddressStream::resolve_next_address(
            &mut self.sockets(),
            s,
        )?;
        Ok(addr.map(Into::into))
    }

    fn subscribe(
        &mut self,
        s: Resource<latest::sockets::ip_name_lookup::ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<Pollable>> {
        latest::sockets::ip_name_lookup::HostResolveAddressStream::subscribe(&mut self.sockets(), s)
    }

    fn drop(
        &mut self,
        s: Resource<latest::sockets::ip_name_lookup::ResolveAddressStream>,
    ) -> wasmtime::Result<()> {
        latest::sockets::ip_name_lookup::HostResolveAddressStream::drop(&mut self.sockets(), s)
    }
}

impl wasi::sockets::tcp::Host for InstanceState {}

impl wasi::sockets::tcp::HostTcpSocket for InstanceState {
    async fn start_bind(
        &mut self,
        s: Resource<TcpSocket>,
        network: Resource<Network>,
        local: IpSocketAddress,
    ) -> SocketResult<()> {
        latest::sockets::tcp::HostTcpSocket::start_bind(
            &mut self.sockets(),
            s,
            network,
            local.into(),
        )
        .await
    }

    fn finish_bind(&mut self, s: Resource<TcpSocket>) -> SocketResult<()> {
        latest::sockets::tcp::HostTcpSocket::finish_bind(&mut self.sockets(), s)
    }

    fn start_connect(
        &mut self,
        s: Resource<TcpSocket>,
        network: Resource<Network>,
        remote: IpSocketAddress,
    ) -> SocketResult<()> {
        latest::sockets::tcp::HostTcpSocket::start_connect(
            &mut self.sockets(),
            s,
            network,
            remote.into(),
        )
    }

    fn finish_connect(
        &mut self,
        s: Resource<TcpSocket>,
    ) -> SocketResult<(Resource<InputStream>, Resource<OutputStream>)> {
        latest::sockets::tcp::HostTcpSocket::finish_connect(&mut self.sockets(), s)
    }

    async fn start_listen(&mut self, s: Resource<TcpSocket>) -> SocketResult<()> {
        latest::sockets::tcp::HostTcpSocket::start_listen(&mut self.sockets(), s).await
    }

    fn finish_listen(&mut self, s: Resource<TcpSocket>) -> SocketResult<()> {
        latest::sockets::tcp::HostTcpSocket::finish_listen(&mut self.sockets(), s)
    }

    fn accept(
        &mut self,
        s: Resource<TcpSocket>,
    ) -> SocketResult<(
        Resource<TcpSocket>,
        Resource<InputStream>,
        Resource<OutputStream>,
    )> {
        latest::sockets::tcp::HostTcpSocket::accept(&mut self.sockets(), s)
    }

    fn local_address(&mut self, s: Resource<TcpSocket>) -> SocketResult<IpSocketAddress> {
        Ok(latest::sockets::tcp::HostTcpSocket::local_address(&mut self.sockets(), s)?.into())
    }

    fn remote_address(&mut self, s: Resource<TcpSocket>) -> SocketResult<IpSocketAddress> {
        Ok(latest::sockets::tcp::HostTcpSocket::remote_address(&mut self.sockets(), s)?.into())
    }

    fn address_family(&mut self, s: Resource<TcpSocket>) -> wasmtime::Result<IpAddressFamily> {
        Ok(latest::sockets::tcp::HostTcpSocket::address_family(&mut self.sockets(), s)?.into())
    }

    fn ipv6_only(&mut self, _s: Resource<TcpSocket>) -> SocketResult<bool> {
        Err(NotSupported.into())
    }

    fn set_ipv6_only(&mut self, _s: Resource<TcpSocket>, _value: bool) -> SocketResult<()> {
        Err(NotSupported.into())
    }

    fn set_listen_backlog_size(&mut self, s: Resource<TcpSocket>, value: u64) -> SocketResult<()> {
        latest::sockets::tcp::HostTcpSocket::set_listen_backlog_size(&mut self.sockets(), s, value)
    }

    fn keep_alive(&mut self, s: Resource<TcpSocket>) -> SocketResult<bool> {
        latest::sockets::tcp::HostTcpSocket::keep_alive_enabled(&mut self.sockets(), s)
    }

    fn set_keep_alive(&mut self, s: Resource<TcpSocket>, value: bool) -> SocketResult<()> {
        latest::sockets::tcp::HostTcpSocket::set_keep_alive_enabled(&mut self.sockets(), s, value)
    }

    fn no_delay(&mut self, _s: Resource<TcpSocket>) -> SocketResult<bool> {
        Err(NotSupported.into())
    }

    fn set_no_delay(&mut self, _s: Resource<TcpSocket>, _value: bool) -> SocketResult<()> {
        Err(NotSupported.into())
    }

    fn unicast_hop_limit(&mut self, s: Resource<TcpSocket>) -> SocketResult<u8> {
        latest::sockets::tcp::HostTcpSocket::hop_limit(&mut self.sockets(), s)
    }

    fn set_unicast_hop_limit(&mut self, s: Resource<TcpSocket>, value: u8) -> SocketResult<()> {
        latest::sockets::tcp::HostTcpSocket::set_hop_limit(&mut self.sockets(), s, value)
    }

    fn receive_buffer_size(&mut self, s: Resource<TcpSocket>) -> SocketResult<u64> {
        latest::sockets::tcp::HostTcpSocket::receive_buffer_size(&mut self.sockets(), s)
    }

    fn set_receive_buffer_size(&mut self, s: Resource<TcpSocket>, value: u64) -> SocketResult<()> {
        latest::sockets::tcp::HostTcpSocket::set_receive_buffer_size(&mut self.sockets(), s, value)
    }

    fn send_buffer_size(&mut self, s: Resource<TcpSocket>) -> SocketResult<u64> {
        latest::sockets::tcp::HostTcpSocket::send_buffer_size(&mut self.sockets(), s)
    }

    fn set_send_buffer_size(&mut self, s: Resource<TcpSocket>, value: u64) -> SocketResult<()> {
        latest::sockets::tcp::HostTcpSocket::set_send_buffer_size(&mut self.sockets(), s, value)
    }

    fn subscribe(&mut self, s: Resource<TcpSocket>) -> wasmtime::Result<Resource<Pollable>> {
        latest::sockets::tcp::HostTcpSocket::subscribe(&mut self.sockets(), s)
    }

    fn shutdown(
        &mut self,
        s: Resource<TcpSocket>,
        how: wasi::sockets::tcp::ShutdownType,
    ) -> SocketResult<()> {
        latest::sockets::tcp::HostTcpSocket::shutdown(&mut self.sockets(), s, how.into())
    }

    fn drop(&mut self, s: Resource<TcpSocket>) -> wasmtime::Result<()> {
        latest::sockets::tcp::HostTcpSocket::drop(&mut self.sockets(), s)
    }
}

impl wasi::sockets::udp_create_socket::Host for InstanceState {
    fn create_udp_socket(
        &mut self,
        _family: IpAddressFamily,
    ) -> SocketResult<Resource<UnsupportedUdpSocket>> {
        Err(NotSupported.into())
    }
}

impl wasi::sockets::udp::Host for InstanceState {}

/// Unreachable: no `udp-socket` handle can exist (see `create-udp-socket`).
const NO_UDP: &str = "rc-2023-10-18 UDP sockets are not supported";

impl wasi::sockets::udp::HostUdpSocket for InstanceState {
    fn start_bind(
        &mut self,
        _s: Resource<UnsupportedUdpSocket>,
        _network: Resource<Network>,
        _local: IpSocketAddress,
    ) -> SocketResult<()> {
        Err(NotSupported.into())
    }

    fn finish_bind(&mut self, _s: Resource<UnsupportedUdpSocket>) -> SocketResult<()> {
        Err(NotSupported.into())
    }

    fn start_connect(
        &mut self,
        _s: Resource<UnsupportedUdpSocket>,
        _network: Resource<Network>,
        _remote: IpSocketAddress,
    ) -> SocketResult<()> {
        Err(NotSupported.into())
    }

    fn finish_connect(&mut self, _s: Resource<UnsupportedUdpSocket>) -> SocketResult<()> {
        Err(NotSupported.into())
    }

    fn receive(
        &mut self,
        _s: Resource<UnsupportedUdpSocket>,
        _max: u64,
    ) -> SocketResult<Vec<wasi::sockets::udp::Datagram>> {
        Err(NotSupported.into())
    }

    fn send(
        &mut self,
        _s: Resource<UnsupportedUdpSocket>,
        _datagrams: Vec<wasi::sockets::udp::Datagram>,
    ) -> SocketResult<u64> {
        Err(NotSupported.into())
    }

    fn local_address(
        &mut self,
        _s: Resource<UnsupportedUdpSocket>,
    ) -> SocketResult<IpSocketAddress> {
        Err(NotSupported.into())
    }

    fn remote_address(
        &mut self,
        _s: Resource<UnsupportedUdpSocket>,
    ) -> SocketResult<IpSocketAddress> {
        Err(NotSupported.into())
    }

    fn address_family(
        &mut self,
        _s: Resource<UnsupportedUdpSocket>,
    ) -> wasmtime::Result<IpAddressFamily> {
        wasmtime::bail!("{NO_UDP}")
    }

    fn ipv6_only(&mut self, _s: Resource<UnsupportedUdpSocket>) -> SocketResult<bool> {
        Err(NotSupported.into())
    }

    fn set_ipv6_only(
        &mut self,
        _s: Resource<UnsupportedUdpSocket>,
        _value: bool,
    ) -> SocketResult<()> {
        Err(NotSupported.into())
    }

    fn unicast_hop_limit(&mut self, _s: Resource<UnsupportedUdpSocket>) -> SocketResult<u8> {
        Err(NotSupported.into())
    }

    fn set_unicast_hop_limit(
        &mut self,
        _s: Resource<UnsupportedUdpSocket>,
        _value: u8,
    ) -> SocketResult<()> {
        Err(NotSupported.into())
    }

    fn receive_buffer_size(&mut self, _s: Resource<UnsupportedUdpSocket>) -> SocketResult<u64> {
        Err(NotSupported.into())
    }

    fn set_receive_buffer_size(
        &mut self,
        _s: Resource<UnsupportedUdpSocket>,
        _value: u64,
    ) -> SocketResult<()> {
        Err(NotSupported.into())
    }

    fn send_buffer_size(&mut self, _s: Resource<UnsupportedUdpSocket>) -> SocketResult<u64> {
        Err(NotSupported.into())
    }

    fn set_send_buffer_size(
        &mut self,
        _s: Resource<UnsupportedUdpSocket>,
        _value: u64,
    ) -> SocketResult<()> {
        Err(NotSupported.into())
    }

    fn subscribe(
        &mut self,
        _s: Resource<UnsupportedUdpSocket>,
    ) -> wasmtime::Result<Resource<Pollable>> {
        wasmtime::bail!("{NO_UDP}")
    }

    fn drop(&mut self, _s: Resource<UnsupportedUdpSocket>) -> wasmtime::Result<()> {
        wasmtime::bail!("{NO_UDP}")
    }
}
