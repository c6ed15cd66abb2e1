//! What a decision is: the endpoint asked, the decision as metrics and logs name it, and the
//! answer with what the logs and metrics need.

use super::render::Response;
use crate::engine::rules::{RuleId, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Validate,
    Mutate,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Validate => "validate",
            Endpoint::Mutate => "mutate",
        }
    }
}

/// The decision, as metrics and logs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to say (not relevant, compliant, or allowed at once).
    Allowed,
    Denied,
    /// Dry-run: enforce mode would have denied.
    WouldDeny,
    /// Violations reported without denying or patching (mirror pod, unscored rule, not remediable).
    Warned,
    Patched,
    /// Dry-run: a patch would have been applied.
    WouldPatch,
    Exempt,
    /// The object could not be evaluated; allowed with a warning.
    Error,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Denied => "denied",
            Decision::WouldDeny => "would_deny",
            Decision::Warned => "warned",
            Decision::Patched => "patched",
            Decision::WouldPatch => "would_patch",
            Decision::Exempt => "exempt",
            Decision::Error => "error",
        }
    }
}

/// The answer plus what the logs and metrics need.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub response: Response,
    pub decision: Decision,
    /// Why the request was allowed without evaluation, if it was.
    pub skipped: Option<&'static str>,
    /// Rules that do not hold (and are not off), in finding order, without repeats.
    pub violations: Vec<RuleId>,
    /// Every rule result, for the metrics.
    pub results: Vec<(RuleId, Status)>,
    pub mirror: bool,
}

impl Outcome {
    pub(super) fn allowed(decision: Decision, skipped: Option<&'static str>) -> Outcome {
        Outcome {
            response: Response {
                allowed: true,
                ..Default::default()
            },
            decision,
            skipped,
            violations: Vec::new(),
            results: Vec::new(),
            mirror: false,
        }
    }
}
