//! kubelet-serving CSRs grouped by the node that asked: the pending and denied ones are named in
//! that node's messages (a kubelet without an approved CSR keeps its self-signed certificate).

use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use std::collections::BTreeMap;

pub const SIGNER: &str = "kubernetes.io/kubelet-serving";

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NodeCsrs {
    pub pending: Vec<String>,
    pub denied: Vec<String>,
}

/// Group kubelet-serving CSRs by node (`spec.username` = `system:node:NAME`).
pub fn group(csrs: &[CertificateSigningRequest]) -> BTreeMap<String, NodeCsrs> {
    let mut out: BTreeMap<String, NodeCsrs> = BTreeMap::new();
    for csr in csrs {
        if csr.spec.signer_name != SIGNER {
            continue;
        }
        let Some(node) = csr
            .spec
            .username
            .as_deref()
            .and_then(|u| u.strip_prefix("system:node:"))
        else {
            continue;
        };
        let name = csr.metadata.name.clone().unwrap_or_default();
        let conditions = csr
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let has = |t: &str| conditions.iter().any(|c| c.type_ == t);
        let entry = out.entry(node.to_string()).or_default();
        if has("Denied") {
            entry.denied.push(name);
        } else if !has("Approved") && !has("Failed") {
            entry.pending.push(name);
        }
    }
    out
}

/// The sentence appended to a node's messages, if it has pending or denied CSRs.
pub fn note(c: &NodeCsrs) -> Option<String> {
    let mut parts = Vec::new();
    if !c.pending.is_empty() {
        parts.push(format!(
            "pending kubelet-serving CSR(s) {}: approve them (kubelet-tls-guard approve-csrs) so the kubelet can serve a CA-signed certificate",
            c.pending.join(", ")
        ));
    }
    if !c.denied.is_empty() {
        parts.push(format!(
            "denied kubelet-serving CSR(s) {}",
            c.denied.join(", ")
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}
