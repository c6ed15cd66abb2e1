//! kubelet-tls-guard: keep the TLS link between the control plane and the kubelets closed.
//!
//! Data flows one way: parse (`inputs`, `component`, `flags`) → evaluate (`rules`, `engine`)
//! → decide by mode (`policy`) → respond or patch (`server`, `remediate`, `yamledit`).

pub mod audit;
pub mod certs;
pub mod checks;
pub mod cli;
pub mod cluster;
pub mod component;
pub mod engine;
pub mod fixer;
pub mod flags;
pub mod inputs;
pub mod policy;
pub mod remediate;
pub mod report;
pub mod rules;
pub mod server;
pub mod shell;
pub mod subjects;
pub mod webhook_config;
pub mod yamledit;
