#![warn(missing_docs)]

//! spin-operator: reconciles `SpinApp` and `SpinAppExecutor` (group `core.spinkube.dev`).

pub mod admission;
pub mod api;
pub mod crd;
pub mod desired;
pub mod labels;
pub mod ops;
pub mod reconcile;
pub mod retry;
pub mod status;
pub mod webhook;
