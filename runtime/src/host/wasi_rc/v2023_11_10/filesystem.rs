//! wasi:filesystem: the same shape as 0.2.0.

use wasmtime::component::Resource;
use wasmtime_wasi::filesystem::WasiFilesystemView as _;
use wasmtime_wasi::p2::FsError;

use super::bindings::wasi;
use crate::host::wasi_rc::latest;
use crate::host::InstanceState;
use wasi::filesystem::types::OpenFlags;

shared_filesystem_impls!(
    wasi,
    descriptor {
        async fn open_at(
            &mut self,
            fd: Resource<Descriptor>,
            path_flags: PathFlags,
            path: String,
            open_flags: OpenFlags,
            flags: DescriptorFlags,
        ) -> FsResult<Resource<Descriptor>> {
            latest::filesystem::types::HostDescriptor::open_at(
                &mut self.filesystem(),
                fd,
                path_flags.into(),
                path,
                open_flags.into(),
                flags.into(),
            )
            .await
        }
    }
);
