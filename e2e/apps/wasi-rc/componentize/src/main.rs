//! `componentize IN.wasm OUT.wasm`: turns a core module carrying the
//! component type that wit-bindgen embeds into a component. The guests are
//! `no_std`, so they import no WASI preview 1 and need no adapter.

use anyhow::{bail, Context, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        bail!("usage: componentize IN.wasm OUT.wasm");
    };
    let module = std::fs::read(input).with_context(|| format!("reading {input}"))?;
    let component = wit_component::ComponentEncoder::default()
        .module(&module)?
        .validate(true)
        .encode()
        .with_context(|| format!("componentizing {input}"))?;
    std::fs::write(output, component).with_context(|| format!("writing {output}"))?;
    Ok(())
}
