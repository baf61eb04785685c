//! What the `scaffold` flags produce, with the plugin's defaults.

use std::collections::BTreeMap;

/// The parsed flags of `spin kube scaffold`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaffoldOptions {
    /// `--autoscaler`: "" (none), "hpa" or "keda".
    pub autoscaler: String,
    /// `--azure-identity`
    pub azure_workload_identity: bool,
    /// `-c/--runtime-config-file`
    pub runtime_config_file: String,
    /// `--cpu-limit`
    pub cpu_limit: String,
    /// `--cpu-request`
    pub cpu_request: String,
    /// `--executor`
    pub executor: String,
    /// `-f/--from`
    pub from: String,
    /// Whether `--from` was given at all (the plugin marks it required).
    pub from_set: bool,
    /// `-s/--image-pull-secret`, in order given.
    pub image_pull_secrets: Vec<String>,
    /// `--max-replicas`
    pub max_replicas: i32,
    /// `--memory-limit`
    pub memory_limit: String,
    /// `--memory-request`
    pub memory_request: String,
    /// `-o/--out`; stdout when empty.
    pub out: String,
    /// `-r/--replicas` (the HPA/KEDA minimum when autoscaling).
    pub replicas: i32,
    /// `--service-account-name`
    pub service_account_name: String,
    /// `--autoscaler-target-cpu-utilization`
    pub target_cpu_utilization: i32,
    /// `--autoscaler-target-memory-utilization`
    pub target_memory_utilization: i32,
    /// `-v/--variable`; Go ranges over maps in key order, so a sorted map.
    pub variables: BTreeMap<String, String>,
    /// `--component`, in order given.
    pub components: Vec<String>,
}

impl Default for ScaffoldOptions {
    fn default() -> Self {
        ScaffoldOptions {
            autoscaler: String::new(),
            azure_workload_identity: false,
            runtime_config_file: String::new(),
            cpu_limit: String::new(),
            cpu_request: String::new(),
            executor: "containerd-shim-spin".to_string(),
            from: String::new(),
            from_set: false,
            image_pull_secrets: Vec::new(),
            max_replicas: 3,
            memory_limit: String::new(),
            memory_request: String::new(),
            out: String::new(),
            replicas: 2,
            service_account_name: String::new(),
            target_cpu_utilization: 60,
            target_memory_utilization: 60,
            variables: BTreeMap::new(),
            components: Vec::new(),
        }
    }
}
