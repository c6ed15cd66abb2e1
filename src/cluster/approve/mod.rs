//! `approve-csrs`: the approver for kubelet serving certificates (DESIGN.md section 10).
//!
//! [`judge`] is the whole decision, pure: a CSR and a Node lookup in, a [`Decision`] out. The
//! controller feeds it from the API server and writes the result; `scan` reads [`summary`].

pub mod checks;
pub mod controller;
pub mod csr;
pub mod metrics;
pub mod reason;
pub mod summary;
pub mod write;

use checks::Failure;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use k8s_openapi::api::core::v1::Node;
use std::borrow::Borrow;

/// The signer whose CSRs this approver judges; every other signer is left alone.
pub const SIGNER: &str = "kubernetes.io/kubelet-serving";
/// Default cap on `spec.request`: a kubelet's request is well under 2 KiB.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 16 * 1024;

/// What the checks are measured against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Largest accepted `spec.expirationSeconds`; `None`: no cap.
    pub max_expiration_seconds: Option<u64>,
    /// The cluster DNS domain: names under it are in-cluster names.
    pub cluster_domain: String,
    /// Largest accepted `spec.request`, in bytes.
    pub max_request_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_expiration_seconds: None,
            cluster_domain: "cluster.local".into(),
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
        }
    }
}

/// The verdict on one CSR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Every check holds: approve.
    Approve { node: String },
    /// A check failed: deny, naming it.
    Deny {
        node: Option<String>,
        failure: Failure,
    },
    /// Everything but the Node's addresses holds, and Node `node` does not exist yet
    /// (`NodeNotFound`) or reports no address yet (`NodeHasNoAddresses`: a cloud provider's
    /// controller fills them in after the kubelet registers).
    Pending { node: String, reason: &'static str },
    /// Not ours to touch: another signer, or already decided.
    Ignore(&'static str),
}

impl Decision {
    /// Metric and log label: `approved`, `denied`, `pending`, `ignored`.
    pub fn label(&self) -> &'static str {
        match self {
            Decision::Approve { .. } => "approved",
            Decision::Deny { .. } => "denied",
            Decision::Pending { .. } => "pending",
            Decision::Ignore(_) => "ignored",
        }
    }

    /// The reason written to the condition, Event and metric.
    pub fn reason(&self) -> &'static str {
        match self {
            Decision::Approve { .. } => APPROVED_REASON,
            Decision::Deny { failure, .. } => failure.check.reason(),
            Decision::Pending { reason, .. } => reason,
            Decision::Ignore(why) => why,
        }
    }
}

/// Reason of the `Approved` condition.
pub const APPROVED_REASON: &str = "AllChecksPassed";
pub const PENDING_NO_NODE: &str = "NodeNotFound";
pub const PENDING_NO_ADDRESSES: &str = "NodeHasNoAddresses";

/// Whether the CSR already carries a decision (Approved, Denied or Failed) or a certificate.
pub fn is_decided(csr: &CertificateSigningRequest) -> bool {
    csr.status.as_ref().is_some_and(|s| {
        s.certificate.as_ref().is_some_and(|c| !c.0.is_empty())
            || s.conditions.as_ref().is_some_and(|cs| {
                cs.iter()
                    .any(|c| matches!(c.type_.as_str(), "Approved" | "Denied" | "Failed"))
            })
    })
}

/// Judge one CSR. `node` looks up a Node by name; it is called at most once, and only when every
/// check that does not need the Node has passed.
pub fn judge<N: Borrow<Node>>(
    csr: &CertificateSigningRequest,
    node: impl FnOnce(&str) -> Option<N>,
    cfg: &Config,
) -> Decision {
    if csr.spec.signer_name != SIGNER {
        return Decision::Ignore("OtherSigner");
    }
    if is_decided(csr) {
        return Decision::Ignore("AlreadyDecided");
    }
    let name = match checks::node_name(csr.spec.username.as_deref()) {
        Ok(n) => n,
        Err(failure) => {
            return Decision::Deny {
                node: None,
                failure,
            };
        }
    };
    let deny = |failure| Decision::Deny {
        node: Some(name.to_owned()),
        failure,
    };
    let req = match judge_request(csr, name, cfg) {
        Ok(req) => req,
        Err(f) => return deny(f),
    };
    let Some(node) = node(name) else {
        return Decision::Pending {
            node: name.to_owned(),
            reason: PENDING_NO_NODE,
        };
    };
    let addresses = node
        .borrow()
        .status
        .as_ref()
        .and_then(|s| s.addresses.as_deref())
        .unwrap_or_default();
    if addresses.is_empty() {
        return Decision::Pending {
            node: name.to_owned(),
            reason: PENDING_NO_ADDRESSES,
        };
    }
    match checks::sans_are_node_addresses(&req, name, addresses) {
        Ok(()) => Decision::Approve {
            node: name.to_owned(),
        },
        Err(f) => deny(f),
    }
}

/// Every check that does not need the Node, in order: identity, spec, then the request itself.
fn judge_request(
    csr: &CertificateSigningRequest,
    name: &str,
    cfg: &Config,
) -> Result<csr::Request, Failure> {
    let spec = &csr.spec;
    checks::groups(spec.groups.as_deref())?;
    checks::expiration(spec.expiration_seconds, cfg.max_expiration_seconds)?;
    checks::usages(spec.usages.as_deref())?;
    checks::request_size(spec.request.0.len(), cfg.max_request_bytes)?;
    let req = csr::parse(&spec.request.0)?;
    checks::common_name(&req, name)?;
    checks::organization(&req)?;
    checks::subject_attributes(&req)?;
    checks::san_present(&req)?;
    checks::san_types(&req)?;
    checks::dns_names_valid(&req)?;
    checks::in_cluster_names(&req, &cfg.cluster_domain)?;
    Ok(req)
}
