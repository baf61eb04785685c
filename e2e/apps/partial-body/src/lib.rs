//! A streaming response that goes wrong part way, for the tests of cut-short responses
//! (cli/tests/http_hardening.rs). Every request answers 200 and sends `first part\n`, reads the
//! request body to its end (so a client decides when the rest happens: it has seen the first
//! part on the wire by then), then does what `?then=` asks:
//!
//! - `finish`: sends `second part\n` and ends the body properly (the control case);
//! - `trap`: panics (the guest traps);
//! - `loop`: spins for ever (until `--request-timeout` stops it);
//!
//! With `&length=N` the response declares `content-length: N` instead of leaving it open.
use futures::SinkExt;
use spin_sdk::http::{Fields, IncomingRequest, OutgoingResponse, ResponseOutparam};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let target = req.path_with_query().unwrap_or_default();
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_string)
    };
    let mut headers = vec![("content-type".to_string(), b"text/plain".to_vec())];
    if let Some(n) = param("length") {
        headers.push(("content-length".to_string(), n.into_bytes()));
    }
    let response = OutgoingResponse::new(Fields::from_list(&headers).unwrap());
    response.set_status_code(200).unwrap();
    let mut body = response.take_body();
    out.set(response);
    body.send(b"first part\n".to_vec()).await.unwrap();
    let _ = req.into_body().await;
    match param("then").as_deref() {
        Some("trap") => panic!("asked to trap after the first part"),
        Some("loop") => {
            let mut n = 0u64;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        _ => {
            body.send(b"second part\n".to_vec()).await.unwrap();
            body.close().await.unwrap();
        }
    }
}
