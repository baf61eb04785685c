//! A real one-node Kubernetes cluster for the end-to-end suite and `make cluster`: kubelet,
//! containerd with our shim and kube-proxy on this machine, our images in a local registry and
//! our chart installed. Nothing leaves the machine: the pod and Service subnets are the run's
//! own (see [`network`]).

pub mod cluster;
pub mod dns;
pub mod host_redis;
pub mod network;
pub mod node;

pub use cluster::Cluster;
