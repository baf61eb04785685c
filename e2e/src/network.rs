//! The cluster's own addresses: a pod /24 (the CNI bridge holds its first address, which is
//! also the node's IP and where kube-apiserver listens) and a Service /24, both inside
//! 10.0.0.0/8 and picked from the process id so runs on one machine differ. Nothing outside
//! this machine is ever addressed.

use std::net::Ipv4Addr;
use std::process::Command;

use anyhow::{bail, Context, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subnets {
    /// Pod CIDR, e.g. `10.201.7.0/24`.
    pub pods: String,
    /// The bridge's address: node IP, pods' gateway, kube-apiserver's address.
    pub node_ip: Ipv4Addr,
    /// Service CIDR, e.g. `10.209.7.0/24`.
    pub services: String,
}

/// Subnets for a run keyed by `seed` (the process id): pods in 10.208.0.0/13, Services in
/// 10.216.0.0/13, so they never overlap each other or the shim suite's 10.200.0.0/13.
pub fn subnets(seed: u32) -> Subnets {
    let b = 208 + (seed >> 8) % 8;
    let c = seed % 256;
    Subnets {
        pods: format!("10.{b}.{c}.0/24"),
        node_ip: Ipv4Addr::new(10, b as u8, c as u8, 1),
        services: format!("10.{}.{c}.0/24", b + 8),
    }
}

/// A Linux bridge holding the node IP, made before anything listens on that IP. The CNI bridge
/// plugin finds it by name and attaches pods to it. Removed on drop.
pub struct Bridge {
    name: String,
}

impl Bridge {
    pub fn create(name: &str, node_ip: Ipv4Addr, prefix: u8) -> Result<Bridge> {
        // A bridge left by a run that was killed: start clean.
        let _ = Command::new("ip").args(["link", "del", name]).output();
        let bridge = Bridge { name: name.into() };
        ip(&["link", "add", name, "type", "bridge"])?;
        ip(&["addr", "add", &format!("{node_ip}/{prefix}"), "dev", name])?;
        ip(&["link", "set", name, "up"])?;
        Ok(bridge)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.name])
            .output();
    }
}

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("running ip (iproute2)")?;
    if !out.status.success() {
        bail!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_stay_in_their_ranges_and_apart() {
        for seed in [0, 1, 255, 256, 4095, 65_535, u32::MAX] {
            let s = subnets(seed);
            let pod_b: u32 = s.pods.split('.').nth(1).unwrap().parse().unwrap();
            let svc_b: u32 = s.services.split('.').nth(1).unwrap().parse().unwrap();
            assert!((208..216).contains(&pod_b), "{s:?}");
            assert!((216..224).contains(&svc_b), "{s:?}");
            assert!(s.pods.starts_with(&format!("10.{pod_b}.")));
            assert_eq!(s.node_ip.octets()[3], 1);
        }
        assert_ne!(subnets(1).pods, subnets(2).pods);
    }
}
