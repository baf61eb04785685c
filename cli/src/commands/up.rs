//! `spinkube up`: the flags of `spin up` that apply, on our runtime.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use spinkube_runtime::app::{load_manifest_file, LoadOptions};
use spinkube_runtime::engine::{EngineConfig, SpinEngine};
use spinkube_runtime::http::{server, HttpTrigger};
use spinkube_runtime::services::{self, ServiceOptions};

#[derive(Args, Debug)]
pub struct UpArgs {
    /// The application to run: a spin.toml file or a directory holding one
    #[arg(
        short = 'f',
        long = "from",
        alias = "file",
        default_value = "spin.toml"
    )]
    pub from: PathBuf,

    /// Address to listen on (port 0 picks a free port)
    #[arg(long, env = "SPIN_HTTP_LISTEN_ADDR", default_value = "127.0.0.1:3000")]
    pub listen: String,

    /// TLS certificate (PEM) to serve HTTPS
    #[arg(long, env = "SPIN_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key (PEM) to serve HTTPS
    #[arg(long, env = "SPIN_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Do not print the routes
    #[arg(short, long)]
    pub quiet: bool,

    /// Runtime configuration file (key-value stores, SQLite databases, variables providers)
    #[arg(long, env = "RUNTIME_CONFIG_FILE")]
    pub runtime_config_file: Option<PathBuf>,

    /// Directory for the default key-value store and SQLite database (default: .spin next to spin.toml)
    #[arg(long)]
    pub state_dir: Option<PathBuf>,

    /// Application variable value (NAME=VALUE); overrides providers
    #[arg(long = "variable", value_parser = parse_kv)]
    pub variables: Vec<(String, String)>,

    /// Set a key in the `default` key-value store before starting (KEY=VALUE)
    #[arg(long = "key-value", value_parser = parse_kv)]
    pub key_values: Vec<(String, String)>,

    /// Run a SQL statement against the `default` database before starting (`@file` reads a file)
    #[arg(long = "sqlite")]
    pub sqlite_statements: Vec<String>,

    /// Environment variables for every component (KEY=VALUE)
    #[arg(short = 'e', long = "env", value_parser = parse_kv)]
    pub env: Vec<(String, String)>,

    /// Largest memory one instance may use, in bytes (suffixes Ki, Mi, Gi allowed)
    #[arg(long, env = "SPIN_MAX_INSTANCE_MEMORY", value_parser = parse_bytes)]
    pub max_instance_memory: Option<usize>,

    /// Stop a guest that runs longer than this for one request (e.g. 30s, 500ms)
    #[arg(long, value_parser = parse_duration)]
    pub request_timeout: Option<Duration>,

    /// Use on-demand instance allocation instead of the pooling allocator
    #[arg(long)]
    pub disable_pooling: bool,

    /// Do not read or write the compiled-component cache
    #[arg(long)]
    pub disable_cache: bool,

    /// Directory for the compiled-component cache
    #[arg(long, env = "SPINKUBE_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

pub fn run(args: UpArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(up(args))
}

async fn up(args: UpArgs) -> Result<()> {
    let files_root = tempfile_dir()?;
    let mut app = load_manifest_file(
        &args.from,
        &LoadOptions {
            files_root: files_root.clone(),
        },
    )?;
    for c in &mut app.components {
        c.env.extend(args.env.iter().cloned());
    }
    let app_dir = manifest_dir(&args.from);
    let prepared = services::prepare(
        &app,
        &ServiceOptions {
            runtime_config_file: args.runtime_config_file.clone(),
            state_dir: args.state_dir.clone(),
            app_dir: Some(app_dir),
            variables: args.variables.iter().cloned().collect(),
        },
    )?;
    seed_stores(&prepared, &args).await?;
    let engine = SpinEngine::new(EngineConfig {
        pooling: !args.disable_pooling,
        cache_dir: if args.disable_cache {
            None
        } else {
            args.cache_dir
                .clone()
                .or_else(spinkube_runtime::engine::default_cache_dir)
        },
        max_instance_memory: args
            .max_instance_memory
            .or(prepared.runtime_config.max_instance_memory),
        execution_timeout: args.request_timeout,
    })?;
    if !app.triggers.iter().any(|t| t.trigger_type == "http") {
        bail!("the app has no HTTP triggers; add a [[trigger.http]] section");
    }
    let trigger = HttpTrigger::new(&app, &engine, prepared.services.clone())?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(server::tls_acceptor(cert, key)?),
        _ => None,
    };
    let addr = resolve(&args.listen).await?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr}; is another server using it? Pick another with --listen")
    })?;
    let local = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("Serving {scheme}://{local}");
    if !args.quiet {
        println!("Available Routes:");
        for r in trigger.routes() {
            let wildcard = if r.wildcard { " (wildcard)" } else { "" };
            println!("  {}: {scheme}://{local}{}{wildcard}", r.label, r.path);
        }
    }
    use std::io::Write;
    std::io::stdout().flush().ok();
    server::serve(trigger, listener, tls, shutdown_signal()).await?;
    let _ = std::fs::remove_dir_all(&files_root);
    Ok(())
}

/// `--key-value` and `--sqlite`: data the app should find when it starts.
async fn seed_stores(prepared: &services::Prepared, args: &UpArgs) -> Result<()> {
    if !args.key_values.is_empty() {
        let store = prepared
            .services
            .key_value
            .get("default")
            .context("--key-value needs the `default` key-value store")?;
        for (k, v) in &args.key_values {
            store
                .set(k, v.as_bytes())
                .await
                .map_err(|e| anyhow::anyhow!("--key-value {k}: {e:?}"))?;
        }
    }
    for statement in &args.sqlite_statements {
        let sql = match statement.strip_prefix('@') {
            Some(file) => std::fs::read_to_string(file)
                .with_context(|| format!("--sqlite: reading {file}"))?,
            None => statement.clone(),
        };
        prepared
            .services
            .sqlite
            .execute("default", &sql)
            .await
            .with_context(|| format!("--sqlite {statement}"))?;
    }
    Ok(())
}

fn manifest_dir(from: &std::path::Path) -> PathBuf {
    let dir = if from.is_dir() {
        from.to_path_buf()
    } else {
        from.parent().map(PathBuf::from).unwrap_or_default()
    };
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    dir.canonicalize().unwrap_or(dir)
}

async fn resolve(listen: &str) -> Result<SocketAddr> {
    tokio::net::lookup_host(listen)
        .await
        .with_context(|| {
            format!("invalid listen address {listen:?}; use HOST:PORT, e.g. 127.0.0.1:3000")
        })?
        .next()
        .with_context(|| format!("listen address {listen:?} resolves to nothing"))
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("spinkube-up-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

/// Bytes with optional binary suffix: `1048576`, `64Mi`, `1Gi`, `512Ki`.
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let (num, mult) = [
        ("Ki", 1usize << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("K", 1000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
    ]
    .iter()
    .find_map(|(suffix, m)| s.strip_suffix(suffix).map(|n| (n, *m)))
    .unwrap_or((s, 1));
    num.trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("invalid size {s:?}; use bytes or a suffix like 64Mi"))
}

/// `30s`, `500ms`, `2m`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let err = || format!("invalid duration {s:?}; use e.g. 30s, 500ms or 2m");
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num.parse().map_err(|_| err())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(err()),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| err())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert_eq!(parse_bytes("64Mi"), Ok(64 << 20));
        assert!(parse_bytes("lots").is_err());
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("soon").is_err());
    }
}
