/// wasi:http/types resources. The blocks add each resource's methods that
/// differ between versions: constructors, `write` (renamed `body`), header
/// mutation (which gained `header-error`) and everything that carries an
/// error (`error` in rc-2023-10-18, `error-code` from rc-2023-11-10 on).
/// `types::Host`, `outgoing-handler` and rc-2023-11-10's `request-options`
/// stay whole in the version files. Brings `Resource`, `InstanceState`,
/// `WasiHttpView`, `latest_http`, the 0.2 resource types, the version's
/// `Method` and `Scheme` and the io resources into scope.
macro_rules! shared_http_impls {
    (
        $w:ident,
        fields { $($fields:tt)* },
        outgoing_request { $($outgoing_request:tt)* },
        response_outparam { $($response_outparam:tt)* },
        future_trailers { $($future_trailers:tt)* },
        outgoing_response { $($outgoing_response:tt)* },
        outgoing_body { $($outgoing_body:tt)* },
        future_incoming_response { $($future_incoming_response:tt)* }
    ) => {
        use wasmtime::component::Resource;
        use wasmtime_wasi_http::WasiHttpView;
        use $crate::host::wasi_rc::latest::io::poll::Pollable;
        use $crate::host::wasi_rc::latest::io::streams::{InputStream, OutputStream};
        use $crate::host::wasi_rc::latest_http;
        use $crate::host::InstanceState;
        use $w::http::types::{Method, Scheme};
        use latest_http::types::{
            Fields, FutureIncomingResponse, FutureTrailers, IncomingBody, IncomingRequest,
            IncomingResponse, OutgoingBody, OutgoingRequest, OutgoingResponse, ResponseOutparam,
        };

        impl $w::http::types::HostFields for InstanceState {
            fn get(&mut self, f: Resource<Fields>, name: String) -> wasmtime::Result<Vec<Vec<u8>>> {
                latest_http::types::HostFields::get(&mut self.http(), f, name)
            }
            fn entries(
                &mut self,
                f: Resource<Fields>,
            ) -> wasmtime::Result<Vec<(String, Vec<u8>)>> {
                latest_http::types::HostFields::entries(&mut self.http(), f)
            }
            fn clone(&mut self, f: Resource<Fields>) -> wasmtime::Result<Resource<Fields>> {
                latest_http::types::HostFields::clone(&mut self.http(), f)
            }
            fn drop(&mut self, f: Resource<Fields>) -> wasmtime::Result<()> {
                latest_http::types::HostFields::drop(&mut self.http(), f)
            }
            $($fields)*
        }

        impl $w::http::types::HostIncomingRequest for InstanceState {
            fn method(&mut self, r: Resource<IncomingRequest>) -> wasmtime::Result<Method> {
                Ok(latest_http::types::HostIncomingRequest::method(&mut self.http(), r)?.into())
            }
            fn path_with_query(
                &mut self,
                r: Resource<IncomingRequest>,
            ) -> wasmtime::Result<Option<String>> {
                latest_http::types::HostIncomingRequest::path_with_query(&mut self.http(), r)
            }
            fn scheme(
                &mut self,
                r: Resource<IncomingRequest>,
            ) -> wasmtime::Result<Option<Scheme>> {
                let scheme = latest_http::types::HostIncomingRequest::scheme(&mut self.http(), r)?;
                Ok(scheme.map(Into::into))
            }
            fn authority(
                &mut self,
                r: Resource<IncomingRequest>,
            ) -> wasmtime::Result<Option<String>> {
                latest_http::types::HostIncomingRequest::authority(&mut self.http(), r)
            }
            fn headers(
                &mut self,
                r: Resource<IncomingRequest>,
            ) -> wasmtime::Result<Resource<Fields>> {
                latest_http::types::HostIncomingRequest::headers(&mut self.http(), r)
            }
            fn consume(
                &mut self,
                r: Resource<IncomingRequest>,
            ) -> wasmtime::Result<Result<Resource<IncomingBody>, ()>> {
                latest_http::types::HostIncomingRequest::consume(&mut self.http(), r)
            }
            fn drop(&mut self, r: Resource<IncomingRequest>) -> wasmtime::Result<()> {
                latest_http::types::HostIncomingRequest::drop(&mut self.http(), r)
            }
        }

        impl $w::http::types::HostOutgoingRequest for InstanceState {
            fn drop(&mut self, r: Resource<OutgoingRequest>) -> wasmtime::Result<()> {
                latest_http::types::HostOutgoingRequest::drop(&mut self.http(), r)
            }
            $($outgoing_request)*
        }

        impl $w::http::types::HostResponseOutparam for InstanceState {
            fn drop(&mut self, out: Resource<ResponseOutparam>) -> wasmtime::Result<()> {
                latest_http::types::HostResponseOutparam::drop(&mut self.http(), out)
            }
            $($response_outparam)*
        }

        impl $w::http::types::HostIncomingResponse for InstanceState {
            fn status(&mut self, r: Resource<IncomingResponse>) -> wasmtime::Result<u16> {
                latest_http::types::HostIncomingResponse::status(&mut self.http(), r)
            }
            fn headers(
                &mut self,
                r: Resource<IncomingResponse>,
            ) -> wasmtime::Result<Resource<Fields>> {
                latest_http::types::HostIncomingResponse::headers(&mut self.http(), r)
            }
            fn consume(
                &mut self,
                r: Resource<IncomingResponse>,
            ) -> wasmtime::Result<Result<Resource<IncomingBody>, ()>> {
                latest_http::types::HostIncomingResponse::consume(&mut self.http(), r)
            }
            fn drop(&mut self, r: Resource<IncomingResponse>) -> wasmtime::Result<()> {
                latest_http::types::HostIncomingResponse::drop(&mut self.http(), r)
            }
        }

        impl $w::http::types::HostIncomingBody for InstanceState {
            fn stream(
                &mut self,
                b: Resource<IncomingBody>,
            ) -> wasmtime::Result<Result<Resource<InputStream>, ()>> {
                latest_http::types::HostIncomingBody::stream(&mut self.http(), b)
            }
            fn finish(
                &mut self,
                b: Resource<IncomingBody>,
            ) -> wasmtime::Result<Resource<FutureTrailers>> {
                latest_http::types::HostIncomingBody::finish(&mut self.http(), b)
            }
            fn drop(&mut self, b: Resource<IncomingBody>) -> wasmtime::Result<()> {
                latest_http::types::HostIncomingBody::drop(&mut self.http(), b)
            }
        }

        impl $w::http::types::HostFutureTrailers for InstanceState {
            fn subscribe(
                &mut self,
                t: Resource<FutureTrailers>,
            ) -> wasmtime::Result<Resource<Pollable>> {
                latest_http::types::HostFutureTrailers::subscribe(&mut self.http(), t)
            }
            fn drop(&mut self, t: Resource<FutureTrailers>) -> wasmtime::Result<()> {
                latest_http::types::HostFutureTrailers::drop(&mut self.http(), t)
            }
            $($future_trailers)*
        }

        impl $w::http::types::HostOutgoingResponse for InstanceState {
            fn drop(&mut self, r: Resource<OutgoingResponse>) -> wasmtime::Result<()> {
                latest_http::types::HostOutgoingResponse::drop(&mut self.http(), r)
            }
            $($outgoing_response)*
        }

        impl $w::http::types::HostOutgoingBody for InstanceState {
            fn write(
                &mut self,
                b: Resource<OutgoingBody>,
            ) -> wasmtime::Result<Result<Resource<OutputStream>, ()>> {
                latest_http::types::HostOutgoingBody::write(&mut self.http(), b)
            }
            fn drop(&mut self, b: Resource<OutgoingBody>) -> wasmtime::Result<()> {
                latest_http::types::HostOutgoingBody::drop(&mut self.http(), b)
            }
            $($outgoing_body)*
        }

        impl $w::http::types::HostFutureIncomingResponse for InstanceState {
            fn subscribe(
                &mut self,
                f: Resource<FutureIncomingResponse>,
            ) -> wasmtime::Result<Resource<Pollable>> {
                latest_http::types::HostFutureIncomingResponse::subscribe(&mut self.http(), f)
            }
            fn drop(&mut self, f: Resource<FutureIncomingResponse>) -> wasmtime::Result<()> {
                latest_http::types::HostFutureIncomingResponse::drop(&mut self.http(), f)
            }
            $($future_incoming_response)*
        }
    };
}
