//! Read: find the components and their settings in an object, a command line or a flag file.
//! Parsing only; no verdicts here.

pub mod at;
pub mod component;
pub mod declared;
pub mod flags;
pub mod json_cursor;
pub mod pruned;
pub mod relevance;
pub mod shell;
pub mod sources;
pub mod subjects;
pub mod tree;

use serde_json::Value;
use subjects::{Subject, Target};

/// Classify `obj` and extract its subjects: pods and pod templates, then the declared sources,
/// then kubeadm's and the kubelet's configuration documents.
pub fn extract(obj: &Value) -> (Target, Vec<Subject<'_>>) {
    if let Some(found) = subjects::extract_pod(obj) {
        return found;
    }
    if let Some(found) = sources::extract(obj) {
        return found;
    }
    subjects::extract_config(obj)
}
