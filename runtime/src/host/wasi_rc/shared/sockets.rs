/// wasi:sockets interfaces unchanged since rc-2023-10-18 (`network`,
/// `instance-network`, `tcp-create-socket`, the resolve-address stream) and
/// the TCP socket methods both versions share; the `tcp` block adds the
/// options that were renamed or added between them. `ip-name-lookup`'s
/// `resolve-addresses` and all of UDP stay in the version files. Brings
/// `Resource`, `InstanceState`, `latest`, `WasiSocketsView`, `SocketError`,
/// `SocketResult`, `NotSupported`, the address types, the 0.2 socket and
/// stream resources, `Pollable` and the 0.2 `HostTcpSocket` as `LatestTcp`
/// into scope.
macro_rules! shared_socket_impls {
    ($w:ident, tcp { $($tcp_extra:tt)* }) => {
        use wasmtime::component::Resource;
        use wasmtime_wasi::p2::SocketError;
        use wasmtime_wasi::sockets::WasiSocketsView as _;
        use $crate::host::wasi_rc::latest;
        use $crate::host::InstanceState;
        use $w::sockets::network::{IpAddress, IpAddressFamily, IpSocketAddress};
        use latest::io::poll::Pollable;
        use latest::io::streams::{InputStream, OutputStream};
        use latest::sockets::ip_name_lookup::HostResolveAddressStream as LatestResolve;
        use latest::sockets::ip_name_lookup::ResolveAddressStream;
        use latest::sockets::network::ErrorCode::NotSupported;
        use latest::sockets::network::Network;
        use latest::sockets::tcp::HostTcpSocket as LatestTcp;
        use latest::sockets::tcp::TcpSocket;

        type SocketResult<T> = Result<T, SocketError>;

        impl $w::sockets::network::Host for InstanceState {
            fn convert_error_code(
                &mut self,
                err: SocketError,
            ) -> wasmtime::Result<$w::sockets::network::ErrorCode> {
                Ok(err.downcast()?.into())
            }
        }

        impl $w::sockets::network::HostNetwork for InstanceState {
            fn drop(&mut self, n: Resource<Network>) -> wasmtime::Result<()> {
                latest::sockets::network::HostNetwork::drop(&mut self.sockets(), n)
            }
        }

        impl $w::sockets::instance_network::Host for InstanceState {
            fn instance_network(&mut self) -> wasmtime::Result<Resource<Network>> {
                latest::sockets::instance_network::Host::instance_network(&mut self.sockets())
            }
        }

        impl $w::sockets::ip_name_lookup::HostResolveAddressStream for InstanceState {
            fn resolve_next_address(
                &mut self,
                s: Resource<ResolveAddressStream>,
            ) -> SocketResult<Option<IpAddress>> {
                let addr =
                    LatestResolve::resolve_next_address(&mut self.sockets(), s)?;
                Ok(addr.map(Into::into))
            }
            fn subscribe(
                &mut self,
                s: Resource<ResolveAddressStream>,
            ) -> wasmtime::Result<Resource<Pollable>> {
                LatestResolve::subscribe(&mut self.sockets(), s)
            }
            fn drop(&mut self, s: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
                LatestResolve::drop(&mut self.sockets(), s)
            }
        }

        impl $w::sockets::tcp_create_socket::Host for InstanceState {
            fn create_tcp_socket(
                &mut self,
                family: IpAddressFamily,
            ) -> SocketResult<Resource<TcpSocket>> {
                latest::sockets::tcp_create_socket::Host::create_tcp_socket(
                    &mut self.sockets(),
                    family.into(),
                )
            }
        }

        impl $w::sockets::tcp::Host for InstanceState {}

        impl $w::sockets::tcp::HostTcpSocket for InstanceState {
            async fn start_bind(
                &mut self,
                s: Resource<TcpSocket>,
                network: Resource<Network>,
                local: IpSocketAddress,
            ) -> SocketResult<()> {
                LatestTcp::start_bind(&mut self.sockets(), s, network, local.into())
                .await
            }
            fn finish_bind(&mut self, s: Resource<TcpSocket>) -> SocketResult<()> {
                LatestTcp::finish_bind(&mut self.sockets(), s)
            }
            fn start_connect(
                &mut self,
                s: Resource<TcpSocket>,
                network: Resource<Network>,
                remote: IpSocketAddress,
            ) -> SocketResult<()> {
                LatestTcp::start_connect(&mut self.sockets(), s, network, remote.into())
            }
            fn finish_connect(
                &mut self,
                s: Resource<TcpSocket>,
            ) -> SocketResult<(Resource<InputStream>, Resource<OutputStream>)> {
                LatestTcp::finish_connect(&mut self.sockets(), s)
            }
            async fn start_listen(&mut self, s: Resource<TcpSocket>) -> SocketResult<()> {
                LatestTcp::start_listen(&mut self.sockets(), s).await
            }
            fn finish_listen(&mut self, s: Resource<TcpSocket>) -> SocketResult<()> {
                LatestTcp::finish_listen(&mut self.sockets(), s)
            }
            fn accept(
                &mut self,
                s: Resource<TcpSocket>,
            ) -> SocketResult<(
                Resource<TcpSocket>,
                Resource<InputStream>,
                Resource<OutputStream>,
            )> {
                LatestTcp::accept(&mut self.sockets(), s)
            }
            fn local_address(&mut self, s: Resource<TcpSocket>) -> SocketResult<IpSocketAddress> {
                Ok(LatestTcp::local_address(&mut self.sockets(), s)?.into())
            }
            fn remote_address(&mut self, s: Resource<TcpSocket>) -> SocketResult<IpSocketAddress> {
                Ok(LatestTcp::remote_address(&mut self.sockets(), s)?.into())
            }
            fn address_family(
                &mut self,
                s: Resource<TcpSocket>,
            ) -> wasmtime::Result<IpAddressFamily> {
                Ok(LatestTcp::address_family(&mut self.sockets(), s)?.into())
            }
            // 0.2 dropped `ipv6-only`.
            fn ipv6_only(&mut self, _s: Resource<TcpSocket>) -> SocketResult<bool> {
                Err(NotSupported.into())
            }
            fn set_ipv6_only(&mut self, _s: Resource<TcpSocket>, _value: bool) -> SocketResult<()> {
                Err(NotSupported.into())
            }
            fn set_listen_backlog_size(
                &mut self,
                s: Resource<TcpSocket>,
                value: u64,
            ) -> SocketResult<()> {
                LatestTcp::set_listen_backlog_size(&mut self.sockets(), s, value)
            }
            fn receive_buffer_size(&mut self, s: Resource<TcpSocket>) -> SocketResult<u64> {
                LatestTcp::receive_buffer_size(&mut self.sockets(), s)
            }
            fn set_receive_buffer_size(
                &mut self,
                s: Resource<TcpSocket>,
                value: u64,
            ) -> SocketResult<()> {
                LatestTcp::set_receive_buffer_size(&mut self.sockets(), s, value)
            }
            fn send_buffer_size(&mut self, s: Resource<TcpSocket>) -> SocketResult<u64> {
                LatestTcp::send_buffer_size(&mut self.sockets(), s)
            }
            fn set_send_buffer_size(
                &mut self,
                s: Resource<TcpSocket>,
                value: u64,
            ) -> SocketResult<()> {
                LatestTcp::set_send_buffer_size(&mut self.sockets(), s, value)
            }
            fn subscribe(
                &mut self,
                s: Resource<TcpSocket>,
            ) -> wasmtime::Result<Resource<Pollable>> {
                LatestTcp::subscribe(&mut self.sockets(), s)
            }
            fn shutdown(
                &mut self,
                s: Resource<TcpSocket>,
                how: $w::sockets::tcp::ShutdownType,
            ) -> SocketResult<()> {
                LatestTcp::shutdown(&mut self.sockets(), s, how.into())
            }
            fn drop(&mut self, s: Resource<TcpSocket>) -> wasmtime::Result<()> {
                LatestTcp::drop(&mut self.sockets(), s)
            }
            $($tcp_extra)*
        }

        impl $w::sockets::udp::Host for InstanceState {}
    };
}
