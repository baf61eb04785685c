//! The one termination-signal future of every binary here: `spinkube up`, the shim, the operator
//! and the node installer stop the same way.

use tokio::signal::unix::{signal, SignalKind};

/// Resolves on SIGTERM (what containerd and the kubelet send) or SIGINT (Ctrl-C). If the SIGTERM
/// handler cannot be installed, SIGINT alone still ends the wait.
pub async fn termination() {
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
