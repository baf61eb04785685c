//! `spinkube`: run Spin apps locally on the same engine the shim uses.

mod commands;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "spinkube",
    version,
    about = "Run Spin WebAssembly apps locally and on Kubernetes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a Spin app (like `spin up`)
    Up(Box<commands::up::UpArgs>),
    /// Push a Spin app to an OCI registry (like `spin registry push`)
    Push(commands::push::PushArgs),
    /// Pull a Spin app from an OCI registry into the local cache
    Pull(commands::pull::PullArgs),
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(args) => commands::up::run(*args),
        Command::Push(args) => commands::push::run(args),
        Command::Pull(args) => commands::pull::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
