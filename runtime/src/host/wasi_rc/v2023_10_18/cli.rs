//! wasi:cli, wasi:random and wasi:clocks. Only the monotonic clock changed
//! (`subscribe` became `subscribe-instant`/`-duration`), and `timezone` was
//! dropped from 0.2.

use super::bindings::wasi;

shared_cli_impls!(wasi);

impl wasi::clocks::monotonic_clock::Host for InstanceState {
    fn now(&mut self) -> wasmtime::Result<u64> {
        latest::clocks::monotonic_clock::Host::now(&mut self.clocks())
    }

    fn resolution(&mut self) -> wasmtime::Result<u64> {
        latest::clocks::monotonic_clock::Host::resolution(&mut self.clocks())
    }

    fn subscribe(
        &mut self,
        when: u64,
        absolute: bool,
    ) -> wasmtime::Result<Resource<latest::io::poll::Pollable>> {
        let mut clocks = self.clocks();
        if absolute {
            latest::clocks::monotonic_clock::Host::subscribe_instant(&mut clocks, when)
        } else {
            latest::clocks::monotonic_clock::Host::subscribe_duration(&mut clocks, when)
        }
    }
}

/// The host's time zone is not exposed to guests: everything is UTC.
impl wasi::clocks::timezone::Host for InstanceState {
    fn display(
        &mut self,
        _when: wasi::clocks::wall_clock::Datetime,
    ) -> wasmtime::Result<wasi::clocks::timezone::TimezoneDisplay> {
        Ok(wasi::clocks::timezone::TimezoneDisplay {
            utc_offset: 0,
            name: "UTC".to_string(),
            in_daylight_saving_time: false,
        })
    }

    fn utc_offset(&mut self, _when: wasi::clocks::wall_clock::Datetime) -> wasmtime::Result<i32> {
        Ok(0)
    }
}
