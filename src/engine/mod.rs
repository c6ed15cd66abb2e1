//! The one entry point the webhook and the CLI share:
//! object (JSON) → subjects (components and their settings) → rule findings → patch.

use crate::engine::policy::Policy;
use crate::engine::read::subjects;
use crate::engine::rules::{Finding, RuleId};
use serde_json::Value;

pub mod checks;
pub mod policy;
pub mod read;
pub mod remediate;
pub mod rules;

/// What kind of object was evaluated, as far as the rules care.
/// Why a mirror pod is never patched (DESIGN.md section 2).
pub const MIRROR_REASON: &str = "mirror pod of a static pod: the kubelet runs the manifest file on the node, so fix /etc/kubernetes/manifests there (kubelet-tls-guard fix) or kubeadm-config";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Nothing control-plane related: allowed at once, no findings.
    NotRelevant,
    /// A Pod. `mirror`: the API copy of a static pod (never patched).
    Pod { mirror: bool },
    /// The pod template of a workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob).
    PodTemplate { workload: String },
    /// A KubeletConfiguration document, or the kubelet-config ConfigMap holding one.
    KubeletConfig,
    /// kubeadm's ClusterConfiguration, alone or in the kubeadm-config ConfigMap.
    KubeadmConfig,
}

/// The remediation of one object: RFC 6902 operations against the object exactly as given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Remediation {
    pub patch: Vec<json_patch::PatchOperation>,
    /// Rules whose violation the patch fixes.
    pub fixed: Vec<RuleId>,
    /// Rules that fall short but cannot be patched here, with the reason.
    pub not_remediable: Vec<(RuleId, String)>,
    /// Things the operator must know about the patch (e.g. the CA flag needs serving certs).
    pub warnings: Vec<String>,
}

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
