//! `spin:key-value/key-value@3.0.0` over the same stores and grants as `fermyon:spin/key-value`.

use wasmtime::component::{Accessor, FutureReader, Resource, StreamReader};
use wasmtime::Result;

use super::bindings::spin::key_value::key_value as v3;
use super::SpinP3;
use crate::host::key_value::{Backend, KvError, StoreHandle};
use crate::host::InstanceState;

impl From<KvError> for v3::Error {
    fn from(e: KvError) -> Self {
        match e {
            KvError::NoSuchStore => Self::NoSuchStore,
            KvError::AccessDenied => Self::AccessDenied,
            KvError::Other(m) => Self::Other(m),
        }
    }
}

fn backend<U>(acc: &Accessor<U, SpinP3>, store: &Resource<StoreHandle>) -> Result<Backend> {
    acc.with(|mut a| a.get().kv_backend(store))
}

impl v3::Host for InstanceState {}

impl v3::HostStore for InstanceState {
    async fn drop(&mut self, store: Resource<StoreHandle>) -> Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

impl<U> v3::HostStoreWithStore<U> for SpinP3 {
    async fn open(
        acc: &Accessor<U, Self>,
        label: String,
    ) -> Result<Result<Resource<StoreHandle>, v3::Error>> {
        acc.with(|mut a| {
            let state = a.get();
            Ok(state.opened(state.open_store(&label))?)
        })
    }

    async fn get(
        acc: &Accessor<U, Self>,
        store: Resource<StoreHandle>,
        key: String,
    ) -> Result<Result<Option<Vec<u8>>, v3::Error>> {
        Ok(backend(acc, &store)?.get(&key).await.map_err(Into::into))
    }

    async fn set(
        acc: &Accessor<U, Self>,
        store: Resource<StoreHandle>,
        key: String,
        value: Vec<u8>,
    ) -> Result<Result<(), v3::Error>> {
        let backend = backend(acc, &store)?;
        Ok(backend.set(&key, &value).await.map_err(Into::into))
    }

    async fn delete(
        acc: &Accessor<U, Self>,
        store: Resource<StoreHandle>,
        key: String,
    ) -> Result<Result<(), v3::Error>> {
        Ok(backend(acc, &store)?.delete(&key).await.map_err(Into::into))
    }

    async fn exists(
        acc: &Accessor<U, Self>,
        store: Resource<StoreHandle>,
        key: String,
    ) -> Result<Result<bool, v3::Error>> {
        Ok(backend(acc, &store)?.exists(&key).await.map_err(Into::into))
    }

    /// The keys are read in one go (as the p2 interface does) and then streamed to the guest;
    /// a failed read is an empty stream whose future carries the error.
    async fn get_keys(
        acc: &Accessor<U, Self>,
        store: Resource<StoreHandle>,
    ) -> Result<(StreamReader<String>, FutureReader<Result<(), v3::Error>>)> {
        let (keys, outcome) = match backend(acc, &store)?.keys().await {
            Ok(keys) => (keys, Ok(())),
            Err(e) => (Vec::new(), Err(v3::Error::from(e))),
        };
        acc.with(|mut a| {
            let keys = StreamReader::new(&mut a, keys)?;
            let done = FutureReader::new(&mut a, async move { Ok::<_, wasmtime::Error>(outcome) })?;
            Ok((keys, done))
        })
    }
}
