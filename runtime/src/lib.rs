#![warn(missing_docs)]

//! The SpinKube runtime: Spin app model, wasmtime engine, host APIs and triggers.
//! Shared by `spinkube up` and the containerd shim.

pub mod app;
pub mod engine;
pub mod host;
pub mod http;
pub mod launch;
pub mod oci;
pub mod outbound;
pub mod redis_trigger;
pub mod runtime_config;
pub mod services;
pub mod units;
pub mod variables;
