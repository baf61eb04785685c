/// wasi:io/streams input and output streams; the `input`/`output` blocks add
/// the methods that differ between versions (`splice` took an owned stream in
/// rc-2023-10-18). Expects `InstanceState`, `Resource`, `InputStream`,
/// `OutputStream`, `Pollable`, `StreamResult`, `latest` and `table` in scope.
macro_rules! shared_stream_impls {
    ($w:ident, input { $($in_extra:tt)* }, output { $($out_extra:tt)* }) => {
        impl $w::io::streams::HostInputStream for InstanceState {
            fn read(&mut self, s: Resource<InputStream>, len: u64) -> StreamResult<Vec<u8>> {
                latest::io::streams::HostInputStream::read(table(self), s, len)
            }
            async fn blocking_read(
                &mut self,
                s: Resource<InputStream>,
                len: u64,
            ) -> StreamResult<Vec<u8>> {
                latest::io::streams::HostInputStream::blocking_read(table(self), s, len).await
            }
            fn skip(&mut self, s: Resource<InputStream>, len: u64) -> StreamResult<u64> {
                latest::io::streams::HostInputStream::skip(table(self), s, len)
            }
            async fn blocking_skip(
                &mut self,
                s: Resource<InputStream>,
                len: u64,
            ) -> StreamResult<u64> {
                latest::io::streams::HostInputStream::blocking_skip(table(self), s, len).await
            }
            fn subscribe(
                &mut self,
                s: Resource<InputStream>,
            ) -> wasmtime::Result<Resource<Pollable>> {
                latest::io::streams::HostInputStream::subscribe(table(self), s)
            }
            async fn drop(&mut self, s: Resource<InputStream>) -> wasmtime::Result<()> {
                latest::io::streams::HostInputStream::drop(table(self), s).await
            }
            $($in_extra)*
        }

        impl $w::io::streams::HostOutputStream for InstanceState {
            fn check_write(&mut self, s: Resource<OutputStream>) -> StreamResult<u64> {
                latest::io::streams::HostOutputStream::check_write(table(self), s)
            }
            fn write(&mut self, s: Resource<OutputStream>, bytes: Vec<u8>) -> StreamResult<()> {
                latest::io::streams::HostOutputStream::write(table(self), s, bytes)
            }
            async fn blocking_write_and_flush(
                &mut self,
                s: Resource<OutputStream>,
                bytes: Vec<u8>,
            ) -> StreamResult<()> {
                latest::io::streams::HostOutputStream::blocking_write_and_flush(
                    table(self),
                    s,
                    bytes,
                )
                .await
            }
            fn flush(&mut self, s: Resource<OutputStream>) -> StreamResult<()> {
                latest::io::streams::HostOutputStream::flush(table(self), s)
            }
            async fn blocking_flush(&mut self, s: Resource<OutputStream>) -> StreamResult<()> {
                latest::io::streams::HostOutputStream::blocking_flush(table(self), s).await
            }
            fn subscribe(
                &mut self,
                s: Resource<OutputStream>,
            ) -> wasmtime::Result<Resource<Pollable>> {
                latest::io::streams::HostOutputStream::subscribe(table(self), s)
            }
            fn write_zeroes(&mut self, s: Resource<OutputStream>, len: u64) -> StreamResult<()> {
                latest::io::streams::HostOutputStream::write_zeroes(table(self), s, len)
            }
            async fn blocking_write_zeroes_and_flush(
                &mut self,
                s: Resource<OutputStream>,
                len: u64,
            ) -> StreamResult<()> {
                latest::io::streams::HostOutputStream::blocking_write_zeroes_and_flush(
                    table(self),
                    s,
                    len,
                )
                .await
            }
            async fn drop(&mut self, s: Resource<OutputStream>) -> wasmtime::Result<()> {
                latest::io::streams::HostOutputStream::drop(table(self), s).await
            }
            $($out_extra)*
        }
    };
}
