//! wasi:sockets. TCP maps onto 0.2 with renamed options (options 0.2 dropped
//! answer `not-supported`); UDP was redesigned around datagram streams
//! before 0.2 and is not offered: `create-udp-socket` answers `not-supported`.

use super::bindings::wasi;
use crate::host::wasi_rc::UnsupportedUdpSocket;

shared_socket_impls!(
    wasi,
    tcp {
        fn keep_alive(&mut self, s: Resource<TcpSocket>) -> SocketResult<bool> {
            LatestTcp::keep_alive_enabled(&mut self.sockets(), s)
        }

        fn set_keep_alive(&mut self, s: Resource<TcpSocket>, value: bool) -> SocketResult<()> {
            LatestTcp::set_keep_alive_enabled(&mut self.sockets(), s, value)
        }

        // 0.2 has no `no-delay`.
        fn no_delay(&mut self, _s: Resource<TcpSocket>) -> SocketResult<bool> {
            Err(NotSupported.into())
        }

        fn set_no_delay(&mut self, _s: Resource<TcpSocket>, _value: bool) -> SocketResult<()> {
            Err(NotSupported.into())
        }

        fn unicast_hop_limit(&mut self, s: Resource<TcpSocket>) -> SocketResult<u8> {
            LatestTcp::hop_limit(&mut self.sockets(), s)
        }

        fn set_unicast_hop_limit(&mut self, s: Resource<TcpSocket>, value: u8) -> SocketResult<()> {
            LatestTcp::set_hop_limit(&mut self.sockets(), s, value)
        }
    }
);

impl wasi::sockets::ip_name_lookup::Host for InstanceState {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
        _family: Option<IpAddressFamily>,
        _include_unavailable: bool,
    ) -> SocketResult<Resource<ResolveAddressStream>> {
        latest::sockets::ip_name_lookup::Host::resolve_addresses(
            &mut self.name_lookup(),
            network,
            name,
        )
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
