//! Spin HTTP component in Rust. Built for wasm32-wasip1 the output is a core module
//! carrying an embedded component type; the host turns it into a component with the
//! wasi_snapshot_preview1 adapter (as `spin up` does).
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(_req: Request) -> anyhow::Result<impl IntoResponse> {
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .header("x-example", "rust")
        .body("Hello from Rust!")
        .build())
}
