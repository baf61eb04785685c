//! Guest-facing key-value interfaces on top of [`Backend`].

use wasmtime::component::Resource;
use wasmtime::Result;

use super::{Backend, CasHandle, KvError, StoreHandle};
use crate::host::bindings::fermyon::spin::key_value as spin_kv;
use crate::host::bindings::wasi::keyvalue::{atomics, batch, store as wasi_kv};
use crate::host::InstanceState;

impl From<KvError> for spin_kv::Error {
    fn from(e: KvError) -> Self {
        match e {
            KvError::NoSuchStore => Self::NoSuchStore,
            KvError::AccessDenied => Self::AccessDenied,
            KvError::Other(m) => Self::Other(m),
        }
    }
}

impl From<KvError> for wasi_kv::Error {
    fn from(e: KvError) -> Self {
        match e {
            KvError::NoSuchStore => Self::NoSuchStore,
            KvError::AccessDenied => Self::AccessDenied,
            KvError::Other(m) => Self::Other(m),
        }
    }
}

impl InstanceState {
    /// Spin's order: a store the component was not granted is access-denied
    /// even when it exists; a granted but undefined one is no-such-store.
    pub(in crate::host) fn open_store(&self, label: &str) -> Result<StoreHandle, KvError> {
        if !self.grants.key_value_stores.iter().any(|s| s == label) {
            tracing::warn!(
                component = %self.component_id,
                "access to key-value store `{label}` denied: add it to `key_value_stores` in the component's spin.toml section"
            );
            return Err(KvError::AccessDenied);
        }
        let backend = self.services.key_value.get(label).ok_or_else(|| {
            tracing::warn!(component = %self.component_id, "no key-value store `{label}`: define it with [key_value_store.{label}] in the runtime config");
            KvError::NoSuchStore
        })?;
        Ok(StoreHandle {
            label: label.to_string(),
            backend: backend.clone(),
        })
    }

    pub(in crate::host) fn kv_backend(&self, store: &Resource<StoreHandle>) -> Result<Backend> {
        Ok(self.table.get(store)?.backend.clone())
    }
}

impl spin_kv::Host for InstanceState {}

impl spin_kv::HostStore for InstanceState {
    async fn open(
        &mut self,
        label: String,
    ) -> Result<Result<Resource<StoreHandle>, spin_kv::Error>> {
        Ok(self.opened(self.open_store(&label))?)
    }

    async fn get(
        &mut self,
        s: Resource<StoreHandle>,
        key: String,
    ) -> Result<Result<Option<Vec<u8>>, spin_kv::Error>> {
        Ok(self.kv_backend(&s)?.get(&key).await.map_err(Into::into))
    }

    async fn set(
        &mut self,
        s: Resource<StoreHandle>,
        key: String,
        value: Vec<u8>,
    ) -> Result<Result<(), spin_kv::Error>> {
        Ok(self
            .kv_backend(&s)?
            .set(&key, &value)
            .await
            .map_err(Into::into))
    }

    async fn delete(
        &mut self,
        s: Resource<StoreHandle>,
        key: String,
    ) -> Result<Result<(), spin_kv::Error>> {
        Ok(self.kv_backend(&s)?.delete(&key).await.map_err(Into::into))
    }

    async fn exists(
        &mut self,
        s: Resource<StoreHandle>,
        key: String,
    ) -> Result<Result<bool, spin_kv::Error>> {
        Ok(self.kv_backend(&s)?.exists(&key).await.map_err(Into::into))
    }

    async fn get_keys(
        &mut self,
        s: Resource<StoreHandle>,
    ) -> Result<Result<Vec<String>, spin_kv::Error>> {
        Ok(self.kv_backend(&s)?.keys().await.map_err(Into::into))
    }

    async fn drop(&mut self, s: Resource<StoreHandle>) -> Result<()> {
        self.table.delete(s)?;
        Ok(())
    }
}

impl wasi_kv::Host for InstanceState {
    async fn open(
        &mut self,
        identifier: String,
    ) -> Result<Result<Resource<StoreHandle>, wasi_kv::Error>> {
        Ok(self.opened(self.open_store(&identifier))?)
    }
}

impl wasi_kv::HostBucket for InstanceState {
    async fn get(
        &mut self,
        b: Resource<StoreHandle>,
        key: String,
    ) -> Result<Result<Option<Vec<u8>>, wasi_kv::Error>> {
        Ok(self.kv_backend(&b)?.get(&key).await.map_err(Into::into))
    }

    async fn set(
        &mut self,
        b: Resource<StoreHandle>,
        key: String,
        value: Vec<u8>,
    ) -> Result<Result<(), wasi_kv::Error>> {
        Ok(self
            .kv_backend(&b)?
            .set(&key, &value)
            .await
            .map_err(Into::into))
    }

    async fn delete(
        &mut self,
        b: Resource<StoreHandle>,
        key: String,
    ) -> Result<Result<(), wasi_kv::Error>> {
        Ok(self.kv_backend(&b)?.delete(&key).await.map_err(Into::into))
    }

    async fn exists(
        &mut self,
        b: Resource<StoreHandle>,
        key: String,
    ) -> Result<Result<bool, wasi_kv::Error>> {
        Ok(self.kv_backend(&b)?.exists(&key).await.map_err(Into::into))
    }

    /// All keys in one page: no store we serve is big enough to need a cursor.
    async fn list_keys(
        &mut self,
        b: Resource<StoreHandle>,
        _cursor: Option<String>,
    ) -> Result<Result<wasi_kv::KeyResponse, wasi_kv::Error>> {
        Ok(self
            .kv_backend(&b)?
            .keys()
            .await
            .map(|keys| wasi_kv::KeyResponse { keys, cursor: None })
            .map_err(Into::into))
    }

    async fn drop(&mut self, b: Resource<StoreHandle>) -> Result<()> {
        self.table.delete(b)?;
        Ok(())
    }
}

impl atomics::Host for InstanceState {
    async fn increment(
        &mut self,
        b: Resource<StoreHandle>,
        key: String,
        delta: i64,
    ) -> Result<Result<i64, wasi_kv::Error>> {
        Ok(self
            .kv_backend(&b)?
            .increment(&key, delta)
            .await
            .map_err(Into::into))
    }

    async fn swap(
        &mut self,
        cas: Resource<CasHandle>,
        value: Vec<u8>,
    ) -> Result<Result<(), atomics::CasError>> {
        let handle = self.table.delete(cas)?;
        let expected = match handle.seen {
            Some(seen) => seen,
            // `current` was never read: compare against the value now.
            None => match handle.backend.get(&handle.key).await {
                Ok(v) => v,
                Err(e) => return Ok(Err(atomics::CasError::StoreError(e.into()))),
            },
        };
        match handle
            .backend
            .compare_and_swap(&handle.key, expected.clone(), value)
            .await
        {
            Ok(true) => Ok(Ok(())),
            Ok(false) => {
                let retry = self.table.push(CasHandle {
                    backend: handle.backend,
                    key: handle.key,
                    seen: None,
                })?;
                Ok(Err(atomics::CasError::CasFailed(retry)))
            }
            Err(e) => Ok(Err(atomics::CasError::StoreError(e.into()))),
        }
    }
}

impl atomics::HostCas for InstanceState {
    async fn new(
        &mut self,
        b: Resource<StoreHandle>,
        key: String,
    ) -> Result<Result<Resource<CasHandle>, wasi_kv::Error>> {
        let backend = self.kv_backend(&b)?;
        Ok(Ok(self.table.push(CasHandle {
            backend,
            key,
            seen: None,
        })?))
    }

    async fn current(
        &mut self,
        cas: Resource<CasHandle>,
    ) -> Result<Result<Option<Vec<u8>>, wasi_kv::Error>> {
        let (backend, key) = {
            let h = self.table.get(&cas)?;
            (h.backend.clone(), h.key.clone())
        };
        match backend.get(&key).await {
            Ok(v) => {
                self.table.get_mut(&cas)?.seen = Some(v.clone());
                Ok(Ok(v))
            }
            Err(e) => Ok(Err(e.into())),
        }
    }

    async fn drop(&mut self, cas: Resource<CasHandle>) -> Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

impl batch::Host for InstanceState {
    async fn get_many(
        &mut self,
        b: Resource<StoreHandle>,
        keys: Vec<String>,
    ) -> Result<Result<Vec<(String, Option<Vec<u8>>)>, wasi_kv::Error>> {
        Ok(self
            .kv_backend(&b)?
            .get_many(keys)
            .await
            .map_err(Into::into))
    }

    async fn set_many(
        &mut self,
        b: Resource<StoreHandle>,
        pairs: Vec<(String, Vec<u8>)>,
    ) -> Result<Result<(), wasi_kv::Error>> {
        Ok(self
            .kv_backend(&b)?
            .set_many(pairs)
            .await
            .map_err(Into::into))
    }

    async fn delete_many(
        &mut self,
        b: Resource<StoreHandle>,
        keys: Vec<String>,
    ) -> Result<Result<(), wasi_kv::Error>> {
        Ok(self
            .kv_backend(&b)?
            .delete_many(keys)
            .await
            .map_err(Into::into))
    }
}
