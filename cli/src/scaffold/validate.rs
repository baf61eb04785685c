//! The plugin's flag checks, in its order and with its wording
//! (spin-plugin-kube `pkg/cmd/scaffold.go`, `validateFlags`).
//!
//! Note what the plugin does *not* check, and so neither do we: `--max-replicas`
//! and the replica ordering only matter with `--autoscaler`; requests are never
//! required (only limits are, and only with an autoscaler); requests given without
//! any limit are silently dropped by the template.

use super::image_ref;
use super::options::ScaffoldOptions;

pub fn validate_flags(opts: &ScaffoldOptions) -> Result<(), String> {
    if opts.replicas < 0 {
        return Err(format!(
            "the minimum replica count ({}) must be greater than 0",
            opts.replicas
        ));
    }
    if image_ref::app_name(&opts.from).is_none() {
        return Err(format!("invalid image reference provided: '{}'", opts.from));
    }
    if opts.autoscaler.is_empty() {
        return Ok(());
    }
    if opts.autoscaler != "hpa" && opts.autoscaler != "keda" {
        return Err(format!(
            "invalid autoscaler type '{}'; the autoscaler type must be either 'hpa' or 'keda'",
            opts.autoscaler
        ));
    }
    if opts.max_replicas < 0 {
        return Err(format!(
            "the maximum replica count ({}) must be equal to or greater than 0",
            opts.max_replicas
        ));
    }
    if opts.replicas > opts.max_replicas {
        return Err(format!(
            "the minimum replica count ({}) must be less than or equal to the maximum replica count ({})",
            opts.replicas, opts.max_replicas
        ));
    }
    if opts.cpu_limit.is_empty() {
        return Err("cpu limits must be set when autoscaling is enabled".to_string());
    }
    if opts.memory_limit.is_empty() {
        return Err("memory limits must be set when autoscaling is enabled".to_string());
    }
    if !(1..=100).contains(&opts.target_cpu_utilization) {
        return Err(format!(
            "target cpu utilization percentage ({}) must be between 1 and 100",
            opts.target_cpu_utilization
        ));
    }
    if !(1..=100).contains(&opts.target_memory_utilization) {
        return Err(format!(
            "target memory utilization percentage ({}) must be between 1 and 100",
            opts.target_memory_utilization
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Zero values like the Go test's struct literals, not the flag defaults.
    fn opts(f: impl FnOnce(&mut ScaffoldOptions)) -> ScaffoldOptions {
        let mut o = ScaffoldOptions {
            from: "ghcr.io/foo/example-app:v0.1.0".into(),
            replicas: 0,
            max_replicas: 0,
            target_cpu_utilization: 0,
            target_memory_utilization: 0,
            ..ScaffoldOptions::default()
        };
        f(&mut o);
        o
    }

    /// The plugin's TestFlagValidation table.
    #[test]
    fn plugin_flag_validation_table() {
        let cases: Vec<(ScaffoldOptions, Option<&str>)> = vec![
            (
                opts(|o| {
                    o.replicas = 2;
                    o.max_replicas = 5;
                    o.autoscaler = "hpa".into();
                    o.cpu_limit = "50m".into();
                    o.memory_limit = "100Mi".into();
                    o.target_cpu_utilization = 1;
                    o.target_memory_utilization = 1;
                }),
                None,
            ),
            (
                opts(|o| {
                    o.replicas = 2;
                    o.max_replicas = 5;
                    o.autoscaler = "keda".into();
                    o.cpu_limit = "50m".into();
                    o.memory_limit = "100Mi".into();
                    o.target_cpu_utilization = 1;
                    o.target_memory_utilization = 1;
                }),
                None,
            ),
            (
                opts(|o| o.replicas = -1),
                Some("the minimum replica count (-1) must be greater than 0"),
            ),
            (
                opts(|o| o.from = "invalid image reference!".into()),
                Some("invalid image reference provided: 'invalid image reference!'"),
            ),
            (
                opts(|o| o.autoscaler = "invalid".into()),
                Some("invalid autoscaler type 'invalid'; the autoscaler type must be either 'hpa' or 'keda'"),
            ),
            (
                opts(|o| {
                    o.autoscaler = "hpa".into();
                    o.max_replicas = -1;
                }),
                Some("the maximum replica count (-1) must be equal to or greater than 0"),
            ),
            (
                opts(|o| {
                    o.autoscaler = "hpa".into();
                    o.replicas = 5;
                    o.max_replicas = 2;
                }),
                Some("the minimum replica count (5) must be less than or equal to the maximum replica count (2)"),
            ),
            (
                opts(|o| o.autoscaler = "hpa".into()),
                Some("cpu limits must be set when autoscaling is enabled"),
            ),
            (
                opts(|o| {
                    o.autoscaler = "hpa".into();
                    o.cpu_limit = "50m".into();
                }),
                Some("memory limits must be set when autoscaling is enabled"),
            ),
            (
                opts(|o| {
                    o.autoscaler = "hpa".into();
                    o.cpu_limit = "50m".into();
                    o.memory_limit = "100Mi".into();
                }),
                Some("target cpu utilization percentage (0) must be between 1 and 100"),
            ),
            (
                opts(|o| {
                    o.autoscaler = "hpa".into();
                    o.cpu_limit = "50m".into();
                    o.memory_limit = "100Mi".into();
                    o.target_cpu_utilization = 1;
                }),
                Some("target memory utilization percentage (0) must be between 1 and 100"),
            ),
        ];
        for (o, want) in cases {
            assert_eq!(validate_flags(&o).err().as_deref(), want, "{o:?}");
        }
    }

    #[test]
    fn replicas_above_max_only_matter_with_an_autoscaler() {
        assert_eq!(
            validate_flags(&opts(|o| {
                o.replicas = 9;
                o.max_replicas = 3;
            })),
            Ok(())
        );
    }
}
