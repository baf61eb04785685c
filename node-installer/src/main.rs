//! `spinkube-node-installer`: run by the chart on every node (a DaemonSet) to make it able to run
//! Spin pods, and by the chart's cleanup Job to undo that. See docs/node-installer.md.

mod cleanup;
mod config_edit;
mod host;
mod locate;
mod node_label;
mod node_setup;
mod restart;
mod shim_install;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::host::Host;
use crate::node_setup::NodePaths;
use crate::shim_install::{ShimChange, ShimSource};

#[derive(Parser)]
#[command(
    version,
    about = "Readies Kubernetes nodes for Spin pods (containerd-shim-spin-v2 and the containerd `spin` runtime)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install the shim and the `spin` runtime on this node, restart containerd if its config
    /// changed, label the node ready, then wait for SIGTERM (the DaemonSet's pod keeps running).
    Install {
        #[command(flatten)]
        node: NodeArgs,
        /// The shim binary to install (beside it, NAME.sha256 holds its checksum).
        #[arg(
            long,
            env = "SHIM_SOURCE",
            default_value = "/spinkube/containerd-shim-spin-v2"
        )]
        shim: PathBuf,
        /// Exit once done instead of waiting for SIGTERM.
        #[arg(long)]
        exit: bool,
    },
    /// Remove the `spin` runtime (restoring the original config) and the shim from this node, and
    /// unlabel it.
    Uninstall {
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Run `uninstall` on every node the installer readied, one pod each, and wait for them.
    Cleanup {
        #[arg(long, env = "POD_NAMESPACE")]
        namespace: String,
        /// This installer's image, for the per-node pods.
        #[arg(long, env = "INSTALLER_IMAGE")]
        image: String,
        #[arg(long, env = "SERVICE_ACCOUNT")]
        service_account: String,
        #[arg(long, env = "NAME_PREFIX", default_value = "spinkube")]
        name_prefix: String,
        #[arg(long, env = "SHIM_DIR", default_value = "/opt/spinkube/bin")]
        shim_dir: String,
        #[arg(long, env = "CONTAINERD_CONFIG", default_value = "")]
        containerd_config: String,
    },
}

#[derive(Args)]
struct NodeArgs {
    /// Where the host's `/` is mounted in this pod.
    #[arg(long, env = "HOST_ROOT", default_value = "/host")]
    host_root: PathBuf,
    /// Host directory the shim goes into.
    #[arg(long, env = "SHIM_DIR", default_value = "/opt/spinkube/bin")]
    shim_dir: PathBuf,
    /// Host path of containerd's config; empty looks in the usual places (k3s, rke2, then
    /// /etc/containerd/config.toml).
    #[arg(long, env = "CONTAINERD_CONFIG", default_value = "")]
    containerd_config: PathBuf,
    /// This node's name (the DaemonSet sets it from spec.nodeName).
    #[arg(long, env = "NODE_NAME")]
    node: String,
}

impl NodeArgs {
    fn paths(&self) -> NodePaths {
        NodePaths {
            shim_dir: self.shim_dir.clone(),
            containerd_config: Some(self.containerd_config.clone())
                .filter(|p| !p.as_os_str().is_empty()),
        }
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Install { node, shim, exit } => {
            let source = ShimSource::checked(&shim)?;
            let host = Host::new(&node.host_root);
            let paths = node.paths();
            let installed = tokio::task::spawn_blocking(move || {
                node_setup::install(&host, &source, &paths).map(|i| (i, source.sha256))
            })
            .await??;
            let (installed, sha256) = installed;
            match &installed.foreign {
                Some((runtime_type, runtime_path)) => tracing::warn!(
                    config = %installed.edited.display(),
                    runtime_type, runtime_path,
                    "the config has a `spin` runtime of its own; it is kept, so pods use that \
                     shim, not the one installed here. Remove that entry to let the installer \
                     manage it"
                ),
                None => tracing::info!(
                    config = %installed.edited.display(),
                    changed = installed.config_changed,
                    "spin runtime in place"
                ),
            }
            tracing::info!(
                shim = %node.shim_dir.display(), sha256,
                new_build = installed.shim == ShimChange::Written,
                "shim in place"
            );
            let client = kube::Client::try_default()
                .await
                .context("cannot reach the API server")?;
            node_label::set(&client, &node.node, Some(&sha256)).await?;
            tracing::info!(
                node = node.node,
                "node labelled {}={}",
                node_label::READY_LABEL,
                node_label::READY_VALUE
            );
            if !exit {
                spinkube_signals::termination().await;
            }
            Ok(())
        }
        Command::Uninstall { node } => {
            let host = Host::new(&node.host_root);
            let paths = node.paths();
            let removed =
                tokio::task::spawn_blocking(move || node_setup::uninstall(&host, &paths)).await??;
            tracing::info!(
                config_restored = removed.config_changed,
                shim_removed = removed.shim_removed,
                "node cleaned up"
            );
            let client = kube::Client::try_default()
                .await
                .context("cannot reach the API server")?;
            node_label::set(&client, &node.node, None).await
        }
        Command::Cleanup {
            namespace,
            image,
            service_account,
            name_prefix,
            shim_dir,
            containerd_config,
        } => {
            let client = kube::Client::try_default()
                .await
                .context("cannot reach the API server")?;
            let options = cleanup::PodOptions {
                namespace,
                image,
                service_account,
                shim_dir,
                containerd_config,
                name_prefix,
            };
            cleanup::run(&client, &options).await
        }
    }
}
