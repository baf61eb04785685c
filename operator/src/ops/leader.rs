//! Leader election on a `coordination.k8s.io` Lease, so two replicas can run and only one reconciles.

use kube::Client;
use kube_lease_manager::{LeaseManagerBuilder, LeaseParams};
use tokio::sync::watch;

/// Lease validity after the last renewal, and how long before expiry the holder renews.
const LEASE_SECONDS: u64 = 15;
const GRACE_SECONDS: u64 = 5;

/// Starts competing for the Lease `name` in `namespace`. The receiver turns true while this replica leads;
/// dropping it releases the Lease.
pub async fn elect(
    client: Client,
    namespace: &str,
    name: &str,
    identity: String,
) -> anyhow::Result<watch::Receiver<bool>> {
    let manager = LeaseManagerBuilder::new(client, name)
        .with_namespace(namespace)
        .with_parameters(LeaseParams::new(identity, LEASE_SECONDS, GRACE_SECONDS))
        .with_field_manager("spin-operator")
        .build()
        .await
        .map_err(|e| {
            anyhow::anyhow!("cannot use Lease {namespace}/{name} for leader election: {e}")
        })?;
    let (rx, _task) = manager.watch().await;
    Ok(rx)
}
