//! `containerd-shim-spin-v2`: containerd's runtime v2 shim for Spin apps (runtime type
//! `io.containerd.spin.v2`). runwasi's `containerd-shim-wasm` owns the task service, the
//! container process (namespaces, cgroups, mounts, stdio) and the content store; this crate
//! plugs the spinkube runtime into it.

use containerd_shim_wasm::shim::{Cli, Config};

mod compile;
mod container;
mod settings;
mod shim;

fn main() {
    // The shim's own log goes to containerd's log: keep it to errors. The app's output and the
    // runtime's messages go to the container's stdio (see `container`).
    shim::SpinShim::run(Config {
        default_log_level: "error".to_string(),
        ..Default::default()
    });
}
