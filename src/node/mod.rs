//! Node files: read them (`inputs`), judge them (`check`), repair them in place (`fix`).
//! What runs on a node, not only what its files declare (DESIGN.md section 9): the processes in
//! `/proc` (`proc`, `running`), the kubelet's merged configuration (`kubelet_merge`, `declared`),
//! drift from the static pod manifests (`drift`), and a whole node tree (`tree`).

pub mod check;
pub mod declared;
pub mod drift;
pub mod fix;
mod flag_files;
pub mod inputs;
pub mod k3s;
pub mod kubelet_merge;
pub mod proc;
pub mod running;
pub mod stream;
pub mod tree;
mod walk;
