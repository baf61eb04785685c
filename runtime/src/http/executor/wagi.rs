//! Wagi: a WASI command module run CGI-style — request body on stdin,
//! request data in env vars, response headers and body on stdout.

use anyhow::{anyhow, bail, Context, Result};
use http_body_util::BodyExt;
use wasmtime::{InstancePre, Linker, Module};
use wasmtime_wasi::cli::AsyncStdinStream;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};

use super::{full_body, Body, ComponentContext, Invocation, RequestBody};
use crate::engine::{HasLimiter, MemoryLimiter, SpinEngine};
use crate::host::guest::explain_failure;
use crate::http::config::WagiConfig;
use crate::http::routing::RouteMatch;
use crate::http::spin_headers::{wagi_args, wagi_env, RequestInfo, WagiRequestInfo};

/// Largest response a Wagi guest may print.
const MAX_OUTPUT: usize = 64 << 20;

/// Request details computed by the router for the CGI environment.
pub struct WagiRequest {
    /// CGI variables (`REQUEST_METHOD`, `PATH_INFO`, `HTTP_*`, ...).
    pub env: Vec<(String, String)>,
    /// `argv[0]`, the request path (`${SCRIPT_NAME}` in the argv template).
    pub script_name: String,
    /// Query-string arguments (`${ARGS}` in the argv template).
    pub args: Vec<String>,
    /// What the guest reads on stdin.
    pub body: WagiBody,
}

impl WagiRequest {
    /// The CGI view of a routed request. CGI needs CONTENT_LENGTH: a body of declared length
    /// streams to the guest's stdin, any other is read whole first (and may fail here).
    pub async fn from_http<T>(
        m: &RouteMatch<'_, T>,
        base: &str,
        info: &RequestInfo<'_>,
        parts: &http::request::Parts,
        body: RequestBody,
    ) -> Result<Self> {
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        let (body, content_length) = match declared {
            Some(len) => (WagiBody::Streamed(body), len),
            None => {
                let b = body.collect().await.map_err(|e| anyhow!("{e}"))?.to_bytes();
                let len = b.len();
                (WagiBody::Buffered(b), len)
            }
        };
        let wagi_info = WagiRequestInfo {
            method: &parts.method,
            version: parts.version,
            headers: &parts.headers,
            content_length,
        };
        let env = wagi_env(m, base, info, &wagi_info);
        let path_and_query = info.path_and_query;
        let mut argv = wagi_args(path_and_query).into_iter();
        let script_name = argv.next().unwrap_or_default();
        Ok(WagiRequest {
            env,
            script_name,
            args: argv.collect(),
            body,
        })
    }
}

/// The request body as the guest reads it on stdin.
pub enum WagiBody {
    /// Read up front: the request declared no length, and CGI needs CONTENT_LENGTH.
    Buffered(bytes::Bytes),
    /// Passed on as the guest reads it: the request declared its length.
    Streamed(RequestBody),
}

/// Bytes of a streamed request body held between the client and the guest.
const STDIN_BUFFER: usize = 64 << 10;

/// Stdin that reads `body` as the guest asks for it. A body that fails part way (a client gone,
/// a size limit hit) ends stdin early, so the guest sees less than CONTENT_LENGTH.
fn streamed_stdin(mut body: RequestBody) -> AsyncStdinStream {
    let (reader, mut writer) = tokio::io::simplex(STDIN_BUFFER);
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                if writer.write_all(&data).await.is_err() {
                    break; // the guest has finished
                }
            }
        }
        // The end of stdin (dropping a half does not close the pipe).
        let _ = writer.shutdown().await;
    });
    AsyncStdinStream::new(reader)
}

struct WagiState {
    wasi: WasiP1Ctx,
    limiter: MemoryLimiter,
}

impl HasLimiter for WagiState {
    fn limiter(&mut self) -> &mut MemoryLimiter {
        &mut self.limiter
    }
}

pub struct WagiExecutor {
    engine: SpinEngine,
    ctx: ComponentContext,
    pre: InstancePre<WagiState>,
    cfg: WagiConfig,
}

impl WagiExecutor {
    pub fn new(
        engine: &SpinEngine,
        ctx: ComponentContext,
        module: Module,
        cfg: WagiConfig,
    ) -> Result<Self> {
        if module.get_export(&cfg.entrypoint).is_none() {
            bail!(
                "the module has no export `{}` to use as the Wagi entrypoint; set `executor = {{ type = \"wagi\", entrypoint = \"...\" }}`",
                cfg.entrypoint
            );
        }
        let mut linker: Linker<WagiState> = Linker::new(engine.wasmtime());
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, |s| &mut s.wasi)?;
        linker.define_unknown_imports_as_traps(&module)?;
        let pre = linker.instantiate_pre(&module)?;
        Ok(Self {
            engine: engine.clone(),
            ctx,
            pre,
            cfg,
        })
    }

    pub async fn execute(&self, inv: Invocation) -> Result<hyper::Response<Body>> {
        let wagi = inv
            .wagi
            .ok_or_else(|| anyhow!("Wagi request details missing"))?;
        let stdout = MemoryOutputPipe::new(MAX_OUTPUT);
        let argv = expand_argv(&self.cfg.argv, &wagi.script_name, &wagi.args);
        let mut builder = self.ctx.wasi_builder()?;
        match wagi.body {
            WagiBody::Buffered(body) => builder.stdin(MemoryInputPipe::new(body)),
            WagiBody::Streamed(body) => builder.stdin(streamed_stdin(body)),
        };
        builder.stdout(stdout.clone()).args(&argv).envs(&wagi.env);
        let limit = self.engine.config().max_instance_memory;
        let state = WagiState {
            wasi: builder.build_p1(),
            limiter: MemoryLimiter::new(limit),
        };
        let mut store = self.engine.new_store(state);
        let result = async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            let entry = instance
                .get_typed_func::<(), ()>(&mut store, &self.cfg.entrypoint)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("Wagi entrypoint `{}`", self.cfg.entrypoint))?;
            entry
                .call_async(&mut store, ())
                .await
                .map_err(anyhow::Error::from)
        }
        .await;
        if let Err(e) = result {
            // `proc_exit(0)` at the end of `_start` is a normal exit.
            match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                Some(exit) if exit.0 == 0 => {}
                Some(exit) => bail!("the Wagi module exited with status {}", exit.0),
                None => return Err(explain_failure(e, store.data().limiter.exceeded(), limit)),
            }
        }
        parse_cgi_output(&stdout.contents())
    }
}

/// `argv` template: `${SCRIPT_NAME}` and `${ARGS}` (query-string arguments).
fn expand_argv(template: &str, script_name: &str, args: &[String]) -> Vec<String> {
    template
        .split_whitespace()
        .flat_map(|word| match word {
            "${SCRIPT_NAME}" => vec![script_name.to_string()],
            "${ARGS}" => args.to_vec(),
            other => vec![other
                .replace("${SCRIPT_NAME}", script_name)
                .replace("${ARGS}", &args.join(" "))],
        })
        .collect()
}

/// CGI response: header lines, a blank line, then the body. `Status:` sets
/// the status; a `Location` without a status means a redirect.
pub fn parse_cgi_output(out: &[u8]) -> Result<hyper::Response<Body>> {
    let (head, body) = split_head(out).ok_or_else(|| {
        anyhow!("the Wagi module printed no CGI headers; it must print e.g. `Content-Type: text/plain`, a blank line, then the body")
    })?;
    let head = std::str::from_utf8(head).context("Wagi headers are not UTF-8")?;
    let mut status = None;
    let mut builder = hyper::Response::builder();
    let mut has_location = false;
    for line in head.lines().filter(|l| !l.trim().is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| anyhow!("malformed Wagi header line {line:?}"))?;
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or_default();
            status = Some(
                code.parse::<u16>()
                    .with_context(|| format!("bad Wagi Status {value:?}"))?,
            );
        } else {
            has_location |= name.eq_ignore_ascii_case("location");
            builder = builder.header(name, value);
        }
    }
    let status = status.unwrap_or(if has_location { 302 } else { 200 });
    Ok(builder
        .status(status)
        .body(full_body(bytes::Bytes::copy_from_slice(body)))?)
}

fn split_head(out: &[u8]) -> Option<(&[u8], &[u8])> {
    let crlf = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    let lf = out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let (i, len) = match (crlf, lf) {
        (Some(a), Some(b)) => {
            if a.0 < b.0 {
                a
            } else {
                b
            }
        }
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => return None,
    };
    Some((&out[..i], &out[i + len..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_of(r: hyper::Response<Body>) -> String {
        String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn parses_cgi_headers_status_and_body() {
        type Case<'a> = (&'a [u8], u16, Option<(&'a str, &'a str)>, &'a str);
        let cases: &[Case] = &[
            (
                b"Content-Type: text/plain\n\nhello",
                200,
                Some(("content-type", "text/plain")),
                "hello",
            ),
            (
                b"Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\n<p>nope</p>\n\nmore",
                404,
                Some(("content-type", "text/html")),
                "<p>nope</p>\n\nmore",
            ),
            (
                b"Location: /elsewhere\n\n",
                302,
                Some(("location", "/elsewhere")),
                "",
            ),
            (b"X-Custom: a:b\n\n", 200, Some(("x-custom", "a:b")), ""),
        ];
        for (out, status, header, body) in cases {
            let r = parse_cgi_output(out).unwrap();
            assert_eq!(r.status().as_u16(), *status);
            if let Some((k, v)) = header {
                assert_eq!(r.headers()[*k], *v);
            }
            assert_eq!(body_of(r).await, *body);
        }
    }

    #[test]
    fn output_without_headers_is_a_clear_error() {
        let err = parse_cgi_output(b"just a body").unwrap_err().to_string();
        assert!(err.contains("no CGI headers"), "{err}");
        assert!(parse_cgi_output(b"no colon here\n\nbody").is_err());
    }

    #[test]
    fn argv_template_expands() {
        let args = vec!["a".to_string(), "b".to_string()];
        assert_eq!(
            expand_argv("${SCRIPT_NAME} ${ARGS}", "/wagi", &args),
            vec!["/wagi", "a", "b"]
        );
        assert_eq!(
            expand_argv("prog --x ${ARGS}", "/s", &[]),
            vec!["prog", "--x"]
        );
    }
}
