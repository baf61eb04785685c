//! wasi:cli, wasi:random and wasi:clocks: the same shape as 0.2.0.

use super::bindings::wasi;

shared_cli_impls!(wasi);

impl wasi::clocks::monotonic_clock::Host for InstanceState {
    fn now(&mut self) -> wasmtime::Result<u64> {
        latest::clocks::monotonic_clock::Host::now(&mut self.clocks())
    }

    fn resolution(&mut self) -> wasmtime::Result<u64> {
        latest::clocks::monotonic_clock::Host::resolution(&mut self.clocks())
    }

    fn subscribe_instant(
        &mut self,
        when: u64,
    ) -> wasmtime::Result<Resource<latest::io::poll::Pollable>> {
        latest::clocks::monotonic_clock::Host::subscribe_instant(&mut self.clocks(), when)
    }

    fn subscribe_duration(
        &mut self,
        when: u64,
    ) -> wasmtime::Result<Resource<latest::io::poll::Pollable>> {
        latest::clocks::monotonic_clock::Host::subscribe_duration(&mut self.clocks(), when)
    }
}
