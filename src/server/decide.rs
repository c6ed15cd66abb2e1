//! From an AdmissionRequest to an answer, by endpoint and mode (DESIGN.md sections 2 and 4).
//!
//! Pure: no I/O, no clock. The object is evaluated once; the policy's verdict on it
//! (`engine::verdict`) decides; this module only turns the verdict into an AdmissionReview
//! response. The HTTP layer records metrics and logs from the [`Outcome`].

use super::admission::{AdmissionRequest, Response, Status as HttpStatus};
use super::messages::{
    WARNING_PREFIX, annotate, finding_text, finding_warning, mirror_note, object_ref, patch_json,
    report_errors, warn, would_patch_warnings,
};
use crate::engine::policy::{Mode, Policy};
use crate::engine::read::tree::{Node, Tree};
use crate::engine::rules::{Finding, RuleId, Status};
use crate::engine::verdict::{self, Verdict};
use crate::engine::{self, Evaluation, Target};

pub use super::messages::{MAX_ANNOTATION_LEN, MAX_WARNING_LEN, clamp_warning, kind_label};

pub use super::outcome::{Decision, Endpoint, Outcome};

/// Decide one request.
pub fn decide(endpoint: Endpoint, req: &AdmissionRequest, policy: &Policy) -> Outcome {
    if let Some(out) = unread(req) {
        return out;
    }
    if let Some(out) = &req.decided {
        return (**out).clone();
    }
    let Some(obj) = req.object.as_ref().filter(|o| o.is_object()) else {
        return Outcome::allowed(Decision::Allowed, Some("no object"));
    };
    let eval = match engine::evaluate(obj, policy) {
        Ok(e) => e,
        Err(e) => return evaluation_error(req, &e.to_string()),
    };
    judged(req, &eval, policy, |verdict| match endpoint {
        Endpoint::Validate => validate(req, verdict),
        Endpoint::Mutate => mutate(req, obj, &eval, policy, verdict),
    })
}

/// [`decide`] for a pod read as a borrowed tree, while the body is at hand: the same answer
/// as for the pruned `Value`. The request takes the object's identity
/// ([`AdmissionRequest::identify`]), which the answer and the log line name. `None`, with the
/// request untouched, when the object is not a mapping of a pod kind: the caller builds it as
/// a `Value`, which decides as before.
pub fn decide_pod(
    endpoint: Endpoint,
    req: &mut AdmissionRequest,
    obj: &Tree<'_>,
    policy: &Policy,
) -> Option<Outcome> {
    // `evaluate_pod` reads the kind of a mapping (any other tree has none). Evaluating before
    // `unread` costs a DELETE or a subresource (rare at a pod webhook) one evaluation, and
    // keeps the request whole for the fallback.
    let eval = engine::evaluate_pod(obj, policy)?;
    req.identify(obj);
    if let Some(out) = unread(req) {
        return Some(out);
    }
    Some(judged(req, &eval, policy, |verdict| match endpoint {
        Endpoint::Validate => validate(req, verdict),
        Endpoint::Mutate => mutate(req, obj, &eval, policy, verdict),
    }))
}

/// The answer without reading the object: an operation, subresource or object the engine
/// never judges.
fn unread(req: &AdmissionRequest) -> Option<Outcome> {
    let op = req.operation();
    if op.eq_ignore_ascii_case("DELETE") || op.eq_ignore_ascii_case("CONNECT") {
        return Some(Outcome::allowed(Decision::Allowed, Some("operation")));
    }
    if req.sub_resource.as_deref().is_some_and(|s| !s.is_empty()) {
        return Some(Outcome::allowed(Decision::Allowed, Some("subresource")));
    }
    if req.built.not_relevant() {
        return Some(Outcome::allowed(Decision::Allowed, Some("not relevant")));
    }
    None
}

/// The answer to an evaluated object: exempt, or what `answer` makes of the verdict.
fn judged(
    req: &AdmissionRequest,
    eval: &Evaluation<'_>,
    policy: &Policy,
    answer: impl FnOnce(&Verdict<'_>) -> Outcome,
) -> Outcome {
    if eval.target == Target::NotRelevant {
        return Outcome::allowed(Decision::Allowed, Some("not relevant"));
    }
    let verdict = verdict::judge(policy, eval, req.namespace(), req.name());
    let mut out = match verdict.exempt {
        Some(ex) => {
            let mut out = Outcome::allowed(Decision::Exempt, None);
            annotate(
                &mut out.response.audit_annotations,
                "exempted",
                &format!(
                    "matches exemption namespace {:?} name {:?}",
                    ex.namespace, ex.name
                ),
            );
            out
        }
        None => answer(&verdict),
    };
    out.results = eval.findings.iter().map(|f| (f.rule, f.status)).collect();
    out.mirror = verdict.mirror;
    annotate(
        &mut out.response.audit_annotations,
        "decision",
        out.decision.as_str(),
    );
    out
}

fn evaluation_error(req: &AdmissionRequest, error: &str) -> Outcome {
    let mut out = Outcome::allowed(Decision::Error, None);
    warn(
        &mut out.response.warnings,
        format!(
            "{WARNING_PREFIX}could not evaluate {}: {error}",
            object_ref(req)
        ),
    );
    annotate(&mut out.response.audit_annotations, "error", error);
    annotate(&mut out.response.audit_annotations, "decision", "error");
    out
}

impl Outcome {
    /// The outcome of a judged object (`decide` fills in the rule results).
    fn judged(response: Response, decision: Decision, v: &Verdict<'_>) -> Self {
        let mut violations = Vec::new();
        for j in v.violations() {
            if !violations.contains(&j.finding.rule) {
                violations.push(j.finding.rule);
            }
        }
        Outcome {
            response,
            decision,
            skipped: None,
            violations,
            results: Vec::new(),
            mirror: v.mirror,
        }
    }
}

/// The decision when nothing was denied or patched: reported, or nothing to say.
fn reported(v: &Verdict<'_>) -> Decision {
    if v.violations().next().is_none() && v.errors().next().is_none() {
        Decision::Allowed
    } else {
        Decision::Warned
    }
}

fn errors<'a>(v: &Verdict<'a>) -> Vec<&'a Finding> {
    v.errors().map(|j| j.finding).collect()
}

fn validate(req: &AdmissionRequest, v: &Verdict<'_>) -> Outcome {
    let mut r = Response {
        allowed: true,
        ..Default::default()
    };
    // Each finding's text is made once, for its warning, its audit annotation and (denied)
    // the message.
    let mut denied: Vec<String> = Vec::new();
    let mut would_deny = false;
    for j in v.violations() {
        let f = j.finding;
        let text = finding_text(f);
        let deny = j.blocks && j.mode == Mode::Enforce;
        let tag = match j.blocks {
            _ if deny => "",
            true => {
                would_deny = true;
                "[dry-run] would deny: "
            }
            false if f.status == Status::Warn => "[warn, unscored] ",
            false => "[mirror pod, not denied] ",
        };
        if !tag.is_empty() {
            finding_warning(&mut r.warnings, tag, f, &text);
        }
        annotate(
            &mut r.audit_annotations,
            f.rule.as_str(),
            &format!("{} ({}): {text}", f.status, j.mode.as_str()),
        );
        if deny {
            denied.push(text);
        }
    }
    if v.mirror && v.violations().next().is_some() {
        mirror_note(&mut r, req);
    }
    report_errors(&mut r, &errors(v));
    let decision = if !denied.is_empty() {
        r.allowed = false;
        r.status = Some(HttpStatus {
            status: "Failure",
            reason: "Forbidden",
            code: 403,
            message: format!(
                "kubelet-tls-guard denied {}: {}",
                object_ref(req),
                denied.join("; ")
            ),
        });
        Decision::Denied
    } else if would_deny {
        Decision::WouldDeny
    } else {
        reported(v)
    };
    Outcome::judged(r, decision, v)
}

/// The words one remediation pass uses: enforce patches, dry-run only shows what it would do.
struct Pass {
    dry_run: bool,
}

impl Pass {
    fn tag(&self) -> &'static str {
        if self.dry_run { "[dry-run] " } else { "" }
    }
}

/// What one pass did.
#[derive(Default)]
struct PassResult {
    patched: bool,
    failed: bool,
}

/// One object on its way through `/mutate`: evaluated once, judged once.
struct Judged<'a, N> {
    req: &'a AdmissionRequest,
    obj: &'a N,
    eval: &'a Evaluation<'a>,
    policy: &'a Policy,
    v: &'a Verdict<'a>,
}

/// Build the patch for `rules` from the one evaluation, and report it as `pass` says.
fn remediation_pass<N: Node>(
    pass: &Pass,
    o: &Judged<'_, N>,
    rules: &[RuleId],
    r: &mut Response,
) -> PassResult {
    let Judged {
        req,
        obj,
        eval,
        policy,
        v,
    } = *o;
    let mut done = PassResult::default();
    if rules.is_empty() {
        return done;
    }
    let rem = engine::remediate_evaluation(obj, eval, policy, &|rule| rules.contains(&rule));
    let fix_of = |rule: RuleId| {
        v.violations()
            .find(|j| j.finding.rule == rule)
            .and_then(|j| j.finding.remediation.as_deref())
            .unwrap_or("the setting")
    };
    let tag = pass.tag();
    if !rem.patch.is_empty() {
        match patch_json(&rem.patch) {
            Ok(bytes) => {
                // serde_json writes UTF-8: checked at once (`from_utf8_lossy` walks it in
                // chunks), never copied.
                let text = match std::str::from_utf8(&bytes) {
                    Ok(text) => std::borrow::Cow::Borrowed(text),
                    Err(_) => String::from_utf8_lossy(&bytes),
                };
                if pass.dry_run {
                    would_patch_warnings(&mut r.warnings, &rem.patch);
                    annotate(&mut r.audit_annotations, "would-patch", &text);
                } else {
                    annotate(&mut r.audit_annotations, "patch", &text);
                    r.patch = Some(bytes);
                }
                done.patched = true;
            }
            Err(e) => {
                done.failed = true;
                warn(
                    &mut r.warnings,
                    format!(
                        "{WARNING_PREFIX}{tag}could not build a patch for {}: {e}",
                        object_ref(req)
                    ),
                );
                annotate(&mut r.audit_annotations, "error", &e);
            }
        }
    }
    if done.patched {
        for rule in &rem.fixed {
            let fix = fix_of(*rule);
            // Joined, not formatted: this runs for every rule a patch fixes.
            let note = if pass.dry_run {
                ["would patch (dry-run): set ", fix].concat()
            } else {
                let warning = [
                    WARNING_PREFIX,
                    "patched [",
                    rule.as_str(),
                    "] (",
                    rule.short_controls(),
                    "): set ",
                    fix,
                ];
                warn(&mut r.warnings, warning.concat());
                ["patched: set ", fix].concat()
            };
            annotate(&mut r.audit_annotations, rule.as_str(), &note);
        }
        for w in &rem.warnings {
            warn(&mut r.warnings, format!("{WARNING_PREFIX}{tag}{w}"));
        }
    }
    let (verb, suffix) = if pass.dry_run {
        ("could not patch", " (dry-run)")
    } else {
        ("cannot patch", "")
    };
    for (rule, why) in &rem.not_remediable {
        warn(
            &mut r.warnings,
            format!("{WARNING_PREFIX}{tag}{verb} [{rule}]: {why}"),
        );
        annotate(
            &mut r.audit_annotations,
            rule.as_str(),
            &format!("not remediable{suffix}: {why}"),
        );
    }
    done
}

fn mutate<N: Node>(
    req: &AdmissionRequest,
    obj: &N,
    eval: &Evaluation,
    policy: &Policy,
    v: &Verdict<'_>,
) -> Outcome {
    let mut r = Response {
        allowed: true,
        ..Default::default()
    };
    let enforce = v.remediable_rules(Mode::Enforce);
    let dry_run = v.remediable_rules(Mode::DryRun);
    let o = Judged {
        req,
        obj,
        eval,
        policy,
        v,
    };
    let applied = remediation_pass(&Pass { dry_run: false }, &o, &enforce, &mut r);
    let shown = remediation_pass(&Pass { dry_run: true }, &o, &dry_run, &mut r);
    if v.mirror && v.violations().next().is_some() {
        mirror_note(&mut r, req);
        // The audit log keeps which rules went unpatched; the validating webhook warns per rule.
        for j in v.violations() {
            annotate(
                &mut r.audit_annotations,
                j.finding.rule.as_str(),
                &format!(
                    "{} ({}): not patched: mirror pod",
                    j.finding.status,
                    j.mode.as_str()
                ),
            );
        }
    }
    report_errors(&mut r, &errors(v));
    let decision = if r.patch.is_some() {
        Decision::Patched
    } else if shown.patched {
        Decision::WouldPatch
    } else if applied.failed || shown.failed {
        Decision::Error
    } else {
        reported(v)
    };
    Outcome::judged(r, decision, v)
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
