//! One Spin container: runs inside the container process that runwasi set up (its namespaces,
//! cgroup, rootfs and mounts, with stdio wired to the container's log), so paths such as
//! `/runtime-config.toml` and the pod's network are simply there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use containerd_shim_wasm::sandbox::context::{RuntimeContext, Source, WasmLayer};
use containerd_shim_wasm::sandbox::Sandbox;
use spinkube_runtime::app::{
    load_manifest_file, retain::retain_components, LoadOptions, LockedApp,
};
use spinkube_runtime::engine::EngineConfig;
use spinkube_runtime::http::{connection, server};
use spinkube_runtime::launch::{termination_signal, AppHost, HttpListener, LaunchOptions};
use spinkube_runtime::oci::layers::{load_layers, Layer};
use spinkube_runtime::services::ServiceOptions;

use crate::settings::{self, Settings, MANIFEST_PATH, RUNTIME_CONFIG_PATH};

/// The runtime at info (startup, request failures), everything else at warn.
const DEFAULT_LOG_FILTER: &str = "warn,spinkube_runtime=info,containerd_shim_spin_v2=info";

#[derive(Default)]
pub struct SpinSandbox;

impl Sandbox for SpinSandbox {
    async fn run_wasi(&self, ctx: &impl RuntimeContext) -> Result<i32> {
        let env = settings::env_map(ctx.envs());
        init_logging(&env);
        match run(ctx, env).await {
            Ok(()) => Ok(0),
            Err(e) => {
                // The last line of the container log (`kubectl logs`), and the container's
                // termination message, which the kubelet puts in the Pod's status and the
                // operator in the SpinApp's Ready condition.
                let message = format!("Error: {e:#}");
                eprintln!("{message}");
                write_termination_message(&message);
                Ok(1)
            }
        }
    }

    async fn can_handle(&self, _ctx: &impl RuntimeContext) -> Result<()> {
        // Layers or /spin.toml: `run` says which is missing.
        Ok(())
    }
}

/// Where the kubelet bind-mounts a container's termination message file (the Pod's default
/// `terminationMessagePath`); absent outside Kubernetes.
const TERMINATION_MESSAGE_PATH: &str = "/dev/termination-log";

fn write_termination_message(message: &str) {
    if Path::new(TERMINATION_MESSAGE_PATH).exists() {
        // The kubelet reads at most 4 KiB of it.
        let mut end = message.len().min(4096);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let _ = std::fs::write(TERMINATION_MESSAGE_PATH, &message[..end]);
    }
}

/// The engine settings of both the container and the compiler, so precompiled code loads.
/// No on-disk cache: compiled code is kept in containerd's content store instead.
pub fn engine_config(max_instance_memory: Option<usize>) -> EngineConfig {
    EngineConfig {
        pooling: true,
        pagemap_scan: true,
        cache_dir: None,
        max_instance_memory,
        execution_timeout: None,
        instance_reuse: Default::default(),
    }
}

async fn run(ctx: &impl RuntimeContext, env: BTreeMap<String, String>) -> Result<()> {
    // Before the settings, whose default connection limit follows it.
    connection::raise_open_files_limit();
    let settings = Settings::from_env(&env, Path::new(RUNTIME_CONFIG_PATH).is_file())?;
    let work = work_dir()?;
    let app = load(ctx, &work)?;
    let app = match &settings.components_to_retain {
        Some(ids) => retain_components(app, ids)?,
        None => app,
    };
    let env = settings::with_plain_variable_names(env, &app);
    let mut engine = engine_config(settings.max_instance_memory);
    engine.execution_timeout = settings.request_timeout;
    engine.instance_reuse = settings.instance_reuse;
    let host = AppHost::build(
        &app,
        &LaunchOptions {
            services: ServiceOptions {
                runtime_config_file: settings.runtime_config_file.clone(),
                state_dir: None,
                app_dir: Some(PathBuf::from("/")),
                variables: Default::default(),
                env: Some(env),
            },
            engine,
            redis_concurrency: settings.redis_concurrency,
        },
    )?;
    let listener = match host.serves_http() {
        true => Some(bind(&settings).await?),
        false => None,
    };
    host.run(listener, termination_signal(), settings.drain_timeout)
        .await?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// The app from the image's Spin layers, or from `/spin.toml` in an ordinary image's rootfs.
fn load(ctx: &impl RuntimeContext, work: &Path) -> Result<LockedApp> {
    match ctx.entrypoint().source {
        Source::Oci(layers) => {
            let layers = layers.iter().map(to_layer).collect();
            Ok(load_layers(layers, work, "app")?)
        }
        Source::File(_) => {
            let manifest = Path::new(MANIFEST_PATH);
            if !manifest.is_file() {
                anyhow::bail!(
                    "the image has no Spin app: no Spin OCI layers and no {MANIFEST_PATH} in its filesystem; push the app with `spinkube push` (or `spin registry push`) and use that reference as the image"
                );
            }
            Ok(load_manifest_file(
                manifest,
                &LoadOptions {
                    files_root: work.join("files"),
                },
            )?)
        }
    }
}

fn to_layer(layer: &WasmLayer) -> Layer {
    Layer {
        media_type: crate::compile::media_type(layer),
        digest: layer.config.digest().to_string(),
        bytes: layer.layer.clone(),
        precompiled: layer.precompiled,
    }
}

async fn bind(settings: &Settings) -> Result<HttpListener> {
    let tls = match &settings.tls {
        Some((cert, key)) => Some(server::tls_acceptor(cert, key)?),
        None => None,
    };
    let listen = &settings.listen;
    let addr = tokio::net::lookup_host(listen)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .with_context(|| {
            format!("SPIN_HTTP_LISTEN_ADDR {listen:?} is not an address; use HOST:PORT, e.g. 0.0.0.0:80")
        })?;
    let listener = server::bind(addr)
        .with_context(|| format!("cannot listen on {addr} (SPIN_HTTP_LISTEN_ADDR)"))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!("Serving {scheme}://{}", listener.local_addr()?);
    Ok(HttpListener {
        listener,
        tls,
        limits: settings.server_limits.clone(),
    })
}

/// Where the app's blobs and files go: `$TMPDIR`, else a directory in the container's rootfs.
fn work_dir() -> Result<PathBuf> {
    let base = std::env::var_os("TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/.spinkube"));
    let dir = base.join(format!("app-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| {
        format!(
            "cannot create {}: the container's filesystem is read-only; mount a writable volume and set TMPDIR to it",
            dir.display()
        )
    })?;
    Ok(dir)
}

/// Runtime messages go to the container's stderr (its log): errors, warnings and startup at
/// info, unless the container's `SPINKUBE_LOG` (a `RUST_LOG`-style filter) says otherwise.
fn init_logging(env: &BTreeMap<String, String>) {
    let filter = env
        .get("SPINKUBE_LOG")
        .and_then(|f| tracing_subscriber::EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
}
