//! wasi:filesystem. 0.2 dropped `access-at`, permission changes, advisory
//! locks and `open-at`'s `modes`; those answer `unsupported`.

use wasmtime::component::Resource;
use wasmtime_wasi::filesystem::WasiFilesystemView as _;
use wasmtime_wasi::p2::FsError;

use super::bindings::wasi;
use crate::host::wasi_rc::latest;
use crate::host::InstanceState;
use latest::filesystem::types::ErrorCode::Unsupported;
use wasi::filesystem::types::{AccessType, Modes, OpenFlags};

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
            _modes: Modes,
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

        fn access_at(
            &mut self,
            _fd: Resource<Descriptor>,
            _path_flags: PathFlags,
            _path: String,
            _type: AccessType,
        ) -> FsResult<()> {
            Err(Unsupported.into())
        }

        fn change_file_permissions_at(
            &mut self,
            _fd: Resource<Descriptor>,
            _path_flags: PathFlags,
            _path: String,
            _modes: Modes,
        ) -> FsResult<()> {
            Err(Unsupported.into())
        }

        fn change_directory_permissions_at(
            &mut self,
            _fd: Resource<Descriptor>,
            _path_flags: PathFlags,
            _path: String,
            _modes: Modes,
        ) -> FsResult<()> {
            Err(Unsupported.into())
        }

        fn lock_shared(&mut self, _fd: Resource<Descriptor>) -> FsResult<()> {
            Err(Unsupported.into())
        }

        fn lock_exclusive(&mut self, _fd: Resource<Descriptor>) -> FsResult<()> {
            Err(Unsupported.into())
        }

        fn try_lock_shared(&mut self, _fd: Resource<Descriptor>) -> FsResult<()> {
            Err(Unsupported.into())
        }

        fn try_lock_exclusive(&mut self, _fd: Resource<Descriptor>) -> FsResult<()> {
            Err(Unsupported.into())
        }

        fn unlock(&mut self, _fd: Resource<Descriptor>) -> FsResult<()> {
            Err(Unsupported.into())
        }
    }
);
