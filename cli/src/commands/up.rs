//! `spinkube up`: the flags of `spin up` that apply, on our runtime.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use spinkube_runtime::app::{load_manifest_file, LoadOptions};
use spinkube_runtime::engine::EngineConfig;
use spinkube_runtime::host::AppServices;
use spinkube_runtime::http::connection::{self, ServerLimits};
use spinkube_runtime::http::reuse::{self, InstanceReuse, Span};
use spinkube_runtime::http::server;
use spinkube_runtime::launch::{
    termination_signal, AppHost, HttpListener, LaunchOptions, DEFAULT_DRAIN_TIMEOUT,
};
use spinkube_runtime::redis_trigger;
use spinkube_runtime::services::ServiceOptions;
use spinkube_runtime::units::{parse_bytes, parse_duration};

#[derive(Args, Debug)]
pub struct UpArgs {
    /// The application to run: a spin.toml file, a directory holding one, or a registry
    /// reference (REGISTRY/REPO[:TAG|@DIGEST]; an existing path wins)
    #[arg(
        short = 'f',
        long = "from",
        alias = "file",
        default_value = "spin.toml"
    )]
    pub from: PathBuf,

    #[command(flatten)]
    pub registry: super::registry::RegistryArgs,

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

    /// Largest memory one instance may use, in bytes (suffixes Ki, Mi, Gi allowed). Unset by
    /// default, as in Spin: an instance may then grow its memory up to 4 GiB
    #[arg(long, env = "SPIN_MAX_INSTANCE_MEMORY", value_parser = parse_bytes)]
    pub max_instance_memory: Option<usize>,

    /// Stop a guest that runs longer than this for one request (e.g. 30s, 500ms)
    #[arg(long, value_parser = parse_duration)]
    pub request_timeout: Option<Duration>,

    /// WASI p3 components: requests one instance serves before a fresh one takes over (N, or
    /// A..B to pick per instance)
    #[arg(long, default_value = "128", value_parser = reuse::parse_count)]
    pub max_instance_reuse_count: Span<usize>,

    /// WASI p3 components: requests one instance serves at once (N or A..B)
    #[arg(long, default_value = "16", value_parser = reuse::parse_count)]
    pub max_instance_concurrent_reuse_count: Span<usize>,

    /// WASI p3 components: how long an instance may sit idle before it is dropped (N or A..B;
    /// durations like 1s, 500ms)
    #[arg(long, default_value = "1s", value_parser = reuse::parse_duration_span)]
    pub idle_instance_timeout: Span<Duration>,

    /// Close a connection whose request headers have not all arrived after this (slow clients)
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub header_read_timeout: Duration,

    /// Close a connection that has carried no request for this long
    #[arg(long, default_value = "75s", value_parser = parse_duration)]
    pub idle_connection_timeout: Duration,

    /// Most client connections open at once; more wait in the listen backlog [default: the
    /// open-files limit less 256]
    #[arg(long, value_parser = connection::parse_max_connections)]
    pub max_connections: Option<usize>,

    /// Answer 413 to a request body larger than this, in bytes (suffixes Ki, Mi, Gi allowed).
    /// Unset by default, as in Spin: bodies of any size stream to the guest
    #[arg(long, value_parser = parse_bytes)]
    pub max_request_body_size: Option<usize>,

    /// Use on-demand instance allocation instead of the pooling allocator
    #[arg(long)]
    pub disable_pooling: bool,

    /// Reset pooled instance memory with memset instead of the kernel's PAGEMAP_SCAN (which
    /// resets only the pages a request dirtied; used on Linux 6.7+ when available)
    #[arg(long)]
    pub disable_pagemap_scan: bool,

    /// Do not read or write the compiled-component cache
    #[arg(long)]
    pub disable_cache: bool,

    /// Directory for the compiled-component cache
    #[arg(long, env = "SPINKUBE_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Redis messages handled at once (1 = one at a time, in order per channel)
    #[arg(long, default_value_t = redis_trigger::DEFAULT_CONCURRENCY, value_parser = parse_concurrency)]
    pub redis_concurrency: usize,
}

pub fn run(args: UpArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(up(args))
}

async fn up(args: UpArgs) -> Result<()> {
    // Connections need file descriptors; the default connection limit follows this one.
    connection::raise_open_files_limit();
    let scratch = super::scratch_dir::ScratchDir::create(&std::env::temp_dir())?;
    let files_root = scratch.path().to_path_buf();
    // A registry app keeps its `.spin` state in the current directory, as `spin up` does.
    let (mut app, app_dir) = match super::registry::app_source(&args.from) {
        super::registry::AppSource::Registry(r) => (
            super::registry::load_remote(&r, &args.registry, &files_root).await?,
            manifest_dir(std::path::Path::new(".")),
        ),
        super::registry::AppSource::Path(p) => (
            load_manifest_file(
                &p,
                &LoadOptions {
                    files_root: files_root.clone(),
                },
            )?,
            manifest_dir(&p),
        ),
    };
    for c in &mut app.components {
        c.env.extend(args.env.iter().cloned());
    }
    let host = AppHost::build(
        &app,
        &LaunchOptions {
            services: ServiceOptions {
                runtime_config_file: args.runtime_config_file.clone(),
                state_dir: args.state_dir.clone(),
                app_dir: Some(app_dir),
                variables: args.variables.iter().cloned().collect(),
                env: None,
            },
            engine: EngineConfig {
                pooling: !args.disable_pooling,
                pagemap_scan: !args.disable_pagemap_scan,
                cache_dir: if args.disable_cache {
                    None
                } else {
                    args.cache_dir
                        .clone()
                        .or_else(spinkube_runtime::engine::default_cache_dir)
                },
                max_instance_memory: args.max_instance_memory,
                execution_timeout: args.request_timeout,
                instance_reuse: InstanceReuse {
                    max_requests: args.max_instance_reuse_count,
                    max_concurrent: args.max_instance_concurrent_reuse_count,
                    idle_timeout: args.idle_instance_timeout,
                },
            },
            redis_concurrency: args.redis_concurrency,
        },
    )?;
    seed_stores(host.services(), &args).await?;
    let listener = match host.serves_http() {
        true => Some(bind_http(&host, &args).await?),
        false => None,
    };
    print_channels(host.redis_servers());
    use std::io::Write;
    std::io::stdout().flush().ok();
    host.run(listener, termination_signal(), DEFAULT_DRAIN_TIMEOUT)
        .await?;
    drop(scratch);
    Ok(())
}

/// Binds the listener and prints `Serving ...` and the routes, as `spin up` does.
async fn bind_http(host: &AppHost, args: &UpArgs) -> Result<HttpListener> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(server::tls_acceptor(cert, key)?),
        _ => None,
    };
    let addr = resolve(&args.listen).await?;
    let listener = server::bind(addr).with_context(|| {
        format!("cannot listen on {addr}; is another server using it? Pick another with --listen")
    })?;
    let local = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("Serving {scheme}://{local}");
    if !args.quiet {
        println!("Available Routes:");
        for r in host.routes() {
            let wildcard = if r.wildcard { " (wildcard)" } else { "" };
            println!("  {}: {scheme}://{local}{}{wildcard}", r.label, r.path);
        }
    }
    let defaults = ServerLimits::default();
    let limits = ServerLimits {
        header_read_timeout: args.header_read_timeout,
        idle_timeout: args.idle_connection_timeout,
        max_connections: args.max_connections.unwrap_or(defaults.max_connections),
        max_request_body_size: args.max_request_body_size.map(|b| b as u64),
    };
    Ok(HttpListener {
        listener,
        tls,
        limits,
    })
}

/// Like `spin up`: `Active Channels on HOST:PORT:` then `\tHOST:PORT/CHANNEL: [components]`.
fn print_channels(servers: &[redis_trigger::ServerPlan]) {
    for server in servers {
        let addr = redis_trigger::display_address(&server.address);
        println!("Active Channels on {addr}:");
        for (channel, components) in &server.channels {
            println!("\t{addr}/{channel}: [{}]", components.join(","));
        }
    }
}

/// `--key-value` and `--sqlite`: data the app should find when it starts.
async fn seed_stores(services: &AppServices, args: &UpArgs) -> Result<()> {
    if !args.key_values.is_empty() {
        let store = services
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
        services
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

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

fn parse_concurrency(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "invalid --redis-concurrency {s:?}; use a whole number of at least 1"
        )),
    }
}
