//! wasi:sockets: the same shape as 0.2.0 except `ipv6-only`, which 0.2
//! dropped (its getters and setters answer `not-supported`).

use super::bindings::wasi;
use latest::sockets::udp::{IncomingDatagramStream, OutgoingDatagramStream, UdpSocket};
use wasi::sockets::udp::{IncomingDatagram, OutgoingDatagram};

shared_socket_impls!(
    wasi,
    tcp {
        fn is_listening(&mut self, s: Resource<TcpSocket>) -> wasmtime::Result<bool> {
            LatestTcp::is_listening(&mut self.sockets(), s)
        }

        fn keep_alive_enabled(&mut self, s: Resource<TcpSocket>) -> SocketResult<bool> {
            LatestTcp::keep_alive_enabled(&mut self.sockets(), s)
        }

        fn set_keep_alive_enabled(
            &mut self,
            s: Resource<TcpSocket>,
            value: bool,
        ) -> SocketResult<()> {
            LatestTcp::set_keep_alive_enabled(&mut self.sockets(), s, value)
        }

        fn keep_alive_idle_time(&mut self, s: Resource<TcpSocket>) -> SocketResult<u64> {
            LatestTcp::keep_alive_idle_time(&mut self.sockets(), s)
        }

        fn set_keep_alive_idle_time(
            &mut self,
            s: Resource<TcpSocket>,
            value: u64,
        ) -> SocketResult<()> {
            LatestTcp::set_keep_alive_idle_time(&mut self.sockets(), s, value)
        }

        fn keep_alive_interval(&mut self, s: Resource<TcpSocket>) -> SocketResult<u64> {
            LatestTcp::keep_alive_interval(&mut self.sockets(), s)
        }

        fn set_keep_alive_interval(
            &mut self,
            s: Resource<TcpSocket>,
            value: u64,
        ) -> SocketResult<()> {
            LatestTcp::set_keep_alive_interval(&mut self.sockets(), s, value)
        }

        fn keep_alive_count(&mut self, s: Resource<TcpSocket>) -> SocketResult<u32> {
            LatestTcp::keep_alive_count(&mut self.sockets(), s)
        }

        fn set_keep_alive_count(
            &mut self,
            s: Resource<TcpSocket>,
            value: u32,
        ) -> SocketResult<()> {
            LatestTcp::set_keep_alive_count(&mut self.sockets(), s, value)
        }

        fn hop_limit(&mut self, s: Resource<TcpSocket>) -> SocketResult<u8> {
            LatestTcp::hop_limit(&mut self.sockets(), s)
        }

        fn set_hop_limit(&mut self, s: Resource<TcpSocket>, value: u8) -> SocketResult<()> {
            LatestTcp::set_hop_limit(&mut self.sockets(), s, value)
        }
    }
);

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
