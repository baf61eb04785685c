//! A Spin HTTP component as spin-sdk 7's README writes one: an async handler built for
//! wasm32-wasip2, exported as `wasi:http/handler@0.3.0`. The counter shows instance reuse:
//! `/count` answers how many requests this instance has served.

use std::sync::atomic::{AtomicU64, Ordering};

use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

static SERVED: AtomicU64 = AtomicU64::new(0);

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    let served = SERVED.fetch_add(1, Ordering::Relaxed) + 1;
    match req.uri().path() {
        "/count" => served.to_string(),
        "/url" => req.uri().to_string(),
        "/trap" => panic!("trap requested"),
        _ => "Hello from Rust p3!".to_string(),
    }
}
