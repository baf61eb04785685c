//! Prints the CRDs (`crdgen`), or writes one file per CRD (`crdgen --out-dir crds`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

#[derive(Parser)]
#[command(about = "Print or write the SpinApp and SpinAppExecutor CustomResourceDefinitions")]
struct Args {
    /// Write `<crd name>.yaml` files into this directory instead of printing them.
    #[arg(long)]
    out_dir: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let files = spinkube_operator::crd::crd_files()?;
    match args.out_dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for (name, body) in files {
                let path = dir.join(name);
                std::fs::write(&path, body)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        None => {
            for (_, body) in files {
                print!("{body}");
            }
        }
    }
    Ok(())
}
