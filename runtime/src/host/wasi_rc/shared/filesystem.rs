/// wasi:filesystem. Values convert with `.into()` (see `shared_conversions!`),
/// errors pass through as `FsError` and convert in `convert_error_code`. The
/// block adds the descriptor methods that differ between versions. Expects
/// `InstanceState`, `Resource`, `FsError`, `latest` and the view trait
/// `WasiFilesystemView` in scope.
macro_rules! shared_filesystem_impls {
    ($w:ident, descriptor { $($extra:tt)* }) => {
        use $w::filesystem::types::{
            Advice, DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntry,
            MetadataHashValue, NewTimestamp, PathFlags,
        };
        use latest::filesystem::types::{Descriptor, DirectoryEntryStream};
        use latest::filesystem::types::{
            HostDescriptor as LatestFd, HostDirectoryEntryStream as LatestDirs,
        };

        type FsResult<T> = Result<T, FsError>;

        impl $w::filesystem::types::Host for InstanceState {
            fn filesystem_error_code(
                &mut self,
                err: Resource<latest::io::error::Error>,
            ) -> wasmtime::Result<Option<$w::filesystem::types::ErrorCode>> {
                let code = latest::filesystem::types::Host::filesystem_error_code(
                    &mut self.filesystem(),
                    err,
                )?;
                Ok(code.map(Into::into))
            }

            fn convert_error_code(
                &mut self,
                err: FsError,
            ) -> wasmtime::Result<$w::filesystem::types::ErrorCode> {
                Ok(err.downcast()?.into())
            }
        }

        impl $w::filesystem::types::HostDescriptor for InstanceState {
            fn read_via_stream(
                &mut self,
                fd: Resource<Descriptor>,
                offset: u64,
            ) -> FsResult<Resource<latest::io::streams::InputStream>> {
                LatestFd::read_via_stream(&mut self.filesystem(), fd, offset)
            }
            fn write_via_stream(
                &mut self,
                fd: Resource<Descriptor>,
                offset: u64,
            ) -> FsResult<Resource<latest::io::streams::OutputStream>> {
                LatestFd::write_via_stream(&mut self.filesystem(), fd, offset)
            }
            fn append_via_stream(
                &mut self,
                fd: Resource<Descriptor>,
            ) -> FsResult<Resource<latest::io::streams::OutputStream>> {
                LatestFd::append_via_stream(&mut self.filesystem(), fd)
            }
            async fn advise(
                &mut self,
                fd: Resource<Descriptor>,
                offset: u64,
                len: u64,
                advice: Advice,
            ) -> FsResult<()> {
                LatestFd::advise(&mut self.filesystem(), fd, offset, len, advice.into())
                    .await
            }
            async fn sync_data(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
                LatestFd::sync_data(&mut self.filesystem(), fd).await
            }
            async fn get_flags(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorFlags> {
                let flags = LatestFd::get_flags(&mut self.filesystem(), fd).await?;
                Ok(flags.into())
            }
            async fn get_type(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorType> {
                let ty = LatestFd::get_type(&mut self.filesystem(), fd).await?;
                Ok(ty.into())
            }
            async fn set_size(&mut self, fd: Resource<Descriptor>, size: u64) -> FsResult<()> {
                LatestFd::set_size(&mut self.filesystem(), fd, size).await
            }
            async fn set_times(
                &mut self,
                fd: Resource<Descriptor>,
                atime: NewTimestamp,
                mtime: NewTimestamp,
            ) -> FsResult<()> {
                LatestFd::set_times(&mut self.filesystem(), fd, atime.into(), mtime.into())
                    .await
            }
            async fn read(
                &mut self,
                fd: Resource<Descriptor>,
                len: u64,
                offset: u64,
            ) -> FsResult<(Vec<u8>, bool)> {
                LatestFd::read(&mut self.filesystem(), fd, len, offset).await
            }
            async fn write(
                &mut self,
                fd: Resource<Descriptor>,
                buf: Vec<u8>,
                offset: u64,
            ) -> FsResult<u64> {
                LatestFd::write(&mut self.filesystem(), fd, buf, offset).await
            }
            async fn read_directory(
                &mut self,
                fd: Resource<Descriptor>,
            ) -> FsResult<Resource<DirectoryEntryStream>> {
                LatestFd::read_directory(&mut self.filesystem(), fd).await
            }
            async fn sync(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
                LatestFd::sync(&mut self.filesystem(), fd).await
            }
            async fn create_directory_at(
                &mut self,
                fd: Resource<Descriptor>,
                path: String,
            ) -> FsResult<()> {
                LatestFd::create_directory_at(&mut self.filesystem(), fd, path)
                    .await
            }
            async fn stat(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorStat> {
                let stat = LatestFd::stat(&mut self.filesystem(), fd).await?;
                Ok(stat.into())
            }
            async fn stat_at(
                &mut self,
                fd: Resource<Descriptor>,
                path_flags: PathFlags,
                path: String,
            ) -> FsResult<DescriptorStat> {
                let stat = LatestFd::stat_at(
                    &mut self.filesystem(),
                    fd,
                    path_flags.into(),
                    path,
                )
                .await?;
                Ok(stat.into())
            }
            async fn set_times_at(
                &mut self,
                fd: Resource<Descriptor>,
                path_flags: PathFlags,
                path: String,
                atime: NewTimestamp,
                mtime: NewTimestamp,
            ) -> FsResult<()> {
                LatestFd::set_times_at(
                    &mut self.filesystem(),
                    fd,
                    path_flags.into(),
                    path,
                    atime.into(),
                    mtime.into(),
                )
                .await
            }
            async fn link_at(
                &mut self,
                fd: Resource<Descriptor>,
                old_path_flags: PathFlags,
                old_path: String,
                new_fd: Resource<Descriptor>,
                new_path: String,
            ) -> FsResult<()> {
                LatestFd::link_at(
                    &mut self.filesystem(),
                    fd,
                    old_path_flags.into(),
                    old_path,
                    new_fd,
                    new_path,
                )
                .await
            }
            async fn readlink_at(
                &mut self,
                fd: Resource<Descriptor>,
                path: String,
            ) -> FsResult<String> {
                LatestFd::readlink_at(&mut self.filesystem(), fd, path).await
            }
            async fn remove_directory_at(
                &mut self,
                fd: Resource<Descriptor>,
                path: String,
            ) -> FsResult<()> {
                LatestFd::remove_directory_at(&mut self.filesystem(), fd, path)
                    .await
            }
            async fn rename_at(
                &mut self,
                fd: Resource<Descriptor>,
                old_path: String,
                new_fd: Resource<Descriptor>,
                new_path: String,
            ) -> FsResult<()> {
                LatestFd::rename_at(
                    &mut self.filesystem(),
                    fd,
                    old_path,
                    new_fd,
                    new_path,
                )
                .await
            }
            async fn symlink_at(
                &mut self,
                fd: Resource<Descriptor>,
                old_path: String,
                new_path: String,
            ) -> FsResult<()> {
                LatestFd::symlink_at(&mut self.filesystem(), fd, old_path, new_path)
                    .await
            }
            async fn unlink_file_at(
                &mut self,
                fd: Resource<Descriptor>,
                path: String,
            ) -> FsResult<()> {
                LatestFd::unlink_file_at(&mut self.filesystem(), fd, path).await
            }
            async fn is_same_object(
                &mut self,
                fd: Resource<Descriptor>,
                other: Resource<Descriptor>,
            ) -> wasmtime::Result<bool> {
                LatestFd::is_same_object(&mut self.filesystem(), fd, other).await
            }
            async fn metadata_hash(
                &mut self,
                fd: Resource<Descriptor>,
            ) -> FsResult<MetadataHashValue> {
                let hash = LatestFd::metadata_hash(&mut self.filesystem(), fd).await?;
                Ok(hash.into())
            }
            async fn metadata_hash_at(
                &mut self,
                fd: Resource<Descriptor>,
                path_flags: PathFlags,
                path: String,
            ) -> FsResult<MetadataHashValue> {
                let hash = LatestFd::metadata_hash_at(
                    &mut self.filesystem(),
                    fd,
                    path_flags.into(),
                    path,
                )
                .await?;
                Ok(hash.into())
            }
            fn drop(&mut self, fd: Resource<Descriptor>) -> wasmtime::Result<()> {
                LatestFd::drop(&mut self.filesystem(), fd)
            }
            $($extra)*
        }

        impl $w::filesystem::types::HostDirectoryEntryStream for InstanceState {
            async fn read_directory_entry(
                &mut self,
                s: Resource<DirectoryEntryStream>,
            ) -> FsResult<Option<DirectoryEntry>> {
                let entry = LatestDirs::read_directory_entry(
                    &mut self.filesystem(),
                    s,
                )
                .await?;
                Ok(entry.map(Into::into))
            }
            fn drop(&mut self, s: Resource<DirectoryEntryStream>) -> wasmtime::Result<()> {
                LatestDirs::drop(&mut self.filesystem(), s)
            }
        }

        impl $w::filesystem::preopens::Host for InstanceState {
            fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<Descriptor>, String)>> {
                latest::filesystem::preopens::Host::get_directories(&mut self.filesystem())
            }
        }
    };
}
