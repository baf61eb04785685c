//! Server-side apply with the operator's one field manager.

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::labels::FIELD_MANAGER;

/// Applies `obj` (the whole desired object; fields left out are released to their other owners).
pub async fn apply<K>(api: &Api<K>, obj: &K) -> kube::Result<K>
where
    K: Resource + Serialize + DeserializeOwned + Clone + std::fmt::Debug,
{
    let name = obj.meta().name.clone().unwrap_or_default();
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(obj),
    )
    .await
}

/// Parameters of the operator's merge patches (status, finalizers), under the same field manager as
/// its applies, so `managedFields` names one owner for everything the operator writes.
pub fn merge_params() -> PatchParams {
    PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    }
}

/// Reads an object, None when it does not exist.
pub async fn get_opt<K>(api: &Api<K>, name: &str) -> kube::Result<Option<K>>
where
    K: Resource + DeserializeOwned + Clone + std::fmt::Debug,
{
    api.get_opt(name).await
}
