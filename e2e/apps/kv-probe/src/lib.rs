//! Cluster suite probe: the `default` key-value store (Redis in the suite, through the SpinApp's
//! runtime config) over HTTP, and a Redis trigger on channel `messages` that records each message
//! in that store.
//!
//!   GET  /kv/KEY    -> 200 value, or 404
//!   PUT  /kv/KEY    -> stores the body, 200 "stored"
//!   GET  /keys      -> 200 every key, sorted, one per line
//!   message M on `messages` -> sets key `message:M` to M
use spin_sdk::http::{IntoResponse, Method, Request, Response};
use spin_sdk::key_value::Store;
use spin_sdk::{http_component, redis_component};

#[http_component]
fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let store = Store::open_default()?;
    let path = req.path().to_string();
    let text = |status: u16, body: String| {
        Response::builder()
            .status(status)
            .header("content-type", "text/plain")
            .body(body)
            .build()
    };
    Ok(match (req.method(), path.as_str()) {
        (Method::Get, "/keys") => {
            let mut keys = store.get_keys()?;
            keys.sort();
            text(200, keys.join("\n"))
        }
        (Method::Get, p) if p.starts_with("/kv/") => match store.get(&p[4..])? {
            Some(v) => text(200, String::from_utf8_lossy(&v).into_owned()),
            None => text(404, format!("no key {}", &p[4..])),
        },
        (Method::Put, p) if p.starts_with("/kv/") => {
            store.set(&p[4..], req.body())?;
            text(200, "stored".into())
        }
        _ => text(404, format!("no route {path}")),
    })
}

#[redis_component]
fn on_message(message: bytes::Bytes) -> anyhow::Result<()> {
    let text = String::from_utf8_lossy(&message);
    Store::open_default()?.set(&format!("message:{text}"), &message)?;
    Ok(())
}
