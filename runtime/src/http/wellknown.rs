//! Spin's reserved routes under `/.well-known/spin/`.

use super::executor::{full_body, Body};

pub const HEALTH: &str = "/.well-known/spin/health";
pub const INFO: &str = "/.well-known/spin/info";

pub fn respond(path: &str, app_name: &str) -> Option<hyper::Response<Body>> {
    match path {
        HEALTH => Some(hyper::Response::new(full_body("OK"))),
        INFO => {
            let info = serde_json::json!({
                "version": env!("CARGO_PKG_VERSION"),
                "runtime": "spinkube",
                "app": app_name,
            });
            let mut r = hyper::Response::new(full_body(info.to_string()));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            Some(r)
        }
        _ => None,
    }
}
