/// wasi:sockets interfaces unchanged since rc-2023-10-18: `network`,
/// `instance-network` and `tcp-create-socket`. Expects `InstanceState`,
/// `Resource`, `SocketError`, `latest` and `WasiSocketsView` in scope.
macro_rules! shared_socket_impls {
    ($w:ident) => {
        use latest::sockets::network::Network;

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

        impl $w::sockets::tcp_create_socket::Host for InstanceState {
            fn create_tcp_socket(
                &mut self,
                family: $w::sockets::network::IpAddressFamily,
            ) -> Result<Resource<latest::sockets::tcp::TcpSocket>, SocketError> {
                latest::sockets::tcp_create_socket::Host::create_tcp_socket(
                    &mut self.sockets(),
                    family.into(),
                )
            }
        }
    };
}
