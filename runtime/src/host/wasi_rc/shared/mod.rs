//! Host impls whose WIT is the same in both rc versions (and in 0.2), written
//! once: `$w` names the version's generated `wasi` module. They delegate to
//! the current implementation on the same store state.

#[macro_use]
mod cli;
#[macro_use]
mod filesystem;
#[macro_use]
mod http;
#[macro_use]
mod io;
#[macro_use]
mod sockets;
