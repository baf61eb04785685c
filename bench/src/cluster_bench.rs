//! The product on a real one-node cluster (spinkube-e2e's [`Cluster`]): `helm install` to the
//! operator Ready, to the node readied by the node installer and to the first SpinApp Ready;
//! `kubectl apply` of a SpinApp to the first HTTP 200 through its Service, cold (image not on
//! the node) and warm;
//! `kubectl scale` from 1 to 10 until all ten are Ready; memory of the ten pods. Next to the
//! same app under `spinkube up`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use spinkube_e2e::cluster::SHIM_EXECUTOR;
use spinkube_e2e::Cluster;

use crate::ms;
use crate::shim_bench::{get_status, memory as shim_memory, mib};

const LIMIT: Duration = Duration::from_secs(300);
const REPLICAS: usize = 10;
const APP: &str = "rust-http";

pub fn run(spinkube: &Path, app: &Path, up_cold: Duration, up_warm: Duration) -> Result<()> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        println!("cluster: skipped (a node needs root)");
        return Ok(());
    }
    let started = Instant::now();
    let cluster = Cluster::start_bare()?;
    println!(
        "# cluster: one real node (kubelet, containerd without the spin runtime, kube-proxy) up in {:.0?}",
        started.elapsed()
    );
    let r = measure(&cluster, spinkube, app, up_cold, up_warm);
    cluster.teardown();
    r
}

fn measure(
    cluster: &Cluster,
    spinkube: &Path,
    app: &Path,
    up_cold: Duration,
    up_warm: Duration,
) -> Result<()> {
    let image = cluster.image("bench-rust-http:v1");
    crate::push(spinkube, app, &image)?;
    // The images are pushed before the clock starts; the chart's time is helm's and the node's.
    let chart = cluster.install_chart(&[])?;
    let ns = cluster.cp.create_namespace("bench")?;
    cluster.kubectl_stdin(&["-n", &ns, "apply", "-f", "-"], SHIM_EXECUTOR)?;
    let manifest = format!(
        "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata:\n  name: {APP}\nspec:\n  \
         image: {image}\n  executor: containerd-shim-spin\n  replicas: 1\n"
    );
    let cold = apply_to_first_200(cluster, &ns, &manifest)?;
    let first_app = chart.started.elapsed();
    cluster.kubectl(&["-n", &ns, "delete", "spinapp", APP, "--wait=true"])?;
    cluster.wait_for_output(&["-n", &ns, "get", "pods", "-o", "name"], "", LIMIT)?;
    let warm = apply_to_first_200(cluster, &ns, &manifest)?;

    let t = Instant::now();
    cluster.kubectl(&[
        "-n",
        &ns,
        "scale",
        "spinapp",
        APP,
        &format!("--replicas={REPLICAS}"),
    ])?;
    cluster.wait_for_output(
        &[
            "-n",
            &ns,
            "get",
            "deployment",
            APP,
            "-o",
            "jsonpath={.status.readyReplicas}",
        ],
        &REPLICAS.to_string(),
        LIMIT,
    )?;
    let scale = t.elapsed();

    let socket = cluster
        .node()
        .as_ref()
        .map(|n| n.containerd.socket.display().to_string())
        .context("no node")?;
    let (procs, rss, pss) = shim_memory(&socket);

    println!("{:<52} {:>9}", "", "ms");
    println!(
        "{:<52} {:>9.0}",
        "helm install -> operator Ready",
        ms(chart.operator_ready)
    );
    println!(
        "{:<52} {:>9.0}",
        "helm install -> node readied (shim, containerd)",
        ms(chart.node_ready)
    );
    println!(
        "{:<52} {:>9.0}",
        "helm install -> first SpinApp answering 200",
        ms(first_app)
    );
    println!(
        "{:<52} {:>9.0}",
        "kubectl apply -> first 200 via Service, cold",
        ms(cold)
    );
    println!(
        "{:<52} {:>9.0}",
        "kubectl apply -> first 200 via Service, warm",
        ms(warm)
    );
    println!(
        "{:<52} {:>9.0}",
        "spinkube up -> first 200, empty compile cache",
        ms(up_cold)
    );
    println!(
        "{:<52} {:>9.0}",
        "spinkube up -> first 200, warm compile cache",
        ms(up_warm)
    );
    println!(
        "{:<52} {:>9.0}",
        format!("kubectl scale 1 -> {REPLICAS}, all Ready"),
        ms(scale)
    );
    println!(
        "memory of {REPLICAS} pods: {procs} shim processes, RSS {:.1} MiB, PSS {:.1} MiB ({:.1} MiB PSS per pod)",
        mib(rss),
        mib(pss),
        mib(pss) / REPLICAS as f64
    );
    let _ = cluster.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
    Ok(())
}

/// Applies `manifest`; the time until the app's Service answers 200.
fn apply_to_first_200(cluster: &Cluster, ns: &str, manifest: &str) -> Result<Duration> {
    let t = Instant::now();
    cluster.kubectl_stdin(&["-n", ns, "apply", "-f", "-"], manifest)?;
    let ip = loop {
        let ip = cluster
            .kubectl(&[
                "-n",
                ns,
                "get",
                "svc",
                APP,
                "-o",
                "jsonpath={.spec.clusterIP}",
            ])
            .unwrap_or_default();
        if !ip.trim().is_empty() {
            break ip.trim().to_string();
        }
        check(t)?;
        std::thread::sleep(Duration::from_millis(20));
    };
    let addr: SocketAddr = format!("{ip}:80").parse()?;
    loop {
        if get_status(addr).ok() == Some(200) {
            return Ok(t.elapsed());
        }
        check(t)?;
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn check(t: Instant) -> Result<()> {
    if t.elapsed() > LIMIT {
        bail!("no HTTP 200 within {LIMIT:?}");
    }
    Ok(())
}
