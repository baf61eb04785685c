//! wasi:io: `poll-list`/`poll-one` became `poll` and `pollable.block`, the
//! stream error moved to its own interface, and `splice` now borrows its source.

use wasmtime::component::Resource;
use wasmtime_wasi::p2::{StreamError, StreamResult};

use super::bindings::wasi;
use crate::host::wasi_rc::{latest, table};
use crate::host::InstanceState;
use latest::io::poll::Pollable;
use latest::io::streams::{InputStream, OutputStream};

impl wasi::io::poll::Host for InstanceState {
    async fn poll_list(&mut self, list: Vec<Resource<Pollable>>) -> wasmtime::Result<Vec<u32>> {
        latest::io::poll::Host::poll(table(self), list).await
    }

    async fn poll_one(&mut self, p: Resource<Pollable>) -> wasmtime::Result<()> {
        latest::io::poll::HostPollable::block(table(self), p).await
    }
}

impl wasi::io::poll::HostPollable for InstanceState {
    fn drop(&mut self, p: Resource<Pollable>) -> wasmtime::Result<()> {
        latest::io::poll::HostPollable::drop(table(self), p)
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

impl wasi::io::streams::HostError for InstanceState {
    fn to_debug_string(
        &mut self,
        e: Resource<latest::io::error::Error>,
    ) -> wasmtime::Result<String> {
        latest::io::error::HostError::to_debug_string(table(self), e)
    }

    fn drop(&mut self, e: Resource<latest::io::error::Error>) -> wasmtime::Result<()> {
        latest::io::error::HostError::drop(table(self), e)
    }
}

/// The guest gave up its handle to `src`: splice from a borrow, then drop it.
fn consume_source(state: &mut InstanceState, src: Resource<InputStream>) -> StreamResult<()> {
    // Dropping the stream (not `cancel`ling it) is fine: nothing awaits it.
    table(state)
        .delete(src)
        .map_err(|e| StreamError::Trap(e.into()))?;
    Ok(())
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
            let from = Resource::new_borrow(src.rep());
            let result = latest::io::streams::HostOutputStream::splice(table(self), s, from, len);
            consume_source(self, src)?;
            result
        }

        async fn blocking_splice(
            &mut self,
            s: Resource<OutputStream>,
            src: Resource<InputStream>,
            len: u64,
        ) -> StreamResult<u64> {
            let from = Resource::new_borrow(src.rep());
            let result = latest::io::streams::HostOutputStream::blocking_splice(
                table(self),
                s,
                from,
                len,
            )
            .await;
            consume_source(self, src)?;
            result
        }

        /// Removed after this snapshot: splices until `src` is closed.
        async fn forward(
            &mut self,
            s: Resource<OutputStream>,
            src: Resource<InputStream>,
        ) -> StreamResult<u64> {
            let mut total = 0;
            let result = loop {
                let (out, from) = (Resource::new_borrow(s.rep()), Resource::new_borrow(src.rep()));
                match latest::io::streams::HostOutputStream::blocking_splice(
                    table(self),
                    out,
                    from,
                    64 * 1024,
                )
                .await
                {
                    Ok(n) => total += n,
                    Err(StreamError::Closed) => break Ok(total),
                    Err(e) => break Err(e),
                }
            };
            consume_source(self, src)?;
            result
        }
    }
);
