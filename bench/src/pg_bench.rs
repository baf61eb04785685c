//! PostgreSQL figures: req/s of a guest doing one `SELECT 1` per request (e2e/apps/outbound-net
//! on `spin:postgres/postgres@4.0.0`: open, query, drop; sessions pooled by the runtime) next
//! to a native tokio-postgres loop with as many concurrent clients, against one throwaway
//! cluster on loopback.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::{figures, load_path, ms, serving_addr, CONNECTIONS, MEASURE, WARMUP};

pub fn run(rt: &tokio::runtime::Runtime, bin: &Path, root: &Path) -> Result<()> {
    let cache = super::tempdir("bench-pg-cache")?;
    let result = measure(rt, bin, root, &cache);
    let _ = std::fs::remove_dir_all(&cache);
    result
}

fn measure(rt: &tokio::runtime::Runtime, bin: &Path, root: &Path, cache: &Path) -> Result<()> {
    let db = spinkube_testenv::postgres::Postgres::start("bench", "bench");
    let url = db.url();
    let native = rt.block_on(native(&url))?;
    let mut child = Command::new(bin)
        .args(["up", "-q", "--listen", "127.0.0.1:0", "-f"])
        .arg(root.join("e2e/apps/outbound-net"))
        .args(["--variable", &format!("pg_port={}", db.port())])
        .env("SPINKUBE_CACHE_DIR", cache)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .context("starting spinkube")?;
    let figures = serving_addr(&mut child).and_then(|addr| {
        let path: &'static str = Box::leak(
            format!("/pg?v=4&op=query&sql=SELECT%201&address={}", encode(&url)).into_boxed_str(),
        );
        // The same guest answering without a host call: what the HTTP side costs alone.
        let plain = rt.block_on(load_path(addr, "/lookup?name=127.0.0.1"))?;
        let pg = rt.block_on(load_path(addr, path))?;
        Ok((plain, pg))
    });
    let _ = child.kill();
    let _ = child.wait();
    let (plain, guest) = figures?;
    println!("# PostgreSQL: SELECT 1 per request, {CONNECTIONS} concurrent clients, {MEASURE:?} each, loopback");
    println!(
        "{:<40} {:>10} {:>10} {:>10} {:>8}",
        "client", "req/s", "p50", "p99", "/native"
    );
    native.print_row("native tokio-postgres loop", None, None);
    plain.print_row("guest, no host call", None, None);
    guest.print_row(
        "guest (HTTP request + pg open/query)",
        Some(guest.rps / native.rps),
        None,
    );
    println!(
        "open + SELECT 1 through the host, per request (p50 over the no-call guest): {:.3} ms; native SELECT 1 p50: {:.3} ms",
        ms(guest.p50.saturating_sub(plain.p50)),
        ms(native.p50)
    );
    Ok(())
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// CONNECTIONS clients, each running `SELECT 1` back to back.
async fn native(url: &str) -> Result<super::Figures> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<Duration> = Vec::new();
            loop {
                let t = Instant::now();
                client.query("SELECT 1", &[]).await?;
                let elapsed = start.elapsed();
                if elapsed > WARMUP + MEASURE {
                    break;
                }
                if elapsed > WARMUP {
                    latencies.push(t.elapsed());
                }
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    figures(all)
}
