//! For `scan`: which kubelet-serving CSRs are still pending or were denied, per node. A node with
//! a pending CSR keeps serving a self-signed certificate until it is approved.

use super::{SIGNER, checks::NODE_USER_PREFIX, is_decided};
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use std::collections::BTreeMap;

/// The kubelet-serving CSR names of one node, each list sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeCsrs {
    pub pending: Vec<String>,
    pub denied: Vec<String>,
}

/// Per node name (from `spec.username` `system:node:NAME`), the pending and denied
/// kubelet-serving CSRs. Other signers, approved CSRs and CSRs not requested by a node are left
/// out; so is a node with neither.
pub fn serving_csrs_by_node(csrs: &[CertificateSigningRequest]) -> BTreeMap<String, NodeCsrs> {
    let mut out: BTreeMap<String, NodeCsrs> = BTreeMap::new();
    for csr in csrs.iter().filter(|c| c.spec.signer_name == SIGNER) {
        let (Some(node), Some(name)) = (
            csr.spec
                .username
                .as_deref()
                .and_then(|u| u.strip_prefix(NODE_USER_PREFIX)),
            csr.metadata.name.as_ref(),
        ) else {
            continue;
        };
        let denied = csr
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Denied"));
        if denied {
            out.entry(node.to_owned())
                .or_default()
                .denied
                .push(name.clone());
        } else if !is_decided(csr) {
            out.entry(node.to_owned())
                .or_default()
                .pending
                .push(name.clone());
        }
    }
    for v in out.values_mut() {
        v.pending.sort();
        v.denied.sort();
    }
    out
}
