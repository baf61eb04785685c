//! The chart's cleanup Job (helm uninstall, or the installer turned off): one pod per readied
//! node runs `uninstall` there, and the Job waits for all of them, so every node gets its
//! containerd config back before the chart's objects go.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, ListParams, LogParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

use crate::node_label::READY_LABEL;

/// How long one node's cleanup may take (image pull, containerd restart).
const NODE_LIMIT: Duration = Duration::from_secs(300);

/// What every cleanup pod is made of.
#[derive(Debug, Clone)]
pub struct PodOptions {
    pub namespace: String,
    pub image: String,
    pub service_account: String,
    pub shim_dir: String,
    pub containerd_config: String,
    /// Prefix of the pods' names (the chart's full name).
    pub name_prefix: String,
}

/// The pod that undoes the install on `node`: the same host access as the DaemonSet's pods.
pub fn cleanup_pod(node: &str, o: &PodOptions) -> Pod {
    let mut name = format!("{}-cleanup-{node}", o.name_prefix);
    name.truncate(63);
    let name = name.trim_end_matches(['-', '.']).to_string();
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": o.namespace,
            "labels": {"app.kubernetes.io/component": "node-cleanup"},
        },
        "spec": {
            "nodeName": node,
            "restartPolicy": "Never",
            "hostPID": true,
            "serviceAccountName": o.service_account,
            "tolerations": [{"operator": "Exists"}],
            "containers": [{
                "name": "cleanup",
                "image": o.image,
                "args": ["uninstall"],
                "env": [
                    {"name": "NODE_NAME", "value": node},
                    {"name": "SHIM_DIR", "value": o.shim_dir},
                    {"name": "CONTAINERD_CONFIG", "value": o.containerd_config},
                ],
                "securityContext": {"privileged": true},
                "terminationMessagePolicy": "FallbackToLogsOnError",
                "volumeMounts": [{"name": "host", "mountPath": "/host"}],
            }],
            "volumes": [{"name": "host", "hostPath": {"path": "/", "type": "Directory"}}],
        },
    }))
    .expect("a valid pod")
}

/// Runs the cleanup on every node labelled by the installer; fails naming the nodes that failed.
pub async fn run(client: &Client, o: &PodOptions) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), &o.namespace);
    let readied = nodes
        .list(&ListParams::default().labels(READY_LABEL))
        .await
        .context("cannot list the nodes")?;
    let names: Vec<String> = readied
        .items
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    tracing::info!(nodes = ?names, "cleaning up");
    let mut started = Vec::new();
    for node in &names {
        let pod = cleanup_pod(node, o);
        let name = pod.metadata.name.clone().unwrap_or_default();
        // A pod left by an earlier, interrupted cleanup goes first.
        let _ = pods.delete(&name, &DeleteParams::background()).await;
        wait_gone(&pods, &name).await?;
        pods.create(&PostParams::default(), &pod)
            .await
            .with_context(|| format!("cannot create the cleanup pod for node {node}"))?;
        started.push((node.clone(), name));
    }
    let mut failed = Vec::new();
    for (node, name) in &started {
        match wait_done(&pods, name).await {
            Ok(()) => tracing::info!(node, "node cleaned up"),
            Err(e) => {
                let logs = pods
                    .logs(name, &LogParams::default())
                    .await
                    .unwrap_or_default();
                tracing::error!(node, "cleanup failed: {e:#}\n{logs}");
                failed.push(node.clone());
            }
        }
        let _ = pods.delete(name, &DeleteParams::background()).await;
    }
    if !failed.is_empty() {
        bail!(
            "cleanup failed on {}: see the log above; fix the node and run `helm uninstall` again \
             (or `--no-hooks` to leave the nodes as they are)",
            failed.join(", ")
        );
    }
    Ok(())
}

async fn wait_done(pods: &Api<Pod>, name: &str) -> Result<()> {
    let started = Instant::now();
    loop {
        let pod = pods.get(name).await?;
        match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
            Some("Succeeded") => return Ok(()),
            Some("Failed") => bail!("pod {name} failed"),
            _ if started.elapsed() > NODE_LIMIT => {
                bail!("pod {name} not done after {NODE_LIMIT:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

async fn wait_gone(pods: &Api<Pod>, name: &str) -> Result<()> {
    let started = Instant::now();
    while pods.get_opt(name).await?.is_some() {
        if started.elapsed() > Duration::from_secs(60) {
            bail!("an earlier cleanup pod {name} does not go away");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pod_runs_uninstall_on_its_node_with_host_access() {
        let o = PodOptions {
            namespace: "spinkube-system".into(),
            image: "reg/installer:1".into(),
            service_account: "sa".into(),
            shim_dir: "/opt/spinkube/bin".into(),
            containerd_config: String::new(),
            name_prefix: "spin-operator".into(),
        };
        let pod = cleanup_pod("node-1", &o);
        let spec = pod.spec.unwrap();
        assert_eq!(
            pod.metadata.name.as_deref(),
            Some("spin-operator-cleanup-node-1")
        );
        assert_eq!(spec.node_name.as_deref(), Some("node-1"));
        assert_eq!(spec.host_pid, Some(true));
        let c = &spec.containers[0];
        assert_eq!(c.args.as_deref(), Some(&["uninstall".to_string()][..]));
        assert_eq!(c.security_context.as_ref().unwrap().privileged, Some(true));
        let long = cleanup_pod(&"n".repeat(80), &o);
        assert_eq!(long.metadata.name.unwrap().len(), 63);
    }
}
