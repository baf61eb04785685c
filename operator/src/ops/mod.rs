//! Running the operator: metrics, health endpoints, leader election, logging.

pub mod health;
pub mod leader;
pub mod logging;
pub mod metrics;
pub mod shutdown;
