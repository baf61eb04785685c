//! The legacy Spin HTTP interface `fermyon:spin/inbound-http` (Spin 1.x SDKs,
//! still exported by some C/TinyGo/Rust guests).

use anyhow::{anyhow, Result};
use http_body_util::BodyExt;
use wasmtime::component::InstancePre;

use super::{full_body, Body, ComponentContext, Invocation};
use crate::engine::SpinEngine;
use crate::host::guest;
use crate::host::InstanceState;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/spin-legacy",
        world: "fermyon:spin/http-trigger",
        exports: { default: async },
    });
}

use bindings::fermyon::spin::http_types::{Method, Request, Response};

pub struct LegacyExecutor {
    engine: SpinEngine,
    ctx: ComponentContext,
    pre: bindings::HttpTriggerPre<InstanceState>,
}

impl LegacyExecutor {
    pub fn new(
        engine: &SpinEngine,
        ctx: ComponentContext,
        pre: InstancePre<InstanceState>,
    ) -> Result<Self> {
        let pre = bindings::HttpTriggerPre::new(pre)?;
        Ok(Self {
            engine: engine.clone(),
            ctx,
            pre,
        })
    }

    pub async fn execute(&self, inv: Invocation) -> Result<hyper::Response<Body>> {
        let (parts, body) = inv.request.into_parts();
        let Some(method) = method(&parts.method) else {
            return Ok(hyper::Response::builder()
                .status(405)
                .body(full_body("Method Not Allowed"))?);
        };
        let body = body.collect().await?.to_bytes();
        let headers = parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let uri = parts
            .uri
            .path_and_query()
            .map(|pq| pq.to_string())
            .unwrap_or_else(|| parts.uri.to_string());
        let request = Request {
            method,
            uri,
            headers,
            params: Vec::new(),
            body: Some(body.to_vec()),
        };

        let mut store = guest::new_store(&self.engine, &self.ctx)?;
        let result = async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            instance
                .fermyon_spin_inbound_http()
                .call_handle_request(&mut store, &request)
                .await
        }
        .await;
        let response = guest::outcome(&self.engine, &store, result)?;
        to_hyper(response)
    }
}

fn method(m: &http::Method) -> Option<Method> {
    Some(match *m {
        http::Method::GET => Method::Get,
        http::Method::POST => Method::Post,
        http::Method::PUT => Method::Put,
        http::Method::DELETE => Method::Delete,
        http::Method::PATCH => Method::Patch,
        http::Method::HEAD => Method::Head,
        http::Method::OPTIONS => Method::Options,
        _ => return None,
    })
}

fn to_hyper(r: Response) -> Result<hyper::Response<Body>> {
    let mut builder = hyper::Response::builder().status(r.status);
    for (name, value) in r.headers.unwrap_or_default() {
        builder = builder.header(name, value);
    }
    builder
        .body(full_body(r.body.unwrap_or_default()))
        .map_err(|e| anyhow!("the guest returned an invalid response: {e}"))
}
