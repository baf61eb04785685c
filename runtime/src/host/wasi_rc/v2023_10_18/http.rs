//! wasi:http/types and outgoing-handler. This snapshot passed status, method,
//! URL parts and header entries to constructors (0.2 has setters), returned
//! no header errors, and had a four-case `error` instead of `error-code`.

use wasmtime_wasi_http::p2::HttpError;

use super::bindings::wasi;
use crate::host::wasi_rc::header_trap;
use crate::host::wasi_rc::latest_http::types::ErrorCode;
use wasi::http::types::{Error, RequestOptions};

/// Best-effort mapping onto the four cases this snapshot had.
fn to_rc_error(code: ErrorCode) -> Error {
    let text = format!("{code:?}");
    match code {
        ErrorCode::DnsTimeout
        | ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout => Error::TimeoutError(text),
        ErrorCode::HttpRequestUriInvalid
        | ErrorCode::HttpRequestUriTooLong
        | ErrorCode::HttpRequestMethodInvalid => Error::InvalidUrl(text),
        ErrorCode::HttpProtocolError
        | ErrorCode::HttpResponseIncomplete
        | ErrorCode::HttpResponseTransferCoding(_)
        | ErrorCode::HttpResponseContentCoding(_) => Error::ProtocolError(text),
        _ => Error::UnexpectedError(text),
    }
}

fn from_rc_error(e: Error) -> ErrorCode {
    let msg = match e {
        Error::InvalidUrl(s) => format!("invalid url: {s}"),
        Error::TimeoutError(s) => format!("timeout: {s}"),
        Error::ProtocolError(s) => format!("protocol error: {s}"),
        Error::UnexpectedError(s) => format!("unexpected error: {s}"),
    };
    ErrorCode::InternalError(Some(msg))
}

impl wasi::http::types::Host for InstanceState {
    fn convert_error(&mut self, err: HttpError) -> wasmtime::Result<Error> {
        Ok(to_rc_error(err.downcast()?))
    }
}

shared_http_impls!(
    wasi,
    fields {
        fn new(&mut self, entries: Vec<(String, Vec<u8>)>) -> wasmtime::Result<Resource<Fields>> {
            latest_http::types::HostFields::from_list(&mut self.http(), entries)
                .map_err(header_trap)
        }

        fn set(
            &mut self,
            f: Resource<Fields>,
            name: String,
            values: Vec<Vec<u8>>,
        ) -> wasmtime::Result<()> {
            latest_http::types::HostFields::set(&mut self.http(), f, name, values)
                .map_err(header_trap)
        }

        fn delete(&mut self, f: Resource<Fields>, name: String) -> wasmtime::Result<()> {
            latest_http::types::HostFields::delete(&mut self.http(), f, name).map_err(header_trap)
        }

        fn append(
            &mut self,
            f: Resource<Fields>,
            name: String,
            value: Vec<u8>,
        ) -> wasmtime::Result<()> {
            latest_http::types::HostFields::append(&mut self.http(), f, name, value)
                .map_err(header_trap)
        }
    },
    outgoing_request {
        fn new(
            &mut self,
            method: Method,
            path_with_query: Option<String>,
            scheme: Option<Scheme>,
            authority: Option<String>,
            headers: Resource<Fields>,
        ) -> wasmtime::Result<Resource<OutgoingRequest>> {
            use latest_http::types::HostOutgoingRequest as R;
            // The headers are borrowed here but owned by the 0.2 constructor.
            let headers = latest_http::types::HostFields::clone(&mut self.http(), headers)?;
            let mut http = self.http();
            let request = R::new(&mut http, headers)?;
            let this = || Resource::new_borrow(request.rep());
            // 0.2 requires an authority; this snapshot let the port stand for it.
            let authority = authority.unwrap_or_else(|| match &scheme {
                Some(Scheme::Https) | None => ":443".to_string(),
                Some(_) => ":80".to_string(),
            });
            let ok = R::set_method(&mut http, this(), method.into())?.is_ok()
                && R::set_path_with_query(&mut http, this(), path_with_query)?.is_ok()
                && R::set_scheme(&mut http, this(), scheme.map(Into::into))?.is_ok()
                && R::set_authority(&mut http, this(), Some(authority))?.is_ok();
            if !ok {
                R::drop(&mut http, request)?;
                wasmtime::bail!(
                    "invalid method, path, scheme or authority for an outgoing request"
                );
            }
            Ok(request)
        }

        fn write(
            &mut self,
            r: Resource<OutgoingRequest>,
        ) -> wasmtime::Result<Result<Resource<OutgoingBody>, ()>> {
            latest_http::types::HostOutgoingRequest::body(&mut self.http(), r)
        }
    },
    response_outparam {
        fn set(
            &mut self,
            out: Resource<ResponseOutparam>,
            response: Result<Resource<OutgoingResponse>, Error>,
        ) -> wasmtime::Result<()> {
            let response = response.map_err(from_rc_error);
            latest_http::types::HostResponseOutparam::set(&mut self.http(), out, response)
        }
    },
    future_trailers {
        fn get(
            &mut self,
            t: Resource<FutureTrailers>,
        ) -> wasmtime::Result<Option<Result<Resource<Fields>, Error>>> {
            match latest_http::types::HostFutureTrailers::get(&mut self.http(), t)? {
                None => Ok(None),
                Some(Ok(Ok(Some(trailers)))) => Ok(Some(Ok(trailers))),
                // This snapshot cannot say "no trailers": hand out an empty set.
                Some(Ok(Ok(None))) => Ok(Some(Ok(latest_http::types::HostFields::new(
                    &mut self.http(),
                )?))),
                Some(Ok(Err(code))) => Ok(Some(Err(to_rc_error(code)))),
                Some(Err(())) => wasmtime::bail!("the trailers were already retrieved"),
            }
        }
    },
    outgoing_response {
        fn new(
            &mut self,
            status: u16,
            headers: Resource<Fields>,
        ) -> wasmtime::Result<Resource<OutgoingResponse>> {
            use latest_http::types::HostOutgoingResponse as R;
            // The headers are borrowed here but owned by the 0.2 constructor.
            let headers = latest_http::types::HostFields::clone(&mut self.http(), headers)?;
            let mut http = self.http();
            let response = R::new(&mut http, headers)?;
            if R::set_status_code(&mut http, Resource::new_borrow(response.rep()), status)?
                .is_err()
            {
                R::drop(&mut http, response)?;
                wasmtime::bail!("invalid HTTP status code {status}");
            }
            Ok(response)
        }

        fn write(
            &mut self,
            r: Resource<OutgoingResponse>,
        ) -> wasmtime::Result<Result<Resource<OutgoingBody>, ()>> {
            latest_http::types::HostOutgoingResponse::body(&mut self.http(), r)
        }
    },
    outgoing_body {
        fn finish(
            &mut self,
            b: Resource<OutgoingBody>,
            trailers: Option<Resource<Fields>>,
        ) -> wasmtime::Result<()> {
            // No error channel in this snapshot: a body that does not match its
            // content-length traps, as the guest cannot be told otherwise.
            latest_http::types::HostOutgoingBody::finish(&mut self.http(), b, trailers).map_err(
                |e| match e.downcast() {
                    Ok(code) => {
                        wasmtime::format_err!("finishing the outgoing body failed: {code:?}")
                    }
                    Err(trap) => trap,
                },
            )
        }
    },
    future_incoming_response {
        fn get(
            &mut self,
            f: Resource<FutureIncomingResponse>,
        ) -> wasmtime::Result<Option<Result<Result<Resource<IncomingResponse>, Error>, ()>>> {
            let response =
                latest_http::types::HostFutureIncomingResponse::get(&mut self.http(), f)?;
            Ok(response.map(|r| r.map(|r| r.map_err(to_rc_error))))
        }
    }
);

impl wasi::http::outgoing_handler::Host for InstanceState {
    fn handle(
        &mut self,
        request: Resource<OutgoingRequest>,
        options: Option<RequestOptions>,
    ) -> Result<Resource<FutureIncomingResponse>, HttpError> {
        use latest_http::types::HostRequestOptions as O;
        let options = match options {
            Some(o) => Some(request_options(self, o).map_err(HttpError::trap)?),
            None => None,
        };
        let rep = options.as_ref().map(|o| o.rep());
        let mut http = self.http();
        let result = latest_http::outgoing_handler::Host::handle(&mut http, request, options);
        // The 0.2 implementation only reads the options; they were ours.
        if let Some(rep) = rep {
            O::drop(&mut http, Resource::new_own(rep)).map_err(HttpError::trap)?;
        }
        result
    }
}

/// The 0.2 `request-options` resource for this snapshot's record.
fn request_options(
    state: &mut InstanceState,
    o: RequestOptions,
) -> wasmtime::Result<Resource<latest_http::types::RequestOptions>> {
    use latest_http::types::HostRequestOptions as O;
    // Milliseconds here, nanoseconds in 0.2.
    let ns = |ms: Option<u32>| ms.map(|ms| u64::from(ms) * 1_000_000);
    let mut http = state.http();
    let opts = O::new(&mut http)?;
    let this = || Resource::new_borrow(opts.rep());
    let ok = O::set_connect_timeout(&mut http, this(), ns(o.connect_timeout_ms))?.is_ok()
        && O::set_first_byte_timeout(&mut http, this(), ns(o.first_byte_timeout_ms))?.is_ok()
        && O::set_between_bytes_timeout(&mut http, this(), ns(o.between_bytes_timeout_ms))?.is_ok();
    if !ok {
        O::drop(&mut http, opts)?;
        wasmtime::bail!("invalid outgoing request options");
    }
    Ok(opts)
}
