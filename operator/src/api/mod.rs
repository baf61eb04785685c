//! The `core.spinkube.dev/v1alpha1` API: `SpinApp` and `SpinAppExecutor`, field for field as SpinKube
//! defines them, plus what SpinKube lacks (scale subresource, scheduling fields, pull policy, port).

mod executor;
mod spinapp;

pub use executor::*;
pub use spinapp::*;

/// API group of both kinds.
pub const GROUP: &str = "core.spinkube.dev";
/// API version of both kinds.
pub const VERSION: &str = "v1alpha1";
