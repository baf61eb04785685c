//! Python spin-sdk 4 builds components against WASI `0.3.0-rc-2026-03-15`, a release candidate
//! no wasmtime defines; its interfaces have the shape of 0.3.0's. Such a component has its
//! top-level rc import and export names renamed to 0.3.0 before compiling, so the 0.3.0 hosts
//! serve it (wasmtime still type-checks every import). Names that also appear at 0.3.0 (Python
//! spin-sdk 5 imports both sets) keep the rc name and get call-time stubs.
//!
//! Spin serves the rc handler with a fresh instance per request; a renamed handler is therefore
//! also exported as [`FORWARDED_RC_HANDLER`] (appended last, so no index moves), which the
//! executor reads, even from a precompiled component.

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result};
use wasm_encoder::reencode::{Error, Reencode, ReencodeComponent};

const RC: &str = "@0.3.0-rc-2026-03-15";
const RELEASE: &str = "@0.3.0";
const RC_HANDLER: &str = "wasi:http/handler@0.3.0-rc-2026-03-15";
/// The marker export of a component whose `wasi:http/handler` was renamed from the rc.
pub const FORWARDED_RC_HANDLER: &str = "spinkube-forwarded-wasi-http-handler-rc-2026-03-15";

/// The component with its rc names renamed, or `None` when nothing needs renaming.
pub fn forward(bytes: &[u8]) -> Result<Option<Vec<u8>>> {
    let names = top_level_names(bytes)?;
    let renames = renames(&names);
    if renames.is_empty() {
        return Ok(None);
    }
    let mut renamer = Renamer {
        renames,
        depth: 0,
        handler: None,
    };
    let mut component = wasm_encoder::Component::new();
    renamer
        .parse_component(&mut component, wasmparser::Parser::new(0), bytes)
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .context("renaming WASI 0.3.0-rc-2026-03-15 imports to 0.3.0")?;
    if let Some((kind, index)) = renamer.handler {
        let mut marker = wasm_encoder::ComponentExportSection::new();
        marker.export(FORWARDED_RC_HANDLER, kind, index, None);
        component.section(&marker);
    }
    Ok(Some(component.finish()))
}

/// Which top-level names to rename: each rc name whose 0.3.0 twin is not there too.
fn renames(names: &HashSet<String>) -> HashMap<String, String> {
    names
        .iter()
        .filter(|n| n.contains(RC))
        .map(|n| (n.clone(), n.replace(RC, RELEASE)))
        .filter(|(_, to)| !names.contains(to))
        .collect()
}

/// The component's own import and export names (not those of nested components).
fn top_level_names(bytes: &[u8]) -> Result<HashSet<String>> {
    let mut names = HashSet::new();
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload? {
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(s) if depth == 0 => {
                for import in s {
                    names.insert(import?.name.name.to_string());
                }
            }
            wasmparser::Payload::ComponentExportSection(s) if depth == 0 => {
                for export in s {
                    names.insert(export?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(names)
}

struct Renamer {
    renames: HashMap<String, String>,
    /// Nesting of modules and components being re-encoded: 0 is the top level.
    depth: usize,
    /// The renamed handler export's kind and index.
    handler: Option<(wasm_encoder::ComponentExportKind, u32)>,
}

impl Renamer {
    fn renamed<'a>(&'a self, name: &'a str) -> &'a str {
        match self.renames.get(name) {
            Some(to) if self.depth == 0 => to,
            _ => name,
        }
    }
}

impl Reencode for Renamer {
    type Error = std::convert::Infallible;
}

impl ReencodeComponent for Renamer {
    // Called around nested modules and components.
    fn push_depth(&mut self) {
        self.depth += 1;
    }

    fn pop_depth(&mut self) {
        self.depth -= 1;
    }

    fn parse_component_import_section(
        &mut self,
        imports: &mut wasm_encoder::ComponentImportSection,
        section: wasmparser::ComponentImportSectionReader<'_>,
    ) -> Result<(), Error<Self::Error>> {
        for import in section {
            let import = import?;
            let mut name = import.name;
            let renamed = self.renamed(name.name).to_string();
            name.name = &renamed;
            imports.import(name, self.component_type_ref(import.ty)?);
        }
        Ok(())
    }

    fn parse_component_export(
        &mut self,
        exports: &mut wasm_encoder::ComponentExportSection,
        export: wasmparser::ComponentExport<'_>,
    ) -> Result<(), Error<Self::Error>> {
        let kind = export.kind.into();
        let index = self.component_external_index(export.kind, export.index);
        let mut name = export.name;
        let renamed = self.renamed(name.name).to_string();
        if self.depth == 0 && name.name == RC_HANDLER && renamed != RC_HANDLER {
            self.handler = Some((kind, index));
        }
        name.name = &renamed;
        let ty = export.ty.map(|t| self.component_type_ref(t)).transpose()?;
        exports.export(name, kind, index, ty);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> HashSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn renames_only_rc_names_without_a_release_twin() {
        let r = renames(&set(&[
            "wasi:http/types@0.3.0-rc-2026-03-15",
            "wasi:cli/stdout@0.3.0-rc-2026-03-15",
            "wasi:cli/stdout@0.3.0",
            "wasi:http/types@0.2.6",
        ]));
        assert_eq!(r.len(), 1);
        assert_eq!(
            r["wasi:http/types@0.3.0-rc-2026-03-15"],
            "wasi:http/types@0.3.0"
        );
    }

    #[test]
    fn components_without_rc_names_are_left_alone() {
        let wat = r#"(component (import "wasi:cli/stdout@0.3.0" (instance)))"#;
        let bytes = wat::parse_str(wat).unwrap();
        assert!(forward(&bytes).unwrap().is_none());
    }

    #[test]
    fn a_renamed_handler_is_marked_and_nested_names_stay() {
        let wat = r#"(component
            (import "wasi:http/types@0.3.0-rc-2026-03-15" (instance $types))
            (component $inner
                (import "wasi:http/types@0.3.0-rc-2026-03-15" (instance))
                (instance $h)
                (export "wasi:http/handler@0.3.0-rc-2026-03-15" (instance $h)))
            (instance $i (instantiate $inner
                (with "wasi:http/types@0.3.0-rc-2026-03-15" (instance $types))))
            (alias export $i "wasi:http/handler@0.3.0-rc-2026-03-15" (instance $h))
            (export "wasi:http/handler@0.3.0-rc-2026-03-15" (instance $h)))"#;
        let bytes = wat::parse_str(wat).unwrap();
        let out = forward(&bytes).unwrap().expect("renamed");
        wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
            .validate_all(&out)
            .unwrap();
        let names = top_level_names(&out).unwrap();
        assert_eq!(
            names,
            set(&[
                "wasi:http/types@0.3.0",
                "wasi:http/handler@0.3.0",
                FORWARDED_RC_HANDLER
            ])
        );
    }
}
