//! wasi:http/types and outgoing-handler: 0.2.0 minus `fields.has` and
//! informational responses, with `future-trailers.get` one `result` shallower.

use wasmtime_wasi_http::p2::{HeaderError, HttpError};

use super::bindings::wasi;
use crate::host::wasi_rc::latest;
use crate::host::wasi_rc::latest_http::types::RequestOptions;
use wasi::http::types::ErrorCode;

impl wasi::http::types::Host for InstanceState {
    fn http_error_code(
        &mut self,
        err: Resource<latest::io::error::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        let code = latest_http::types::Host::http_error_code(&mut self.http(), err)?;
        Ok(code.map(Into::into))
    }

    fn convert_error_code(&mut self, err: HttpError) -> wasmtime::Result<ErrorCode> {
        Ok(err.downcast()?.into())
    }

    fn convert_header_error(
        &mut self,
        err: HeaderError,
    ) -> wasmtime::Result<wasi::http::types::HeaderError> {
        Ok(err.downcast()?.into())
    }
}

shared_http_impls!(
    wasi,
    fields {
        fn new(&mut self) -> wasmtime::Result<Resource<Fields>> {
            latest_http::types::HostFields::new(&mut self.http())
        }

        fn from_list(
            &mut self,
            entries: Vec<(String, Vec<u8>)>,
        ) -> Result<Resource<Fields>, HeaderError> {
            latest_http::types::HostFields::from_list(&mut self.http(), entries)
        }

        fn set(
            &mut self,
            f: Resource<Fields>,
            name: String,
            values: Vec<Vec<u8>>,
        ) -> Result<(), HeaderError> {
            latest_http::types::HostFields::set(&mut self.http(), f, name, values)
        }

        fn delete(&mut self, f: Resource<Fields>, name: String) -> Result<(), HeaderError> {
            latest_http::types::HostFields::delete(&mut self.http(), f, name)
        }

        fn append(
            &mut self,
            f: Resource<Fields>,
            name: String,
            value: Vec<u8>,
        ) -> Result<(), HeaderError> {
            latest_http::types::HostFields::append(&mut self.http(), f, name, value)
        }
    },
    outgoing_request {
        fn new(
            &mut self,
            headers: Resource<Fields>,
        ) -> wasmtime::Result<Resource<OutgoingRequest>> {
            latest_http::types::HostOutgoingRequest::new(&mut self.http(), headers)
        }

        fn body(
            &mut self,
            r: Resource<OutgoingRequest>,
        ) -> wasmtime::Result<Result<Resource<OutgoingBody>, ()>> {
            latest_http::types::HostOutgoingRequest::body(&mut self.http(), r)
        }

        fn method(&mut self, r: Resource<OutgoingRequest>) -> wasmtime::Result<Method> {
            Ok(latest_http::types::HostOutgoingRequest::method(&mut self.http(), r)?.into())
        }

        fn set_method(
            &mut self,
            r: Resource<OutgoingRequest>,
            m: Method,
        ) -> wasmtime::Result<Result<(), ()>> {
            latest_http::types::HostOutgoingRequest::set_method(&mut self.http(), r, m.into())
        }

        fn path_with_query(
            &mut self,
            r: Resource<OutgoingRequest>,
        ) -> wasmtime::Result<Option<String>> {
            latest_http::types::HostOutgoingRequest::path_with_query(&mut self.http(), r)
        }

        fn set_path_with_query(
            &mut self,
            r: Resource<OutgoingRequest>,
            path: Option<String>,
        ) -> wasmtime::Result<Result<(), ()>> {
            latest_http::types::HostOutgoingRequest::set_path_with_query(&mut self.http(), r, path)
        }

        fn scheme(&mut self, r: Resource<OutgoingRequest>) -> wasmtime::Result<Option<Scheme>> {
            let scheme = latest_http::types::HostOutgoingRequest::scheme(&mut self.http(), r)?;
            Ok(scheme.map(Into::into))
        }

        fn set_scheme(
            &mut self,
            r: Resource<OutgoingRequest>,
            scheme: Option<Scheme>,
        ) -> wasmtime::Result<Result<(), ()>> {
            latest_http::types::HostOutgoingRequest::set_scheme(
                &mut self.http(),
                r,
                scheme.map(Into::into),
            )
        }

        fn authority(&mut self, r: Resource<OutgoingRequest>) -> wasmtime::Result<Option<String>> {
            latest_http::types::HostOutgoingRequest::authority(&mut self.http(), r)
        }

        fn set_authority(
            &mut self,
            r: Resource<OutgoingRequest>,
            authority: Option<String>,
        ) -> wasmtime::Result<Result<(), ()>> {
            latest_http::types::HostOutgoingRequest::set_authority(&mut self.http(), r, authority)
        }

        fn headers(&mut self, r: Resource<OutgoingRequest>) -> wasmtime::Result<Resource<Fields>> {
            latest_http::types::HostOutgoingRequest::headers(&mut self.http(), r)
        }
    },
    response_outparam {
        fn set(
            &mut self,
            out: Resource<ResponseOutparam>,
            response: Result<Resource<OutgoingResponse>, ErrorCode>,
        ) -> wasmtime::Result<()> {
            let response = response.map_err(Into::into);
            latest_http::types::HostResponseOutparam::set(&mut self.http(), out, response)
        }
    },
    future_trailers {
        fn get(
            &mut self,
            t: Resource<FutureTrailers>,
        ) -> wasmtime::Result<Option<Result<Option<Resource<Fields>>, ErrorCode>>> {
            match latest_http::types::HostFutureTrailers::get(&mut self.http(), t)? {
                None => Ok(None),
                Some(Ok(result)) => Ok(Some(result.map_err(Into::into))),
                // This snapshot has no way to say "already taken".
                Some(Err(())) => wasmtime::bail!("the trailers were already retrieved"),
            }
        }
    },
    outgoing_response {
        fn new(
            &mut self,
            headers: Resource<Fields>,
        ) -> wasmtime::Result<Resource<OutgoingResponse>> {
            latest_http::types::HostOutgoingResponse::new(&mut self.http(), headers)
        }

        fn status_code(&mut self, r: Resource<OutgoingResponse>) -> wasmtime::Result<u16> {
            latest_http::types::HostOutgoingResponse::status_code(&mut self.http(), r)
        }

        fn set_status_code(
            &mut self,
            r: Resource<OutgoingResponse>,
            status: u16,
        ) -> wasmtime::Result<Result<(), ()>> {
            latest_http::types::HostOutgoingResponse::set_status_code(&mut self.http(), r, status)
        }

        fn headers(
            &mut self,
            r: Resource<OutgoingResponse>,
        ) -> wasmtime::Result<Resource<Fields>> {
            latest_http::types::HostOutgoingResponse::headers(&mut self.http(), r)
        }

        fn body(
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
        ) -> Result<(), HttpError> {
            latest_http::types::HostOutgoingBody::finish(&mut self.http(), b, trailers)
        }
    },
    future_incoming_response {
        fn get(
            &mut self,
            f: Resource<FutureIncomingResponse>,
        ) -> wasmtime::Result<Option<Result<Result<Resource<IncomingResponse>, ErrorCode>, ()>>>
        {
            let response =
                latest_http::types::HostFutureIncomingResponse::get(&mut self.http(), f)?;
            Ok(response.map(|r| r.map(|r| r.map_err(Into::into))))
        }
    }
);

/// Timeouts are `duration`s (nanoseconds) despite the `-ms` names, as in 0.2.
impl wasi::http::types::HostRequestOptions for InstanceState {
    fn new(&mut self) -> wasmtime::Result<Resource<RequestOptions>> {
        latest_http::types::HostRequestOptions::new(&mut self.http())
    }

    fn connect_timeout_ms(&mut self, o: Resource<RequestOptions>) -> wasmtime::Result<Option<u64>> {
        latest_http::types::HostRequestOptions::connect_timeout(&mut self.http(), o)
    }

    fn set_connect_timeout_ms(
        &mut self,
        o: Resource<RequestOptions>,
        d: Option<u64>,
    ) -> wasmtime::Result<Result<(), ()>> {
        latest_http::types::HostRequestOptions::set_connect_timeout(&mut self.http(), o, d)
    }

    fn first_byte_timeout_ms(
        &mut self,
        o: Resource<RequestOptions>,
    ) -> wasmtime::Result<Option<u64>> {
        latest_http::types::HostRequestOptions::first_byte_timeout(&mut self.http(), o)
    }

    fn set_first_byte_timeout_ms(
        &mut self,
        o: Resource<RequestOptions>,
        d: Option<u64>,
    ) -> wasmtime::Result<Result<(), ()>> {
        latest_http::types::HostRequestOptions::set_first_byte_timeout(&mut self.http(), o, d)
    }

    fn between_bytes_timeout_ms(
        &mut self,
        o: Resource<RequestOptions>,
    ) -> wasmtime::Result<Option<u64>> {
        latest_http::types::HostRequestOptions::between_bytes_timeout(&mut self.http(), o)
    }

    fn set_between_bytes_timeout_ms(
        &mut self,
        o: Resource<RequestOptions>,
        d: Option<u64>,
    ) -> wasmtime::Result<Result<(), ()>> {
        latest_http::types::HostRequestOptions::set_between_bytes_timeout(&mut self.http(), o, d)
    }

    fn drop(&mut self, o: Resource<RequestOptions>) -> wasmtime::Result<()> {
        latest_http::types::HostRequestOptions::drop(&mut self.http(), o)
    }
}

impl wasi::http::outgoing_handler::Host for InstanceState {
    fn handle(
        &mut self,
        request: Resource<OutgoingRequest>,
        options: Option<Resource<RequestOptions>>,
    ) -> Result<Resource<FutureIncomingResponse>, HttpError> {
        latest_http::outgoing_handler::Host::handle(&mut self.http(), request, options)
    }
}
