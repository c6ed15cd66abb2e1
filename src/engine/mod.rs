//! The one entry point the webhook and the CLI share:
//! object (JSON) → subjects (components and their settings) → rule findings → patch.

use crate::engine::policy::Policy;
use crate::engine::read::subjects;
use crate::engine::rules::{Finding, RuleId};
use serde_json::Value;

pub use read::subjects::Target;
pub use remediate::Remediation;

pub mod checks;
pub mod policy;
pub mod read;
pub mod remediate;
pub mod rules;

/// Why a mirror pod is never patched (DESIGN.md section 2).
pub const MIRROR_REASON: &str = "mirror pod of a static pod: the kubelet runs the manifest file on the node, so fix /etc/kubernetes/manifests there (kubelet-tls-guard fix) or kubeadm-config";

#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub target: Target,
    pub findings: Vec<Finding>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct EvalError(pub String);

/// Evaluate every rule that applies to `obj` (a full Kubernetes object or config document as JSON).
pub fn evaluate(obj: &Value, policy: &Policy) -> Result<Evaluation, EvalError> {
    if !obj.is_object() {
        return Err(EvalError(
            "not a Kubernetes object (expected a mapping)".into(),
        ));
    }
    let (target, subjects) = subjects::extract(obj);
    let findings = subjects
        .iter()
        .flat_map(|s| checks::evaluate(s, policy))
        .collect();
    Ok(Evaluation { target, findings })
}

/// Build the patch that fixes the violations of the rules `select` accepts.
/// Mirror pods are never patched: their violations come back in `not_remediable`.
pub fn remediate(
    obj: &Value,
    policy: &Policy,
    select: &dyn Fn(RuleId) -> bool,
) -> Result<Remediation, EvalError> {
    if !obj.is_object() {
        return Err(EvalError(
            "not a Kubernetes object (expected a mapping)".into(),
        ));
    }
    let (target, subjects) = subjects::extract(obj);
    let mut out = Remediation::default();
    let mut plan = remediate::Plan::default();
    for subject in &subjects {
        let findings = checks::evaluate(subject, policy);
        let due: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.status.is_violation() && select(f.rule))
            .collect();
        if due.is_empty() {
            continue;
        }
        if target == (Target::Pod { mirror: true }) {
            for f in due {
                out.not_remediable.push((f.rule, MIRROR_REASON.to_string()));
            }
            continue;
        }
        remediate::subject(obj, subject, &due, policy, &mut plan, &mut out);
    }
    plan.finish(obj, &mut out);
    Ok(out)
}
