//! The pure engine every command shares: read → judge → remediate.
//!
//! An object (JSON) or a flag file → subjects (components and their settings, `read`) → rule
//! findings (`checks`) → what the policy makes of them (`verdict`) → the patch or text edits that
//! fix them (`remediate`). Nothing here does I/O; it depends only on its own submodules and
//! `yamledit`.

use crate::engine::policy::Policy;
use crate::engine::read::flags::Flags;
use crate::engine::read::subjects::{Settings, Subject};
use crate::engine::read::tree::Node;
use crate::engine::rules::{Finding, RuleId};
use serde_json::Value;
use std::ops::Range;

pub use read::subjects::Target;
pub use remediate::Remediation;

pub mod checks;
pub mod declared;
pub mod policy;
pub mod read;
pub mod remediate;
pub mod rules;
pub mod verdict;

/// Why a mirror pod is never patched (DESIGN.md section 2).
pub const MIRROR_REASON: &str = "mirror pod of a static pod: the kubelet runs the manifest file on the node, so fix /etc/kubernetes/manifests there (kubelet-tls-guard fix) or kubeadm-config";

/// One object, evaluated once: its findings and the subjects they came from, so that a
/// remediation reuses them instead of reading the object again.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation<'a> {
    pub target: Target,
    pub findings: Vec<Finding>,
    /// Each subject with the range of `findings` it produced.
    subjects: Vec<(Subject<'a>, Range<usize>)>,
}

impl Evaluation<'_> {
    /// Is this the mirror pod of a static pod (reported, never patched)?
    pub fn is_mirror(&self) -> bool {
        self.target == (Target::Pod { mirror: true })
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct EvalError(pub String);

/// Evaluate every rule that applies to `obj` (a full Kubernetes object or config document as JSON).
pub fn evaluate<'a>(obj: &'a Value, policy: &Policy) -> Result<Evaluation<'a>, EvalError> {
    if !obj.is_object() {
        return Err(EvalError(
            "not a Kubernetes object (expected a mapping)".into(),
        ));
    }
    let (target, found) = read::extract(obj);
    Ok(judge(target, found, policy))
}

/// [`evaluate`] of a Pod or workload read as a borrowed [`Tree`](read::tree::Tree) (or any
/// [`Node`]): the same evaluation as of the pruned `Value`. `None` for another kind.
pub fn evaluate_pod<'a, N: Node>(obj: &'a N, policy: &Policy) -> Option<Evaluation<'a>> {
    let (target, found) = read::subjects::extract_pod(obj)?;
    Some(judge(target, found, policy))
}

/// Every rule that applies to each subject found.
fn judge<'a>(target: Target, found: Vec<Subject<'a>>, policy: &Policy) -> Evaluation<'a> {
    let mut findings = Vec::new();
    let mut subjects = Vec::with_capacity(found.len());
    for subject in found {
        let start = findings.len();
        match &subject.settings {
            Settings::Declared(d) => findings.extend(declared::evaluate(
                d,
                subject.component,
                &subject.location,
                policy,
            )),
            _ => findings.extend(checks::evaluate(&subject, policy)),
        }
        subjects.push((subject, start..findings.len()));
    }
    Evaluation {
        target,
        findings,
        subjects,
    }
}

/// The patch that fixes the violations of the rules `select` accepts, from an evaluation of
/// `obj` (the very object it was made from). Mirror pods are never patched: their violations
/// come back in `not_remediable`.
pub fn remediate_evaluation<N: Node>(
    obj: &N,
    eval: &Evaluation<'_>,
    policy: &Policy,
    select: &dyn Fn(RuleId) -> bool,
) -> Remediation {
    let mut out = Remediation::default();
    let mut plan = remediate::Plan::default();
    for (subject, range) in &eval.subjects {
        let due: Vec<&Finding> = eval.findings[range.clone()]
            .iter()
            .filter(|f| f.status.is_violation() && select(f.rule))
            .collect();
        if due.is_empty() {
            continue;
        }
        if eval.is_mirror() {
            for f in due {
                out.not_remediable.push((f.rule, MIRROR_REASON.to_string()));
            }
            continue;
        }
        remediate::subject(obj, subject, &due, policy, &mut plan, &mut out);
    }
    plan.finish(obj, &mut out);
    out
}

/// Evaluate `obj` and build the patch for the rules `select` accepts.
pub fn remediate(
    obj: &Value,
    policy: &Policy,
    select: &dyn Fn(RuleId) -> bool,
) -> Result<Remediation, EvalError> {
    let eval = evaluate(obj, policy)?;
    Ok(remediate_evaluation(obj, &eval, policy, select))
}

/// Evaluate the kubelet rules on flags read from a flag file (kubeadm-flags.env,
/// /etc/default/kubelet, a systemd drop-in); `location` names the variables that hold them.
pub fn evaluate_flags(flags: &Flags, location: &str, policy: &Policy) -> Vec<Finding> {
    checks::kubelet(None, Some(flags), location, policy)
}

/// Text edits (byte span → new text) to a flag file that fix the `due` findings of
/// [`evaluate_flags`]. Only flags the file sets are changed: an absent flag is the config
/// file's to decide.
pub fn remediate_flags(flags: &Flags, due: &[&Finding]) -> Vec<(Range<usize>, String)> {
    remediate::flag_file_edits(flags, due)
}
