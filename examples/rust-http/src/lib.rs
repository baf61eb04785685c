//! Spin HTTP component in Rust. Built for wasm32-wasip1 the output is a core module
//! carrying an embedded component type; the host turns it into a component with the
//! wasi_snapshot_preview1 adapter (as `spin up` does). `../rust-wasip2-http` builds it for
//! wasm32-wasip2.
//!
//! `/count` answers how many requests this instance has served: always 1, since every
//! request gets a fresh instance (the tests check that isolation under concurrency).
use std::sync::atomic::{AtomicU64, Ordering};

use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

static SERVED: AtomicU64 = AtomicU64::new(0);

#[http_component]
fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let served = SERVED.fetch_add(1, Ordering::Relaxed) + 1;
    let body = match req.path() {
        "/count" => served.to_string(),
        _ => "Hello from Rust!".to_string(),
    };
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .header("x-example", "rust")
        .body(body)
        .build())
}
