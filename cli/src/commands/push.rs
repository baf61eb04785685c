//! `spinkube push`: publish a Spin app to an OCI registry in the `spin registry push` format.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use spinkube_runtime::app::{load_manifest_file, LoadOptions};
use spinkube_runtime::oci::{assemble, RegistryClient};

use super::registry::{Bar, RegistryArgs};

#[derive(Args, Debug)]
pub struct PushArgs {
    /// The application: a spin.toml file or a directory holding one
    #[arg(
        short = 'f',
        long = "from",
        alias = "file",
        default_value = "spin.toml"
    )]
    pub from: PathBuf,

    /// Where to push: REGISTRY/REPOSITORY[:TAG], e.g. 127.0.0.1:5000/hello:v1
    pub reference: String,

    /// Run each component's `[component.x.build] command` first
    #[arg(long)]
    pub build: bool,

    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn run(args: PushArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(push(args))
}

async fn push(args: PushArgs) -> Result<()> {
    let manifest = if args.from.is_dir() {
        args.from.join("spin.toml")
    } else {
        args.from.clone()
    };
    if args.build {
        build(&manifest)?;
    }
    let staging = tempfile::Builder::new()
        .prefix("spinkube-push-")
        .tempdir()
        .context("creating a staging directory")?;
    let app = load_manifest_file(
        &manifest,
        &LoadOptions {
            files_root: staging.path().to_path_buf(),
        },
    )?;
    let artifact = assemble::assemble(&app)?;
    let client = RegistryClient::new(&args.reference, &args.registry.options()?)?;
    let bar = Bar::new("pushing");
    let pushed = client.push(&artifact, &bar).await?;
    println!("Pushed {}@{}", args.reference, pushed.digest);
    tracing::info!(
        "{} layers uploaded, {} already in the registry",
        pushed.layers_uploaded,
        pushed.layers_present
    );
    Ok(())
}

/// Runs the build commands of spin.toml (v2: `[component.x.build]`), each in its `workdir`.
fn build(manifest: &Path) -> Result<()> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("--build: reading {}", manifest.display()))?;
    let table: toml::Table = toml::from_str(&text)
        .with_context(|| format!("--build: parsing {}", manifest.display()))?;
    let app_dir = manifest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let components = table
        .get("component")
        .and_then(toml::Value::as_table)
        .cloned()
        .unwrap_or_default();
    for (id, component) in components {
        let Some(build) = component.get("build").and_then(toml::Value::as_table) else {
            continue;
        };
        let commands: Vec<String> = match build.get("command") {
            Some(toml::Value::String(s)) => vec![s.clone()],
            Some(toml::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            _ => continue,
        };
        let dir = match build.get("workdir").and_then(toml::Value::as_str) {
            Some(w) => app_dir.join(w),
            None => app_dir.to_path_buf(),
        };
        for command in commands {
            eprintln!("Building component {id}: {command}");
            let status = std::process::Command::new("sh")
                .arg("-c")
                .arg(&command)
                .current_dir(&dir)
                .status()
                .with_context(|| format!("--build: running `{command}`"))?;
            if !status.success() {
                bail!("build of component `{id}` failed ({status}): `{command}`; fix the build or push without --build");
            }
        }
    }
    Ok(())
}
