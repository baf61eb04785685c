//! Outbound networking policy shared by every host API that opens connections
//! on behalf of a component (outbound HTTP, Redis, MySQL, PostgreSQL, MQTT,
//! wasi-sockets).
//!
//! Spin denies all outbound network access unless a component's
//! `allowed_outbound_hosts` grants it, so every such API must consult the same
//! parsed allow-list; [`allowed_hosts`] is that single implementation.

pub mod allowed_hosts;
pub mod http;
pub mod tls;
