//! kubelet-tls-guard: keep the TLS link between the control plane and the kubelets closed.

pub mod cli;
pub mod engine;
pub mod fsio;
pub mod install;
pub mod node;
pub mod report;
pub mod server;
pub mod yaml;
pub mod yamledit;
