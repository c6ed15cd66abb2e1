//! What the policy makes of an evaluation. Mode, exemptions, `remediate` and mirror-pod handling
//! are decided here, once, for the webhook (`server::decide`), `check` and `fix` alike:
//!
//! - a rule in mode `off` is not reported, denied or patched anywhere;
//! - an exempt object is neither denied nor patched; `check` reports its rules as `skip`, naming
//!   the exemption;
//! - a failing rule blocks (enforce denies, dry-run warns it would) unless the object is a mirror
//!   pod and `mirrorPods` is `report`;
//! - a violation is remediable when its rule has `remediate` on and the object is not a mirror pod.

use crate::engine::Evaluation;
use crate::engine::policy::{Exemption, MirrorPods, Mode, Policy};
use crate::engine::rules::{Finding, RuleId, Status};

/// One finding under the policy.
#[derive(Debug, Clone, Copy)]
pub struct Judged<'a> {
    pub finding: &'a Finding,
    /// `Enforce` or `DryRun`: findings of rules that are `off` are not judged at all.
    pub mode: Mode,
    /// A `fail` that denies in enforce mode (and would deny in dry-run).
    pub blocks: bool,
    /// A violation that `/mutate` and `fix` may patch.
    pub remediable: bool,
}

/// The policy's answer for one object.
#[derive(Debug, Clone)]
pub struct Verdict<'a> {
    /// The exemption that covers the object: nothing is denied or patched.
    pub exempt: Option<&'a Exemption>,
    pub mirror: bool,
    /// Every finding whose rule is not `off`, in finding order.
    pub judged: Vec<Judged<'a>>,
}

impl<'a> Verdict<'a> {
    /// Violations (`fail` or `warn`) that count, in finding order.
    pub fn violations(&self) -> impl Iterator<Item = &Judged<'a>> {
        self.judged
            .iter()
            .filter(|j| j.finding.status.is_violation())
    }

    /// Findings that could not be evaluated.
    pub fn errors(&self) -> impl Iterator<Item = &Judged<'a>> {
        self.judged
            .iter()
            .filter(|j| j.finding.status == Status::Error)
    }

    /// The rules to patch in `mode` (none for an exempt object), without repeats.
    pub fn remediable_rules(&self, mode: Mode) -> Vec<RuleId> {
        let mut rules = Vec::new();
        if self.exempt.is_some() {
            return rules;
        }
        for j in self.violations().filter(|j| j.remediable && j.mode == mode) {
            if !rules.contains(&j.finding.rule) {
                rules.push(j.finding.rule);
            }
        }
        rules
    }

    /// The rules to patch whatever their mode (`fix` on files has no dry-run: `--diff` is it).
    pub fn all_remediable_rules(&self) -> Vec<RuleId> {
        let mut rules = self.remediable_rules(Mode::Enforce);
        for r in self.remediable_rules(Mode::DryRun) {
            if !rules.contains(&r) {
                rules.push(r);
            }
        }
        rules
    }
}

/// Is `rule` reported at all under `policy`?
pub fn reported(policy: &Policy, rule: RuleId) -> bool {
    policy.mode_for(rule) != Mode::Off
}

/// The exemption covering an object, named for messages.
pub fn exemption_text(ex: &Exemption) -> String {
    format!(
        "exempt by policy (exemption namespace {:?} name {:?})",
        ex.namespace, ex.name
    )
}

/// Apply `policy` to the evaluation of the object `namespace/name`.
pub fn judge<'a>(
    policy: &'a Policy,
    eval: &'a Evaluation,
    namespace: &str,
    name: &str,
) -> Verdict<'a> {
    judge_findings(policy, &eval.findings, eval.is_mirror(), namespace, name)
}

/// [`judge`] for findings that did not come from an object (flag files: no namespace or name,
/// so no exemption applies; `namespace` and `name` empty).
pub fn judge_findings<'a>(
    policy: &'a Policy,
    findings: &'a [Finding],
    mirror: bool,
    namespace: &str,
    name: &str,
) -> Verdict<'a> {
    let exempt = if namespace.is_empty() && name.is_empty() {
        None
    } else {
        policy.exemption_for(namespace, name)
    };
    let judged = findings
        .iter()
        .filter_map(|f| {
            let mode = policy.mode_for(f.rule);
            if mode == Mode::Off {
                return None;
            }
            let blocks =
                f.status == Status::Fail && (!mirror || policy.mirror_pods == MirrorPods::Deny);
            let remediable = f.status.is_violation() && !mirror && policy.remediate_for(f.rule);
            Some(Judged {
                finding: f,
                mode,
                blocks,
                remediable,
            })
        })
        .collect();
    Verdict {
        exempt,
        mirror,
        judged,
    }
}
