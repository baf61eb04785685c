//! wasi:io: the same shape as 0.2.0.

use wasmtime::component::Resource;
use wasmtime_wasi::p2::{StreamError, StreamResult};

use super::bindings::wasi;
use crate::host::wasi_rc::{latest, table};
use crate::host::InstanceState;
use latest::io::error::Error;
use latest::io::poll::Pollable;
use latest::io::streams::{InputStream, OutputStream};

impl wasi::io::poll::Host for InstanceState {
    async fn poll(&mut self, list: Vec<Resource<Pollable>>) -> wasmtime::Result<Vec<u32>> {
        latest::io::poll::Host::poll(table(self), list).await
    }
}

impl wasi::io::poll::HostPollable for InstanceState {
    async fn block(&mut self, p: Resource<Pollable>) -> wasmtime::Result<()> {
        latest::io::poll::HostPollable::block(table(self), p).await
    }

    async fn ready(&mut self, p: Resource<Pollable>) -> wasmtime::Result<bool> {
        latest::io::poll::HostPollable::ready(table(self), p).await
    }

    fn drop(&mut self, p: Resource<Pollable>) -> wasmtime::Result<()> {
        latest::io::poll::HostPollable::drop(table(self), p)
    }
}

impl wasi::io::error::Host for InstanceState {}

impl wasi::io::error::HostError for InstanceState {
    fn to_debug_string(&mut self, e: Resource<Error>) -> wasmtime::Result<String> {
        latest::io::error::HostError::to_debug_string(table(self), e)
    }

    fn drop(&mut self, e: Resource<Error>) -> wasmtime::Result<()> {
        latest::io::error::HostError::drop(table(self), e)
    }
}

impl wasi::io::streams::Host for InstanceState {
    fn convert_stream_error(
        &mut self,
        err: StreamError,
    ) -> wasmtime::Result<wasi::io::streams::StreamError> {
        match err {
            StreamError::Closed => Ok(wasi::io::streams::StreamError::Closed),
            StreamError::LastOperationFailed(e) => Ok(
                wasi::io::streams::StreamError::LastOperationFailed(table(self).push(e)?),
            ),
            StreamError::Trap(e) => Err(e),
        }
    }
}

shared_stream_impls!(
    wasi,
    input {},
    output {
        fn splice(
            &mut self,
            s: Resource<OutputStream>,
            src: Resource<InputStream>,
            len: u64,
        ) -> StreamResult<u64> {
            latest::io::streams::HostOutputStream::splice(table(self), s, src, len)
        }

        async fn blocking_splice(
            &mut self,
            s: Resource<OutputStream>,
            src: Resource<InputStream>,
            len: u64,
        ) -> StreamResult<u64> {
            latest::io::streams::HostOutputStream::blocking_splice(table(self), s, src, len).await
        }
    }
);
