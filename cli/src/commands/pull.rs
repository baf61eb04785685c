//! `spinkube pull`: fetch an app into the local content-addressed cache.

use anyhow::Result;
use clap::Args;
use spinkube_runtime::oci::RegistryClient;

use super::registry::{cache, Bar, RegistryArgs};

#[derive(Args, Debug)]
pub struct PullArgs {
    /// What to pull: REGISTRY/REPOSITORY[:TAG|@DIGEST]
    pub reference: String,

    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn run(args: PullArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = RegistryClient::new(&args.reference, &args.registry.options()?)?;
        let cache = cache()?;
        let bar = Bar::new("pulling");
        let pulled = client.pull(&cache, &bar).await?;
        // Building the app checks the artifact is complete and runnable.
        let scratch = tempfile::tempdir()?;
        spinkube_runtime::oci::load_app(
            &pulled.manifest,
            &cache,
            scratch.path(),
            client.reference().repository(),
        )?;
        println!(
            "Pulled {}@{} ({} blobs downloaded, {} already cached)",
            args.reference, pulled.digest, pulled.layers_downloaded, pulled.layers_cached
        );
        Ok(())
    })
}
