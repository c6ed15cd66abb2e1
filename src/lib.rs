//! kubelet-tls-guard: keep the TLS link between the control plane and the kubelets closed.
//!
//! Data flows one way, from inputs through the pure engine to outputs:
//!
//! ```text
//!  inputs                       engine (pure)                        outputs
//!  node/    files, /proc  ─┐                                   ┌─ report/  text, JSON, JUnit, SARIF
//!  server/  AdmissionReview├─► read → checks → verdict → remediate ├─ server/  admission responses
//!  cluster/ the live API  ─┘   (engine/: rules, policy)          └─ node/fix text edits (yamledit/)
//! ```
//!
//! `cli/` wires commands to these layers; `install/` makes certificates and webhook
//! configurations; `fsio` and `yaml` are the one safe way to write files and read YAML;
//! `bytes` holds the byte scans every reader shares.
//! A new input kind goes in `engine/read` (objects) or `node/`/`cluster/` (sources), a new
//! rule in `engine/rules` + `engine/checks` (+ `engine/remediate`), a new output in `report/`.
#![forbid(unsafe_code)]

pub mod bytes;
pub mod cli;
pub mod cluster;
pub mod engine;
pub mod fsio;
pub mod install;
pub mod node;
pub mod ops;
pub mod report;
pub mod server;
pub mod yaml;
pub mod yamledit;

// Shared by unit tests in several layers (as the integration tests share tests/support).
#[cfg(test)]
#[path = "../tests/support/log_capture.rs"]
mod log_capture;

// Counted and named by scripts/test.sh; a failure under CI=true.
#[cfg(test)]
#[path = "../tests/support/skip.rs"]
mod skip;
