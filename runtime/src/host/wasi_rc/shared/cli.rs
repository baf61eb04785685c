/// wasi:random, wasi:cli and wasi:clocks/wall-clock.
macro_rules! shared_cli_impls {
    ($w:ident) => {
        use wasmtime::component::Resource;
        use wasmtime_wasi::cli::WasiCliView as _;
        use wasmtime_wasi::clocks::WasiClocksView as _;
        use wasmtime_wasi::random::WasiRandomView as _;
        use $crate::host::wasi_rc::latest;
        use $crate::host::InstanceState;

        impl $w::random::random::Host for InstanceState {
            fn get_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
                latest::random::random::Host::get_random_bytes(self.random(), len)
            }
            fn get_random_u64(&mut self) -> wasmtime::Result<u64> {
                latest::random::random::Host::get_random_u64(self.random())
            }
        }

        impl $w::random::insecure::Host for InstanceState {
            fn get_insecure_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
                latest::random::insecure::Host::get_insecure_random_bytes(self.random(), len)
            }
            fn get_insecure_random_u64(&mut self) -> wasmtime::Result<u64> {
                latest::random::insecure::Host::get_insecure_random_u64(self.random())
            }
        }

        impl $w::random::insecure_seed::Host for InstanceState {
            fn insecure_seed(&mut self) -> wasmtime::Result<(u64, u64)> {
                latest::random::insecure_seed::Host::insecure_seed(self.random())
            }
        }

        impl $w::clocks::wall_clock::Host for InstanceState {
            fn now(&mut self) -> wasmtime::Result<$w::clocks::wall_clock::Datetime> {
                Ok(latest::clocks::wall_clock::Host::now(&mut self.clocks())?.into())
            }
            fn resolution(&mut self) -> wasmtime::Result<$w::clocks::wall_clock::Datetime> {
                Ok(latest::clocks::wall_clock::Host::resolution(&mut self.clocks())?.into())
            }
        }

        impl $w::cli::environment::Host for InstanceState {
            fn get_environment(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
                latest::cli::environment::Host::get_environment(&mut self.cli())
            }
            fn get_arguments(&mut self) -> wasmtime::Result<Vec<String>> {
                latest::cli::environment::Host::get_arguments(&mut self.cli())
            }
            fn initial_cwd(&mut self) -> wasmtime::Result<Option<String>> {
                latest::cli::environment::Host::initial_cwd(&mut self.cli())
            }
        }

        impl $w::cli::exit::Host for InstanceState {
            fn exit(&mut self, status: Result<(), ()>) -> wasmtime::Result<()> {
                latest::cli::exit::Host::exit(&mut self.cli(), status)
            }
        }

        impl $w::cli::stdin::Host for InstanceState {
            fn get_stdin(
                &mut self,
            ) -> wasmtime::Result<Resource<latest::io::streams::InputStream>> {
                latest::cli::stdin::Host::get_stdin(&mut self.cli())
            }
        }

        impl $w::cli::stdout::Host for InstanceState {
            fn get_stdout(
                &mut self,
            ) -> wasmtime::Result<Resource<latest::io::streams::OutputStream>> {
                latest::cli::stdout::Host::get_stdout(&mut self.cli())
            }
        }

        impl $w::cli::stderr::Host for InstanceState {
            fn get_stderr(
                &mut self,
            ) -> wasmtime::Result<Resource<latest::io::streams::OutputStream>> {
                latest::cli::stderr::Host::get_stderr(&mut self.cli())
            }
        }

        impl $w::cli::terminal_input::Host for InstanceState {}
        impl $w::cli::terminal_input::HostTerminalInput for InstanceState {
            fn drop(
                &mut self,
                rep: Resource<latest::cli::terminal_input::TerminalInput>,
            ) -> wasmtime::Result<()> {
                latest::cli::terminal_input::HostTerminalInput::drop(&mut self.cli(), rep)
            }
        }

        impl $w::cli::terminal_output::Host for InstanceState {}
        impl $w::cli::terminal_output::HostTerminalOutput for InstanceState {
            fn drop(
                &mut self,
                rep: Resource<latest::cli::terminal_output::TerminalOutput>,
            ) -> wasmtime::Result<()> {
                latest::cli::terminal_output::HostTerminalOutput::drop(&mut self.cli(), rep)
            }
        }

        impl $w::cli::terminal_stdin::Host for InstanceState {
            fn get_terminal_stdin(
                &mut self,
            ) -> wasmtime::Result<Option<Resource<latest::cli::terminal_input::TerminalInput>>>
            {
                latest::cli::terminal_stdin::Host::get_terminal_stdin(&mut self.cli())
            }
        }

        impl $w::cli::terminal_stdout::Host for InstanceState {
            fn get_terminal_stdout(
                &mut self,
            ) -> wasmtime::Result<Option<Resource<latest::cli::terminal_output::TerminalOutput>>>
            {
                latest::cli::terminal_stdout::Host::get_terminal_stdout(&mut self.cli())
            }
        }

        impl $w::cli::terminal_stderr::Host for InstanceState {
            fn get_terminal_stderr(
                &mut self,
            ) -> wasmtime::Result<Option<Resource<latest::cli::terminal_output::TerminalOutput>>>
            {
                latest::cli::terminal_stderr::Host::get_terminal_stderr(&mut self.cli())
            }
        }
    };
}
