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

/// How a child's write failed, worded for the SpinApp's status when the API server refused it for a
/// reason somebody must act on (quota, validation, an admission webhook, an exhausted ClusterIP range).
/// None for conflicts, throttling and an unavailable server: the next retry fixes those by itself.
pub fn refusal(kind: &str, name: &str, err: &kube::Error) -> Option<String> {
    let kube::Error::Api(s) = err else {
        return None;
    };
    if matches!(s.code, 409 | 429 | 503 | 504) {
        return None;
    }
    Some(format!(
        "the API server refused {kind} \"{name}\" ({} {}): {}; the operator retries until it is accepted",
        s.code, s.reason, s.message
    ))
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

#[cfg(test)]
mod tests {
    use super::refusal;
    use kube::core::Status;

    fn api_error(code: u16, reason: &str, message: &str) -> kube::Error {
        let mut s = Status::failure(message, reason);
        s.code = code;
        kube::Error::Api(Box::new(s))
    }

    #[test]
    fn refusals_that_need_a_person_are_worded_for_the_status() {
        let quota = api_error(
            403,
            "Forbidden",
            "services \"web\" is forbidden: exceeded quota: q, requested: services=1, used: services=0, limited: services=0",
        );
        let msg = refusal("Service", "web", &quota).expect("a quota refusal is reported");
        assert!(
            msg.starts_with("the API server refused Service \"web\" (403 Forbidden): services"),
            "{msg}"
        );
        assert!(msg.contains("exceeded quota"), "{msg}");
        let full = api_error(
            500,
            "InternalError",
            "failed to allocate a serviceIP: range is full",
        );
        assert!(refusal("Service", "web", &full)
            .unwrap()
            .contains("range is full"));
        let invalid = api_error(422, "Invalid", "spec.replicas: Invalid value");
        assert!(refusal("Deployment", "web", &invalid)
            .unwrap()
            .contains("422 Invalid"));
    }

    #[test]
    fn transient_failures_are_left_to_the_retry() {
        for (code, reason) in [
            (409, "Conflict"),
            (429, "TooManyRequests"),
            (503, "ServiceUnavailable"),
            (504, "Timeout"),
        ] {
            assert!(
                refusal("Service", "web", &api_error(code, reason, "try again")).is_none(),
                "{code}"
            );
        }
        let io = kube::Error::Service(std::io::Error::other("connection refused").into());
        assert!(refusal("Service", "web", &io).is_none());
    }
}
