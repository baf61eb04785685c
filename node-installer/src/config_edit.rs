//! Adding and removing the `spin` runtime in a containerd config, as text. The runtime goes into one
//! marked block at the end of the file, so everything else stays byte for byte, an edit applied twice
//! gives the same bytes, and removing the block gives the original back. Pure: the table tests in
//! `config_edit/tests.rs` run it on real-world configs.

use std::fmt;

/// First and last line of the block we own.
pub const BEGIN: &str =
    "# BEGIN spinkube-node-installer: the Spin runtime (the installer's cleanup removes this block)";
pub const END: &str = "# END spinkube-node-installer";
/// What a k3s/rke2 template needs first: their own generated config, then our block.
pub const K3S_TEMPLATE_BASE: &str = "{{ template \"base\" . }}\n";
/// The runtime name pods reach through the RuntimeClass handler, and the shim's runtime type.
pub const RUNTIME_NAME: &str = "spin";
pub const RUNTIME_TYPE: &str = "io.containerd.spin.v2";

/// The two config formats containerd reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `version = 2`: containerd 1.x (1.7); the CRI plugin is `io.containerd.grpc.v1.cri`.
    V2,
    /// `version = 3`: containerd 2.x; CRI runtimes live in `io.containerd.cri.v1.runtime`.
    V3,
}

impl Format {
    /// The header of our runtime's table, quoted the way each format's default config quotes it.
    fn runtime_table(self) -> String {
        match self {
            Format::V2 => {
                format!("plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.{RUNTIME_NAME}")
            }
            Format::V3 => {
                format!("plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.{RUNTIME_NAME}")
            }
        }
    }

    fn cri_plugin(self) -> &'static str {
        match self {
            Format::V2 => "io.containerd.grpc.v1.cri",
            Format::V3 => "io.containerd.cri.v1.runtime",
        }
    }
}

/// What adding the runtime came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// Our block is there already, as it should be.
    Unchanged,
    /// The new text to write.
    Changed(String),
    /// The config defines a `spin` runtime of its own (by hand, or another installer): it is kept
    /// as it is, and this is what it says.
    Foreign {
        runtime_type: String,
        runtime_path: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditError {
    /// Not TOML; containerd could not read it either.
    Malformed(String),
    /// No `version`, or one we do not know.
    UnknownVersion(Option<i64>),
    /// The shim path cannot be written as a TOML literal string.
    BadShimPath(String),
    /// Appending the block would not give a config with our runtime (e.g. `runtimes` is an inline
    /// table).
    WouldBreak(String),
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EditError::Malformed(why) => write!(f, "it is not valid TOML: {why}"),
            EditError::UnknownVersion(None) => write!(
                f,
                "it has no `version` key; the installer edits version 2 (containerd 1.7) and \
                 version 3 (containerd 2.x) configs: run `containerd config migrate` to convert it"
            ),
            EditError::UnknownVersion(Some(v)) => write!(
                f,
                "its `version = {v}` is not one the installer edits (2 for containerd 1.7, 3 for \
                 containerd 2.x)"
            ),
            EditError::BadShimPath(p) => {
                write!(f, "the shim path {p:?} contains a quote or a line break")
            }
            EditError::WouldBreak(why) => write!(
                f,
                "adding the `{RUNTIME_NAME}` runtime at its end would not work ({why}); add it by \
                 hand"
            ),
        }
    }
}

impl std::error::Error for EditError {}

/// The config's format, from its `version` key.
pub fn format_of(text: &str) -> Result<Format, EditError> {
    let doc = parse(text)?;
    version_format(&doc)
}

/// Adds (or updates) our `spin` runtime pointing at `shim_path`.
pub fn add_runtime(text: &str, shim_path: &str) -> Result<Added, EditError> {
    let doc = parse(text)?;
    let format = version_format(&doc)?;
    let block = runtime_block(format, shim_path)?;
    let new = match managed_block(text) {
        Some(range) => format!("{}{block}{}", &text[..range.start], &text[range.end..]),
        None => {
            if let Some(existing) = spin_runtime(&doc, format) {
                return Ok(foreign(existing));
            }
            append(text, &block)
        }
    };
    if new == text {
        return Ok(Added::Unchanged);
    }
    let check = parse(&new).map_err(|e| EditError::WouldBreak(e.to_string()))?;
    if spin_runtime(&check, format).is_none() {
        return Err(EditError::WouldBreak(
            "the runtime is not where containerd looks for it".into(),
        ));
    }
    Ok(Added::Changed(new))
}

/// Adds our block to a k3s/rke2 template (`config.toml.tmpl`, `config-v3.toml.tmpl`): a Go
/// template, so not checked as TOML. `generated` is the config k3s wrote (its format and runtimes
/// decide ours); `template` is the template file, if there is one.
pub fn add_to_template(
    generated: &str,
    template: Option<&str>,
    shim_path: &str,
) -> Result<Added, EditError> {
    let doc = parse(generated)?;
    let format = version_format(&doc)?;
    let block = runtime_block(format, shim_path)?;
    let template = template.unwrap_or(K3S_TEMPLATE_BASE);
    let new = match managed_block(template) {
        Some(range) => format!(
            "{}{block}{}",
            &template[..range.start],
            &template[range.end..]
        ),
        None => {
            // k3s adds runtimes for shims it finds on its PATH: one named spin is not ours.
            if let Some(existing) = spin_runtime(&doc, format) {
                return Ok(foreign(existing));
            }
            if mentions_spin_table(template) {
                return Ok(Added::Foreign {
                    runtime_type: "(set in the template)".into(),
                    runtime_path: String::new(),
                });
            }
            append(template, &block)
        }
    };
    Ok(if new == template {
        Added::Unchanged
    } else {
        Added::Changed(new)
    })
}

/// The text without our block (and the blank line put before it); None when it has no block.
pub fn remove_runtime(text: &str) -> Option<String> {
    let range = managed_block(text)?;
    let start = if text[..range.start].ends_with("\n\n") {
        range.start - 1
    } else {
        range.start
    };
    Some(format!("{}{}", &text[..start], &text[range.end..]))
}

/// Whether a template holds nothing but what `add_to_template` made of an absent one.
pub fn template_is_ours_alone(template_without_block: &str) -> bool {
    template_without_block == K3S_TEMPLATE_BASE
}

fn parse(text: &str) -> Result<toml::Table, EditError> {
    text.parse::<toml::Table>()
        .map_err(|e| EditError::Malformed(e.to_string().trim().to_string()))
}

fn version_format(doc: &toml::Table) -> Result<Format, EditError> {
    match doc.get("version").map(|v| v.as_integer()) {
        Some(Some(2)) => Ok(Format::V2),
        Some(Some(3)) => Ok(Format::V3),
        Some(Some(v)) => Err(EditError::UnknownVersion(Some(v))),
        _ => Err(EditError::UnknownVersion(None)),
    }
}

fn runtime_block(format: Format, shim_path: &str) -> Result<String, EditError> {
    if shim_path.contains(['\'', '\n', '\r']) {
        return Err(EditError::BadShimPath(shim_path.into()));
    }
    Ok(format!(
        "{BEGIN}\n[{table}]\n  runtime_type = '{RUNTIME_TYPE}'\n  runtime_path = '{shim_path}'\n{END}\n",
        table = format.runtime_table()
    ))
}

/// Byte range of our block, from its BEGIN line through its END line's newline.
fn managed_block(text: &str) -> Option<std::ops::Range<usize>> {
    let start = line_start(text, BEGIN)?;
    let end_line = start + line_start(&text[start..], END)?;
    let end = text[end_line..]
        .find('\n')
        .map_or(text.len(), |i| end_line + i + 1);
    Some(start..end)
}

/// Offset of the first line that is exactly `line`.
fn line_start(text: &str, line: &str) -> Option<usize> {
    let mut offset = 0;
    for l in text.split_inclusive('\n') {
        if l.trim_end_matches(['\n', '\r']) == line {
            return Some(offset);
        }
        offset += l.len();
    }
    None
}

/// `text`, a blank line, then `block`.
fn append(text: &str, block: &str) -> String {
    let sep = match text {
        "" => "",
        t if t.ends_with('\n') => "\n",
        _ => "\n\n",
    };
    format!("{text}{sep}{block}")
}

fn spin_runtime(doc: &toml::Table, format: Format) -> Option<&toml::Table> {
    doc.get("plugins")?
        .get(format.cri_plugin())?
        .get("containerd")?
        .get("runtimes")?
        .get(RUNTIME_NAME)?
        .as_table()
}

fn foreign(existing: &toml::Table) -> Added {
    let field = |k: &str| {
        existing
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    Added::Foreign {
        runtime_type: field("runtime_type"),
        runtime_path: field("runtime_path"),
    }
}

fn mentions_spin_table(template: &str) -> bool {
    template.lines().any(|l| {
        let l = l.trim();
        l.starts_with('[')
            && (l.ends_with(&format!(".runtimes.{RUNTIME_NAME}]"))
                || l.ends_with(&format!(".runtimes.\"{RUNTIME_NAME}\"]"))
                || l.ends_with(&format!(".runtimes.'{RUNTIME_NAME}']")))
    })
}

#[cfg(test)]
mod tests;
