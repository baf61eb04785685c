//! wasi:sockets: the same shape as 0.2.0 except `ipv6-only`, which 0.2
//! dropped (its getters and setters answer `not-supported`).

use wasmtime::component::Resource;
use wasmtime_wasi::p2::SocketError;
use wasmtime_wasi::sockets::WasiSocketsView as _;

use super::bindings::wasi;
use crate::host::wasi_rc::latest;
use crate::host::InstanceState;
use latest::io::poll::Pollable;
use latest::io::streams::{InputStream, OutputStream};
use latest::sockets::ip_name_lookup::ResolveAddressStream;
use latest::sockets::network::ErrorCode::NotSupported;
use latest::sockets::tcp::TcpSocket;
use latest::sockets::udp::{IncomingDatagramStream, OutgoingDatagramStream, UdpSocket};
use wasi::sockets::network::{IpAddress, IpAddressFamily, IpSocketAddress};
use wasi::sockets::udp::{IncomingDatagram, OutgoingDatagram};

type SocketResult<T> = Result<T, SocketError>;

shared_socket_impls!(wasi);

convert! {
    struct latest::sockets::udp::IncomingDatagram => IncomingDatagram {
        data, remote_address,
    }
}

impl From<OutgoingDatagram> for latest::sockets::udp::OutgoingDatagram {
    fn from(d: OutgoingDatagram) -> Self {
        Self {
            data: d.data,
            remote_address: d.remote_address.map(Into::into),
        }
    }
}

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
    ) -> SocketResult<Resource<ResolveAddressStream>> {
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
        s: Resource<ResolveAddressStream>,
    ) -> SocketResult<Option<IpAddress>> {
        let addr = latest::sockets::ip_name_lookup::HostResolveAddressStream::resolve_next_address(
            &mut self.sockets(),
            s,
        )?;
        Ok(addr.map(Into::into))
    }

    fn subscribe(
        &mut self,
        s: Resource<ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<Pollable>> {
        latest::sockets::ip_name_lookup::HostResolveAddressStream::subscribe(&mut self.sockets(), s)
    }

    fn drop(&mut self, s: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
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

    fn is_listening(&mut self, s: Resource<TcpSocket>) -> wasmtime::Result<bool> {
        latest::sockets::tcp::HostTcpSocket::is_listening(&mut self.sockets(), s)
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

    fn keep_alive_enabled(&mut self, s: Resource<TcpSocket>) -> SocketResult<bool> {
        latest::sockets::tcp::HostTcpSocket::keep_alive_enabled(&mut self.sockets(), s)
    }

    fn set_keep_alive_enabled(&mut self, s: Resource<TcpSocket>, value: bool) -> SocketResult<()> {
        latest::sockets::tcp::HostTcpSocket::set_keep_alive_enabled(&mut self.sockets(), s, value)
    }

    fn keep_alive_idle_time(&mut self, s: Resource<TcpSocket>) -> SocketResult<u64> {
        latest::sockets::tcp::HostTcpSocket::keep_alive_idle_time(&mut self.sockets(), s)
    }

    fn set_keep_alive_idle_time(&mut self, s: Resource<TcpSocket>, value: u64) -> SocketResult<()> {
        latest::sockets::tcp::HostTcpSocket::set_keep_alive_idle_time(&mut self.sockets(), s, value)
    }

    fn keep_alive_interval(&mut self, s: Resource<TcpSocket>) -> SocketResult<u64> {
        latest::sockets::tcp::HostTcpSocket::keep_alive_interval(&mut self.sockets(), s)
    }

    fn set_keep_alive_interval(&mut self, s: Resource<TcpSocket>, value: u64) -> SocketResult<()> {
        latest::sockets::tcp::HostTcpSocket::set_keep_alive_interval(&mut self.sockets(), s, value)
    }

    fn keep_alive_count(&mut self, s: Resource<TcpSocket>) -> SocketResult<u32> {
        latest::sockets::tcp::HostTcpSocket::keep_alive_count(&mut self.sockets(), s)
    }

    fn set_keep_alive_count(&mut self, s: Resource<TcpSocket>, value: u32) -> SocketResult<()> {
        latest::sockets::tcp::HostTcpSocket::set_keep_alive_count(&mut self.sockets(), s, value)
    }

    fn hop_limit(&mut self, s: Resource<TcpSocket>) -> SocketResult<u8> {
        latest::sockets::tcp::HostTcpSocket::hop_limit(&mut self.sockets(), s)
    }

    fn set_hop_limit(&mut self, s: Resource<TcpSocket>, value: u8) -> SocketResult<()> {
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
    async fn create_udp_socket(
        &mut self,
        family: IpAddressFamily,
    ) -> SocketResult<Resource<UdpSocket>> {
        latest::sockets::udp_create_socket::Host::create_udp_socket(
            &mut self.sockets(),
            family.into(),
        )
        .await
    }
}

impl wasi::sockets::udp::Host for InstanceState {}

impl wasi::sockets::udp::HostUdpSocket for InstanceState {
    async fn start_bind(
        &mut self,
        s: Resource<UdpSocket>,
        network: Resource<Network>,
        local: IpSocketAddress,
    ) -> SocketResult<()> {
        latest::sockets::udp::HostUdpSocket::start_bind(
            &mut self.sockets(),
            s,
            network,
            local.into(),
        )
        .await
    }

    fn finish_bind(&mut self, s: Resource<UdpSocket>) -> SocketResult<()> {
        latest::sockets::udp::HostUdpSocket::finish_bind(&mut self.sockets(), s)
    }

    async fn stream(
        &mut self,
        s: Resource<UdpSocket>,
        remote: Option<IpSocketAddress>,
    ) -> SocketResult<(
        Resource<IncomingDatagramStream>,
        Resource<OutgoingDatagramStream>,
    )> {
        latest::sockets::udp::HostUdpSocket::stream(&mut self.sockets(), s, remote.map(Into::into))
            .await
    }

    fn local_address(&mut self, s: Resource<UdpSocket>) -> SocketResult<IpSocketAddress> {
        Ok(latest::sockets::udp::HostUdpSocket::local_address(&mut self.sockets(), s)?.into())
    }

    fn remote_address(&mut self, s: Resource<UdpSocket>) -> SocketResult<IpSocketAddress> {
        Ok(latest::sockets::udp::HostUdpSocket::remote_address(&mut self.sockets(), s)?.into())
    }

    fn address_family(&mut self, s: Resource<UdpSocket>) -> wasmtime::Result<IpAddressFamily> {
        Ok(latest::sockets::udp::HostUdpSocket::address_family(&mut self.sockets(), s)?.into())
    }

    fn ipv6_only(&mut self, _s: Resource<UdpSocket>) -> SocketResult<bool> {
        Err(NotSupported.into())
    }

    fn set_ipv6_only(&mut self, _s: Resource<UdpSocket>, _value: bool) -> SocketResult<()> {
        Err(NotSupported.into())
    }

    fn unicast_hop_limit(&mut self, s: Resource<UdpSocket>) -> SocketResult<u8> {
        latest::sockets::udp::HostUdpSocket::unicast_hop_limit(&mut self.sockets(), s)
    }

    fn set_unicast_hop_limit(&mut self, s: Resource<UdpSocket>, value: u8) -> SocketResult<()> {
        latest::sockets::udp::HostUdpSocket::set_unicast_hop_limit(&mut self.sockets(), s, value)
    }

    fn receive_buffer_size(&mut self, s: Resource<UdpSocket>) -> SocketResult<u64> {
        latest::sockets::udp::HostUdpSocket::receive_buffer_size(&mut self.sockets(), s)
    }

    fn set_receive_buffer_size(&mut self, s: Resource<UdpSocket>, value: u64) -> SocketResult<()> {
        latest::sockets::udp::HostUdpSocket::set_receive_buffer_size(&mut self.sockets(), s, value)
    }

    fn send_buffer_size(&mut self, s: Resource<UdpSocket>) -> SocketResult<u64> {
        latest::sockets::udp::HostUdpSocket::send_buffer_size(&mut self.sockets(), s)
    }

    fn set_send_buffer_size(&mut self, s: Resource<UdpSocket>, value: u64) -> SocketResult<()> {
        latest::sockets::udp::HostUdpSocket::set_send_buffer_size(&mut self.sockets(), s, value)
    }

    fn subscribe(&mut self, s: Resource<UdpSocket>) -> wasmtime::Result<Resource<Pollable>> {
        latest::sockets::udp::HostUdpSocket::subscribe(&mut self.sockets(), s)
    }

    fn drop(&mut self, s: Resource<UdpSocket>) -> wasmtime::Result<()> {
        latest::sockets::udp::HostUdpSocket::drop(&mut self.sockets(), s)
    }
}

impl wasi::sockets::udp::HostIncomingDatagramStream for InstanceState {
    fn receive(
        &mut self,
        s: Resource<IncomingDatagramStream>,
        max: u64,
    ) -> SocketResult<Vec<IncomingDatagram>> {
        let got =
            latest::sockets::udp::HostIncomingDatagramStream::receive(&mut self.sockets(), s, max)?;
        Ok(got.into_iter().map(Into::into).collect())
    }

    fn subscribe(
        &mut self,
        s: Resource<IncomingDatagramStream>,
    ) -> wasmtime::Result<Resource<Pollable>> {
        latest::sockets::udp::HostIncomingDatagramStream::subscribe(&mut self.sockets(), s)
    }

    fn drop(&mut self, s: Resource<IncomingDatagramStream>) -> wasmtime::Result<()> {
        latest::sockets::udp::HostIncomingDatagramStream::drop(&mut self.sockets(), s)
    }
}

impl wasi::sockets::udp::HostOutgoingDatagramStream for InstanceState {
    fn check_send(&mut self, s: Resource<OutgoingDatagramStream>) -> SocketResult<u64> {
        latest::sockets::udp::HostOutgoingDatagramStream::check_send(&mut self.sockets(), s)
    }

    fn send(
        &mut self,
        s: Resource<OutgoingDatagramStream>,
        datagrams: Vec<OutgoingDatagram>,
    ) -> SocketResult<u64> {
        let datagrams = datagrams.into_iter().map(Into::into).collect();
        latest::sockets::udp::HostOutgoingDatagramStream::send(&mut self.sockets(), s, datagrams)
    }

    fn subscribe(
        &mut self,
        s: Resource<OutgoingDatagramStream>,
    ) -> wasmtime::Result<Resource<Pollable>> {
        latest::sockets::udp::HostOutgoingDatagramStream::subscribe(&mut self.sockets(), s)
    }

    async fn drop(&mut self, s: Resource<OutgoingDatagramStream>) -> wasmtime::Result<()> {
        latest::sockets::udp::HostOutgoingDatagramStream::drop(&mut self.sockets(), s).await
    }
}
