//! What runs on a node, not only what its files declare (DESIGN.md section 9): the processes
//! in `/proc`, the kubelet's merged configuration, and drift from the static pod manifests.

pub mod declared;
pub mod drift;
pub mod kubelet_merge;
pub mod proc;
pub mod running;
pub mod tree;
