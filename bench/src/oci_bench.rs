//! `make bench`, OCI part: push and pull of the Python example (~40 MB) against a local
//! `docker-registry`, next to `curl` fetching the same blobs in the same run, and a second pull
//! that must come from the content-addressed cache.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ms;
use anyhow::{bail, Context, Result};

const REGISTRY: &str = "/usr/bin/docker-registry";
/// How long the registry may take to answer `/v2/`.
const READY_LIMIT: Duration = Duration::from_secs(20);

struct Registry(Child);

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the OCI benchmark; prints one line per figure.
pub fn oci(spinkube: &Path, root: &Path) -> Result<()> {
    if !Path::new(REGISTRY).is_file() {
        println!("oci: skipped ({REGISTRY} missing: apt-get install -y docker-registry)");
        return Ok(());
    }
    let work = tempfile_dir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = work.join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            work.join("storage").display()
        ),
    )?;
    let _registry = Registry(
        Command::new(REGISTRY)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting docker-registry")?,
    );
    let host = format!("127.0.0.1:{port}");
    wait_ready(&host)?;

    let app = root.join("examples/python-http");
    let size = std::fs::metadata(app.join("app.wasm"))
        .context("examples/python-http/app.wasm missing: run `make examples`")?
        .len();
    let reference = format!("{host}/python-http:bench");
    let cache = work.join("cache");
    let run = |args: &[&str]| -> Result<Duration> {
        let start = Instant::now();
        let out = Command::new(spinkube)
            .args(args)
            .env("SPINKUBE_CACHE_DIR", &cache)
            .env("DOCKER_CONFIG", &work)
            .output()?;
        if !out.status.success() {
            bail!(
                "spinkube {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(start.elapsed())
    };
    let push = run(&["push", "-f", app.to_str().unwrap_or_default(), &reference])?;
    let pull = run(&["pull", &reference])?;
    let cached = run(&["pull", &reference])?;

    // The same bytes with curl: manifest, then every blob it names.
    let start = Instant::now();
    let manifest = curl(
        &format!("http://{host}/v2/python-http/manifests/bench"),
        true,
    )?;
    let mut digests = Vec::new();
    let mut rest = manifest.as_str();
    while let Some(i) = rest.find("sha256:") {
        digests.push(rest[i..i + 71].to_string());
        rest = &rest[i + 71..];
    }
    for d in &digests {
        curl(&format!("http://{host}/v2/python-http/blobs/{d}"), false)?;
    }
    let curl_time = start.elapsed();

    let mb = size as f64 / 1e6;
    let rate = |d: Duration| mb / d.as_secs_f64();
    println!("oci: python-http ({mb:.1} MB Wasm) against a local docker-registry");
    println!(
        "  spinkube push          {:>8.1} ms  ({:.0} MB/s)",
        ms(push),
        rate(push)
    );
    println!(
        "  spinkube pull          {:>8.1} ms  ({:.0} MB/s)",
        ms(pull),
        rate(pull)
    );
    println!(
        "  curl, same {} blobs     {:>8.1} ms  ({:.0} MB/s)",
        digests.len(),
        ms(curl_time),
        rate(curl_time)
    );
    println!("  spinkube pull (cached) {:>8.1} ms", ms(cached));
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// GETs a URL with curl; the body is kept only when `keep` (blobs go to /dev/null).
fn curl(url: &str, keep: bool) -> Result<String> {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sf",
        "-H",
        "Accept: application/vnd.oci.image.manifest.v1+json",
    ]);
    if !keep {
        cmd.args(["-o", "/dev/null"]);
    }
    let out = cmd.arg(url).output().context("running curl")?;
    if !out.status.success() {
        bail!("curl {url} failed");
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn wait_ready(host: &str) -> Result<()> {
    let deadline = Instant::now() + READY_LIMIT;
    while Instant::now() < deadline {
        if curl(&format!("http://{host}/v2/"), true).is_ok() {
            return Ok(());
        }
        // Poll interval of the readiness probe.
        std::thread::sleep(Duration::from_millis(10));
    }
    bail!("docker-registry did not answer on {host} within {READY_LIMIT:?}")
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("spinkube-oci-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
