//! The node label that says "Spin pods can run here": the chart's RuntimeClass selects it, so Spin
//! pods are only scheduled onto nodes the installer has readied.

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::{json, Value};

pub const READY_LABEL: &str = "spinkube.dev/shim";
pub const READY_VALUE: &str = "ready";
/// Which shim build the node has (its sha256), for `kubectl get nodes -L`-style checks.
pub const SHIM_ANNOTATION: &str = "spinkube.dev/shim-sha256";

/// The merge patch that marks a node ready with `sha256`, or (None) unmarks it.
pub fn patch(sha256: Option<&str>) -> Value {
    match sha256 {
        Some(sum) => json!({"metadata": {
            "labels": {READY_LABEL: READY_VALUE},
            "annotations": {SHIM_ANNOTATION: sum},
        }}),
        None => json!({"metadata": {
            "labels": {READY_LABEL: null},
            "annotations": {SHIM_ANNOTATION: null},
        }}),
    }
}

pub async fn set(client: &Client, node: &str, sha256: Option<&str>) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .patch(node, &PatchParams::default(), &Patch::Merge(patch(sha256)))
        .await
        .with_context(|| format!("cannot update the labels of node {node}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_sets_label_and_build_and_unready_removes_both() {
        assert_eq!(
            patch(Some("ab12"))["metadata"],
            json!({"labels": {"spinkube.dev/shim": "ready"}, "annotations": {"spinkube.dev/shim-sha256": "ab12"}})
        );
        assert_eq!(
            patch(None)["metadata"]["labels"]["spinkube.dev/shim"],
            Value::Null
        );
    }
}
