//! `scaffold`'s command line, parsed the way cobra/pflag parse the plugin's
//! (pflag v1.0.6, cobra v1.9): `--flag value`, `--flag=value`, `-f value`,
//! `-fvalue`, `-f=value`, `--` ends the flags, stray words are ignored, the last
//! value of a scalar flag wins, slice flags split on commas (CSV) and
//! accumulate, `--variable` merges `k=v` pairs. Errors and the help text use
//! pflag's and cobra's wording.

use super::csv;
use super::goerr::{parse_bool, parse_int32, quote, quote_rune};
use super::options::ScaffoldOptions;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int32,
    String,
    Bool,
    /// pflag `StringSlice` (shown as `strings`).
    Strings,
    /// pflag `StringToString`.
    StringToString,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Id {
    Autoscaler,
    TargetCpu,
    TargetMemory,
    AzureIdentity,
    Component,
    CpuLimit,
    CpuRequest,
    Executor,
    From,
    Help,
    ImagePullSecret,
    MaxReplicas,
    MemoryLimit,
    MemoryRequest,
    Out,
    Replicas,
    RuntimeConfigFile,
    ServiceAccountName,
    Variable,
}

struct Flag {
    id: Id,
    name: &'static str,
    short: Option<u8>,
    kind: Kind,
    /// How pflag prints a non-zero default in the help, "" for none.
    default: &'static str,
    usage: &'static str,
}

/// The plugin's flags, sorted by name as cobra lists them (usage strings are
/// the plugin's own).
const FLAGS: &[Flag] = &[
    Flag {
        id: Id::Autoscaler,
        name: "autoscaler",
        short: None,
        kind: Kind::String,
        default: "",
        usage: "The autoscaler to use. Valid values are 'hpa' and 'keda'",
    },
    Flag {
        id: Id::TargetCpu,
        name: "autoscaler-target-cpu-utilization",
        short: None,
        kind: Kind::Int32,
        default: "60",
        usage: "The target CPU utilization percentage to maintain across all pods",
    },
    Flag {
        id: Id::TargetMemory,
        name: "autoscaler-target-memory-utilization",
        short: None,
        kind: Kind::Int32,
        default: "60",
        usage: "The target memory utilization percentage to maintain across all pods",
    },
    Flag {
        id: Id::AzureIdentity,
        name: "azure-identity",
        short: None,
        kind: Kind::Bool,
        default: "",
        usage: "Enable Azure Workload Identity for the application",
    },
    Flag {
        id: Id::Component,
        name: "component",
        short: None,
        kind: Kind::Strings,
        default: "",
        usage: "Component ID to run. This can be specified multiple times. The default is all components.",
    },
    Flag {
        id: Id::CpuLimit,
        name: "cpu-limit",
        short: None,
        kind: Kind::String,
        default: "",
        usage: "The maximum amount of CPU resource units the application is allowed to use",
    },
    Flag {
        id: Id::CpuRequest,
        name: "cpu-request",
        short: None,
        kind: Kind::String,
        default: "",
        usage: "The amount of CPU resource units requested by the application. Used to determine which node the application will run on",
    },
    Flag {
        id: Id::Executor,
        name: "executor",
        short: None,
        kind: Kind::String,
        default: "\"containerd-shim-spin\"",
        usage: "The executor used to run the application",
    },
    Flag {
        id: Id::From,
        name: "from",
        short: Some(b'f'),
        kind: Kind::String,
        default: "",
        usage: "Reference in the registry of the application",
    },
    Flag {
        id: Id::Help,
        name: "help",
        short: Some(b'h'),
        kind: Kind::Bool,
        default: "",
        usage: "help for scaffold",
    },
    Flag {
        id: Id::ImagePullSecret,
        name: "image-pull-secret",
        short: Some(b's'),
        kind: Kind::Strings,
        default: "",
        usage: "Secrets in the same namespace to use for pulling the image",
    },
    Flag {
        id: Id::MaxReplicas,
        name: "max-replicas",
        short: None,
        kind: Kind::Int32,
        default: "3",
        usage: "Maximum number of replicas for the application. Autoscaling must be enabled to use this flag",
    },
    Flag {
        id: Id::MemoryLimit,
        name: "memory-limit",
        short: None,
        kind: Kind::String,
        default: "",
        usage: "The maximum amount of memory the application is allowed to use",
    },
    Flag {
        id: Id::MemoryRequest,
        name: "memory-request",
        short: None,
        kind: Kind::String,
        default: "",
        usage: "The amount of memory requested by the application. Used to determine which node the application will run on",
    },
    Flag {
        id: Id::Out,
        name: "out",
        short: Some(b'o'),
        kind: Kind::String,
        default: "",
        usage: "Path to file to write manifest yaml",
    },
    Flag {
        id: Id::Replicas,
        name: "replicas",
        short: Some(b'r'),
        kind: Kind::Int32,
        default: "2",
        usage: "Minimum number of replicas for the application",
    },
    Flag {
        id: Id::RuntimeConfigFile,
        name: "runtime-config-file",
        short: Some(b'c'),
        kind: Kind::String,
        default: "",
        usage: "Path to runtime config file",
    },
    Flag {
        id: Id::ServiceAccountName,
        name: "service-account-name",
        short: None,
        kind: Kind::String,
        default: "",
        usage: "The name of the service account to use for the application",
    },
    Flag {
        id: Id::Variable,
        name: "variable",
        short: Some(b'v'),
        kind: Kind::StringToString,
        // pflag shows an empty map default as "[]" (it is not a "zero" value to it).
        default: "[]",
        usage: "Application variable (name=value) to be provided to the application",
    },
];

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    Run(Box<ScaffoldOptions>),
    Help,
}

/// Parses `scaffold`'s arguments (everything after the word `scaffold`).
pub fn parse(args: &[String]) -> Result<Parsed, String> {
    let mut opts = ScaffoldOptions::default();
    let mut help = false;
    let mut i = 0;
    while i < args.len() {
        let s = args[i].as_str();
        i += 1;
        if s.len() < 2 || !s.starts_with('-') {
            continue; // a positional word; `scaffold` ignores them
        }
        if s == "--" {
            break;
        }
        if let Some(long) = s.strip_prefix("--") {
            if long.starts_with('-') || long.starts_with('=') {
                return Err(format!("bad flag syntax: {s}"));
            }
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            let Some(flag) = FLAGS.iter().find(|f| f.name == name) else {
                return Err(format!("unknown flag: --{name}"));
            };
            let value = match inline {
                Some(v) => v.to_string(),
                None if flag.kind == Kind::Bool => "true".to_string(),
                None if i < args.len() => {
                    i += 1;
                    args[i - 1].clone()
                }
                None => return Err(format!("flag needs an argument: {s}")),
            };
            set(&mut opts, &mut help, flag, &value)?;
        } else {
            // A run of shorthands: `-hf x`, `-fvalue`, `-f=value`.
            let mut shorthands = &s[1..];
            while !shorthands.is_empty() {
                let c = shorthands.as_bytes()[0];
                let Some(flag) = FLAGS.iter().find(|f| f.short == Some(c)) else {
                    let ch = shorthands.chars().next().unwrap_or('?');
                    return Err(format!(
                        "unknown shorthand flag: {} in -{shorthands}",
                        quote_rune(if c.is_ascii() { ch } else { char::from(c) })
                    ));
                };
                let rest = &shorthands[1..];
                let value;
                if rest.len() > 1 && rest.starts_with('=') {
                    value = rest[1..].to_string();
                    shorthands = "";
                } else if flag.kind == Kind::Bool {
                    value = "true".to_string();
                    shorthands = rest;
                } else if !rest.is_empty() {
                    value = rest.to_string();
                    shorthands = "";
                } else if i < args.len() {
                    value = args[i].clone();
                    i += 1;
                    shorthands = "";
                } else {
                    return Err(format!(
                        "flag needs an argument: {} in -{shorthands}",
                        quote_rune(char::from(c))
                    ));
                }
                set(&mut opts, &mut help, flag, &value)?;
            }
        }
    }
    if help {
        Ok(Parsed::Help)
    } else {
        Ok(Parsed::Run(Box::new(opts)))
    }
}

/// `FlagSet.Set`: converts the value and wraps conversion errors as pflag does.
fn set(
    opts: &mut ScaffoldOptions,
    help: &mut bool,
    flag: &Flag,
    value: &str,
) -> Result<(), String> {
    let invalid = |cause: String| {
        let shown = match flag.short {
            Some(c) => format!("-{}, --{}", char::from(c), flag.name),
            None => format!("--{}", flag.name),
        };
        format!(
            "invalid argument {} for {} flag: {cause}",
            quote(value),
            quote(&shown)
        )
    };
    let string = || value.to_string();
    let int = || parse_int32(value).map_err(invalid);
    let boolean = || parse_bool(value).map_err(invalid);
    let strings = || -> Result<Vec<String>, String> {
        if value.is_empty() {
            Ok(Vec::new())
        } else {
            csv::read_record(value).map_err(invalid)
        }
    };
    match flag.id {
        Id::Autoscaler => opts.autoscaler = string(),
        Id::TargetCpu => opts.target_cpu_utilization = int()?,
        Id::TargetMemory => opts.target_memory_utilization = int()?,
        Id::AzureIdentity => opts.azure_workload_identity = boolean()?,
        Id::Component => opts.components.extend(strings()?),
        Id::CpuLimit => opts.cpu_limit = string(),
        Id::CpuRequest => opts.cpu_request = string(),
        Id::Executor => opts.executor = string(),
        Id::From => {
            opts.from = string();
            opts.from_set = true;
        }
        Id::Help => *help = boolean()?,
        Id::ImagePullSecret => opts.image_pull_secrets.extend(strings()?),
        Id::MaxReplicas => opts.max_replicas = int()?,
        Id::MemoryLimit => opts.memory_limit = string(),
        Id::MemoryRequest => opts.memory_request = string(),
        Id::Out => opts.out = string(),
        Id::Replicas => opts.replicas = int()?,
        Id::RuntimeConfigFile => opts.runtime_config_file = string(),
        Id::ServiceAccountName => opts.service_account_name = string(),
        Id::Variable => {
            for (k, v) in string_to_string(value).map_err(invalid)? {
                opts.variables.insert(k, v);
            }
        }
    }
    Ok(())
}

/// pflag's `StringToString` value: one `k=v` (surrounding `"` trimmed, commas
/// kept in the value) or, with two or more `=`, a CSV list of `k=v` pairs.
fn string_to_string(value: &str) -> Result<Vec<(String, String)>, String> {
    let pairs = match value.matches('=').count() {
        0 => return Err(format!("{value} must be formatted as key=value")),
        1 => vec![value.trim_matches('"').to_string()],
        _ => csv::read_record(value)?,
    };
    pairs
        .into_iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(format!("{pair} must be formatted as key=value")),
        })
        .collect()
}

/// cobra's usage text for the command (`Usage:` … `Flags:` …), ending in a newline.
pub fn usage(command_path: &str) -> String {
    let mut lines: Vec<(String, String)> = Vec::new();
    for f in FLAGS {
        let mut left = match f.short {
            Some(c) => format!("  -{}, --{}", char::from(c), f.name),
            None => format!("      --{}", f.name),
        };
        let type_name = match f.kind {
            Kind::Int32 => "int32",
            Kind::String => "string",
            Kind::Bool => "",
            Kind::Strings => "strings",
            Kind::StringToString => "stringToString",
        };
        if !type_name.is_empty() {
            left.push(' ');
            left.push_str(type_name);
        }
        let mut right = f.usage.to_string();
        if !f.default.is_empty() {
            right.push_str(&format!(" (default {})", f.default));
        }
        lines.push((left, right));
    }
    let width = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let mut out = format!("Usage:\n  {command_path} [flags]\n\nFlags:\n");
    for (left, right) in lines {
        out.push_str(&format!("{left:<width$}   {right}\n"));
    }
    out
}

/// cobra's `--help` output for the command.
pub fn help(command_path: &str) -> String {
    format!("Scaffold application manifest\n\n{}", usage(command_path))
}

#[cfg(test)]
mod tests;
