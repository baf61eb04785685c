//! A wasi:http 0.2.0-rc-2023-10-18 handler (the Spin 2.0 era interface): answers
//! 200 with `x-wasi-http: rc-2023-10-18` and a body naming the version, the
//! request's method, path and body, and what it got from the other rc
//! interfaces it imports (environment, clocks, poll, random, stdout).

#![no_std]

extern crate alloc;

#[path = "../../guest_rt.rs"]
mod guest_rt;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

wit_bindgen::generate!({
    path: "../../../../wit/wasi-2023-10-18",
    // The proxy world plus the CLI imports Spin 2.x also served.
    world: "spinkube:wasi-rc/spin-rc",
    // Only gates `std` items behind `cfg(feature = "std")`, which this crate never sets.
    std_feature,
    exports: {
        "wasi:http/incoming-handler": Handler,
    },
});

use exports::wasi::http::incoming_handler::Guest;
use wasi::cli::{environment, stdout};
use wasi::clocks::{monotonic_clock, wall_clock};
use wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasi::io::poll;
use wasi::io::streams::StreamError;
use wasi::random::random;

const VERSION: &str = "rc-2023-10-18";

struct Handler;

impl Guest for Handler {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let method = method_name(request.method());
        let body = read_body(&request);
        let text = format!(
            "hello from wasi:http {VERSION}\nmethod: {method}\npath: {path}\nbody: {}\n{}",
            String::from_utf8_lossy(&body),
            host_facts(),
        );
        let log = format!("{VERSION} guest handled {path}\n");
        // Best effort: the host's stdout may be closed (a pipe nobody reads).
        let _ = stdout::get_stdout().blocking_write_and_flush(log.as_bytes());

        // This snapshot takes the header entries in the constructor, and the
        // status with a borrowed header set in the response constructor.
        let headers = Fields::new(&[
            (String::from("x-wasi-http"), VERSION.as_bytes().to_vec()),
            (String::from("content-type"), b"text/plain".to_vec()),
        ]);
        let response = OutgoingResponse::new(200, &headers);
        let out_body = response.write().expect("response body");
        ResponseOutparam::set(out, Ok(response));

        // Written after the response is set: the body streams to the client.
        let stream = out_body.write().expect("body stream");
        for chunk in text.as_bytes().chunks(4096) {
            stream.blocking_write_and_flush(chunk).expect("write body");
        }
        drop(stream);
        OutgoingBody::finish(out_body, None);
    }
}

fn read_body(request: &IncomingRequest) -> Vec<u8> {
    let mut data = Vec::new();
    let Ok(body) = request.consume() else {
        return data;
    };
    let stream = body.stream().expect("request body stream");
    loop {
        match stream.blocking_read(4096) {
            Ok(chunk) => data.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => panic!("{}", e.to_debug_string()),
        }
    }
    data
}

/// Lines the test checks to see the rc cli, clocks, poll and random shims work.
fn host_facts() -> String {
    let greeting = environment::get_environment()
        .into_iter()
        .find(|(k, _)| k == "GREETING")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let before = monotonic_clock::now();
    poll::poll_one(&monotonic_clock::subscribe(1_000_000, false));
    let slept = monotonic_clock::now() - before >= 1_000_000;
    let clock = wall_clock::now().seconds > 1_600_000_000;
    let random = random::get_random_bytes(16).len();
    format!(
        "greeting: {greeting}\nslept 1ms: {slept}\nwall clock: {clock}\nrandom: {random} bytes\n"
    )
}

fn method_name(m: Method) -> String {
    match m {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(s) => s,
    }
}
