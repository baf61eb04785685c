//! Shim suite probe: one Rust component whose routes exercise what the shim must honour.
//!
//!   /hello          -> 200 "hello from spin" (content-type text/plain)
//!   /var            -> 200 value of the `greeting` variable
//!   /slow?ms=N      -> sleeps N ms (default 1500), then 200 "slept N"
//!   /trap           -> panics (the guest traps; the host answers 500)
//!   /file           -> 200 contents of /static/hello.txt (a component file)
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::{http_component, variables};

#[http_component]
fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let path = req.path().to_string();
    let query = req.query().to_string();
    let text = |status: u16, body: String| {
        Response::builder()
            .status(status)
            .header("content-type", "text/plain")
            .body(body)
            .build()
    };
    Ok(match path.as_str() {
        "/hello" => text(200, "hello from spin".into()),
        "/var" => match variables::get("greeting") {
            Ok(v) => text(200, v),
            Err(e) => text(500, format!("variable: {e}")),
        },
        "/slow" => {
            let ms = query
                .strip_prefix("ms=")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1500);
            std::thread::sleep(std::time::Duration::from_millis(ms));
            text(200, format!("slept {ms}"))
        }
        "/trap" => panic!("probe asked to trap"),
        "/file" => match std::fs::read_to_string("/static/hello.txt") {
            Ok(s) => text(200, s),
            Err(e) => text(500, format!("file: {e}")),
        },
        _ => text(404, format!("no route {path}")),
    })
}
