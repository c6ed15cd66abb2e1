//! The live cluster (DESIGN.md section 9): `scan` reads the API and the kubelets and judges them
//! with the same engine as `check`.

pub mod approve;
pub mod client;
pub mod csr;
pub mod inventory;
pub mod judge;
pub mod kubelet;
pub mod openreports;
pub mod probe;
pub mod proxy;
pub mod readiness;
pub mod scan;
pub mod verify;

#[cfg(test)]
mod tests;
