//! From an AdmissionRequest to an answer, by endpoint and mode (DESIGN.md sections 2 and 4).
//!
//! Pure: no I/O, no clock. The HTTP layer records metrics and logs from the [`Outcome`].

use super::admission::{AdmissionRequest, Response, Status as HttpStatus};
use crate::engine::policy::{MirrorPods, Mode, Policy};
use crate::engine::rules::{Finding, RuleId, Status};
use crate::engine::{self, Target};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Every warning starts with this, so `kubectl` users know who speaks.
pub const WARNING_PREFIX: &str = "kubelet-tls-guard: ";
/// The API server shows warnings up to this many characters; ours stay below it.
pub const MAX_WARNING_LEN: usize = 255;
/// Audit annotation values are kept to this size (a kubelet-config patch carries a whole file).
pub const MAX_ANNOTATION_LEN: usize = 10 * 1024;

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
    fn allowed(decision: Decision, skipped: Option<&'static str>) -> Outcome {
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

/// The metric label of an object kind (a fixed set keeps cardinality bounded).
pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        "Pod" => "Pod",
        "Deployment" => "Deployment",
        "StatefulSet" => "StatefulSet",
        "DaemonSet" => "DaemonSet",
        "ReplicaSet" => "ReplicaSet",
        "Job" => "Job",
        "CronJob" => "CronJob",
        "ConfigMap" => "ConfigMap",
        "" => "none",
        _ => "other",
    }
}

/// One line, at most [`MAX_WARNING_LEN`] bytes, cut on a character boundary.
pub fn clamp_warning(text: &str) -> String {
    clamp(text, MAX_WARNING_LEN, "…")
}

fn clamp(text: &str, max: usize, ellipsis: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.len() <= max {
        return one_line;
    }
    let mut cut = max.saturating_sub(ellipsis.len());
    while !one_line.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ellipsis}", &one_line[..cut])
}

fn warn(out: &mut Vec<String>, text: String) {
    let w = clamp_warning(&text);
    if !out.contains(&w) {
        out.push(w);
    }
}

fn annotate(map: &mut BTreeMap<String, String>, key: &str, value: &str) {
    let entry = map.entry(key.to_string()).or_default();
    if !entry.is_empty() {
        if entry.split("; ").any(|v| v == value) {
            return;
        }
        entry.push_str("; ");
    }
    entry.push_str(value);
    if entry.len() > MAX_ANNOTATION_LEN {
        *entry = clamp(entry, MAX_ANNOTATION_LEN, "… (truncated)");
    }
}

/// "[rule] message (CIS ids): add the fix", without repeating what the engine's message says.
pub fn finding_text(f: &Finding) -> String {
    let mut text = format!("[{}] {}", f.rule, f.message);
    let controls = f.rule.short_controls();
    if !f.message.contains(controls) {
        let _ = write!(text, " ({controls})");
    }
    if let Some(fix) = f.remediation.as_deref().filter(|r| !r.is_empty())
        && !f.message.contains(fix)
    {
        let _ = write!(text, ": add {fix}");
    }
    text
}

/// The shorter form used when the full text would not fit in a warning.
fn finding_short(f: &Finding) -> String {
    match f.remediation.as_deref().filter(|r| !r.is_empty()) {
        Some(fix) => format!("[{}] {}: add {fix}", f.rule, f.rule.short_controls()),
        None => format!("[{}] {}", f.rule, f.rule.short_controls()),
    }
}

/// A warning about a finding: the full text if it fits, else the short form (the fix survives).
fn finding_warning(out: &mut Vec<String>, tag: &str, f: &Finding) {
    let full = format!("{WARNING_PREFIX}{tag}{}", finding_text(f));
    if full.len() <= MAX_WARNING_LEN {
        warn(out, full);
    } else {
        warn(out, format!("{WARNING_PREFIX}{tag}{}", finding_short(f)));
    }
}

fn object_ref(req: &AdmissionRequest) -> String {
    let (ns, name) = (req.namespace(), req.name());
    let kind = match req.kind() {
        "" => "object",
        k => k,
    };
    if ns.is_empty() {
        format!("{kind} {name}")
    } else {
        format!("{kind} {ns}/{name}")
    }
}

/// Decide one request.
pub fn decide(endpoint: Endpoint, req: &AdmissionRequest, policy: &Policy) -> Outcome {
    let op = req.operation();
    if op.eq_ignore_ascii_case("DELETE") || op.eq_ignore_ascii_case("CONNECT") {
        return Outcome::allowed(Decision::Allowed, Some("operation"));
    }
    if req.sub_resource.as_deref().is_some_and(|s| !s.is_empty()) {
        return Outcome::allowed(Decision::Allowed, Some("subresource"));
    }
    let Some(obj) = req.object.as_ref().filter(|o| o.is_object()) else {
        return Outcome::allowed(Decision::Allowed, Some("no object"));
    };
    let eval = match engine::evaluate(obj, policy) {
        Ok(e) => e,
        Err(e) => return evaluation_error(req, &e.to_string()),
    };
    let mirror = matches!(eval.target, Target::Pod { mirror: true });
    if eval.target == Target::NotRelevant {
        return Outcome::allowed(Decision::Allowed, Some("not relevant"));
    }
    let results = eval.findings.iter().map(|f| (f.rule, f.status)).collect();
    if let Some(ex) = policy.exemption_for(req.namespace(), req.name()) {
        let mut out = Outcome::allowed(Decision::Exempt, None);
        out.results = results;
        out.mirror = mirror;
        annotate(
            &mut out.response.audit_annotations,
            "exempted",
            &format!(
                "matches exemption namespace {:?} name {:?}",
                ex.namespace, ex.name
            ),
        );
        annotate(&mut out.response.audit_annotations, "decision", "exempt");
        return out;
    }
    let mut out = match endpoint {
        Endpoint::Validate => validate(req, policy, &eval.findings, mirror),
        Endpoint::Mutate => mutate(req, obj, policy, &eval.findings, mirror),
    };
    out.results = results;
    out.mirror = mirror;
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

/// The violations that count under the policy (mode not off), and errors, in finding order.
struct Classified<'a> {
    violations: Vec<(&'a Finding, Mode)>,
    errors: Vec<&'a Finding>,
}

fn classify<'a>(policy: &Policy, findings: &'a [Finding]) -> Classified<'a> {
    let mut c = Classified {
        violations: Vec::new(),
        errors: Vec::new(),
    };
    for f in findings {
        if f.status == Status::Error {
            c.errors.push(f);
            continue;
        }
        if !f.status.is_violation() {
            continue;
        }
        let mode = policy.mode_for(f.rule);
        if mode != Mode::Off {
            c.violations.push((f, mode));
        }
    }
    c
}

impl Classified<'_> {
    /// The decision when nothing was denied or patched: reported, or nothing to say.
    fn reported(&self) -> Decision {
        if self.violations.is_empty() && self.errors.is_empty() {
            Decision::Allowed
        } else {
            Decision::Warned
        }
    }
}

impl Outcome {
    /// The outcome of an evaluated object (`decide` fills in the rule results).
    fn judged(response: Response, decision: Decision, c: &Classified<'_>, mirror: bool) -> Self {
        Outcome {
            response,
            decision,
            skipped: None,
            violations: rule_list(c),
            results: Vec::new(),
            mirror,
        }
    }
}

fn rule_list(c: &Classified<'_>) -> Vec<RuleId> {
    let mut rules = Vec::new();
    for (f, _) in &c.violations {
        if !rules.contains(&f.rule) {
            rules.push(f.rule);
        }
    }
    rules
}

fn report_errors(r: &mut Response, errors: &[&Finding]) {
    for f in errors {
        warn(
            &mut r.warnings,
            format!(
                "{WARNING_PREFIX}[{}] could not be evaluated at {}: {}",
                f.rule, f.location, f.message
            ),
        );
        annotate(
            &mut r.audit_annotations,
            f.rule.as_str(),
            &format!("error: {}", f.message),
        );
    }
}

fn mirror_note(r: &mut Response, req: &AdmissionRequest) {
    warn(
        &mut r.warnings,
        format!(
            "{WARNING_PREFIX}{} is the mirror of a static pod: it is never patched; fix the manifest on the node (kubelet-tls-guard check/fix)",
            object_ref(req)
        ),
    );
    annotate(
        &mut r.audit_annotations,
        "mirror-pod",
        "static pod mirror: violations reported, never patched; fix /etc/kubernetes/manifests on the node",
    );
}

fn validate(
    req: &AdmissionRequest,
    policy: &Policy,
    findings: &[Finding],
    mirror: bool,
) -> Outcome {
    let c = classify(policy, findings);
    let mut r = Response {
        allowed: true,
        ..Default::default()
    };
    let mut denied: Vec<&Finding> = Vec::new();
    let mut would_deny = false;
    for &(f, mode) in &c.violations {
        let blocking =
            f.status == Status::Fail && (!mirror || policy.mirror_pods == MirrorPods::Deny);
        let tag = match (blocking, mode) {
            (true, Mode::Enforce) => {
                denied.push(f);
                ""
            }
            (true, _) => {
                would_deny = true;
                "[dry-run] would deny: "
            }
            (false, _) if f.status == Status::Warn => "[warn, unscored] ",
            (false, _) => "[mirror pod, not denied] ",
        };
        if !tag.is_empty() {
            finding_warning(&mut r.warnings, tag, f);
        }
        annotate(
            &mut r.audit_annotations,
            f.rule.as_str(),
            &format!("{} ({}): {}", f.status, mode.as_str(), finding_text(f)),
        );
    }
    if mirror && !c.violations.is_empty() {
        mirror_note(&mut r, req);
    }
    report_errors(&mut r, &c.errors);
    let decision = if !denied.is_empty() {
        let reasons: Vec<String> = denied.iter().map(|f| finding_text(f)).collect();
        r.allowed = false;
        r.status = Some(HttpStatus {
            status: "Failure",
            reason: "Forbidden",
            code: 403,
            message: format!(
                "kubelet-tls-guard denied {}: {}",
                object_ref(req),
                reasons.join("; ")
            ),
        });
        Decision::Denied
    } else if would_deny {
        Decision::WouldDeny
    } else {
        c.reported()
    };
    Outcome::judged(r, decision, &c, mirror)
}

/// The patch as JSON text, or an error message.
fn patch_json(patch: &[json_patch::PatchOperation]) -> Result<Vec<u8>, String> {
    serde_json::to_vec(patch).map_err(|e| format!("could not serialise the patch: {e}"))
}

/// One warning per operation of a would-be patch; a long value is summarised.
fn would_patch_warnings(out: &mut Vec<String>, patch: &[json_patch::PatchOperation]) {
    for op in patch {
        let Ok(v) = serde_json::to_value(op) else {
            continue;
        };
        let full = format!("{WARNING_PREFIX}[dry-run] would patch: {v}");
        if full.len() <= MAX_WARNING_LEN {
            warn(out, full);
            continue;
        }
        let verb = v.get("op").and_then(Value::as_str).unwrap_or("?");
        let path = v.get("path").and_then(Value::as_str).unwrap_or("?");
        warn(
            out,
            format!(
                "{WARNING_PREFIX}[dry-run] would patch: {verb} {path} ({} bytes; the whole patch is in the audit annotation would-patch)",
                v.to_string().len()
            ),
        );
    }
}

fn mutate(
    req: &AdmissionRequest,
    obj: &Value,
    policy: &Policy,
    findings: &[Finding],
    mirror: bool,
) -> Outcome {
    let c = classify(policy, findings);
    let mut r = Response {
        allowed: true,
        ..Default::default()
    };
    let mut enforce: Vec<RuleId> = Vec::new();
    let mut dry_run: Vec<RuleId> = Vec::new();
    for &(f, mode) in &c.violations {
        if mirror || !policy.remediate_for(f.rule) {
            continue;
        }
        let set = if mode == Mode::Enforce {
            &mut enforce
        } else {
            &mut dry_run
        };
        if !set.contains(&f.rule) {
            set.push(f.rule);
        }
    }
    let fix_of = |rule: RuleId| {
        c.violations
            .iter()
            .find(|(f, _)| f.rule == rule)
            .and_then(|(f, _)| f.remediation.clone())
            .unwrap_or_else(|| "the setting".to_string())
    };
    let mut failed = false;
    let mut would_patch = false;

    if !enforce.is_empty() {
        match engine::remediate(obj, policy, &|rule| enforce.contains(&rule)) {
            Ok(rem) => {
                if !rem.patch.is_empty() {
                    match patch_json(&rem.patch) {
                        Ok(bytes) => {
                            annotate(
                                &mut r.audit_annotations,
                                "patch",
                                &String::from_utf8_lossy(&bytes),
                            );
                            r.patch = Some(bytes);
                        }
                        Err(e) => {
                            failed = true;
                            annotate(&mut r.audit_annotations, "error", &e);
                        }
                    }
                }
                if r.patch.is_some() {
                    for rule in &rem.fixed {
                        let fix = fix_of(*rule);
                        warn(
                            &mut r.warnings,
                            format!(
                                "{WARNING_PREFIX}patched [{rule}] ({}): set {fix}",
                                rule.short_controls()
                            ),
                        );
                        annotate(
                            &mut r.audit_annotations,
                            rule.as_str(),
                            &format!("patched: set {fix}"),
                        );
                    }
                    for w in &rem.warnings {
                        warn(&mut r.warnings, format!("{WARNING_PREFIX}{w}"));
                    }
                }
                for (rule, why) in &rem.not_remediable {
                    warn(
                        &mut r.warnings,
                        format!("{WARNING_PREFIX}cannot patch [{rule}]: {why}"),
                    );
                    annotate(
                        &mut r.audit_annotations,
                        rule.as_str(),
                        &format!("not remediable: {why}"),
                    );
                }
            }
            Err(e) => {
                failed = true;
                warn(
                    &mut r.warnings,
                    format!(
                        "{WARNING_PREFIX}could not build a patch for {}: {e}",
                        object_ref(req)
                    ),
                );
                annotate(&mut r.audit_annotations, "error", &e.to_string());
            }
        }
    }

    if !dry_run.is_empty() {
        match engine::remediate(obj, policy, &|rule| dry_run.contains(&rule)) {
            Ok(rem) => {
                if !rem.patch.is_empty() {
                    would_patch = true;
                    would_patch_warnings(&mut r.warnings, &rem.patch);
                    if let Ok(bytes) = patch_json(&rem.patch) {
                        annotate(
                            &mut r.audit_annotations,
                            "would-patch",
                            &String::from_utf8_lossy(&bytes),
                        );
                    }
                    for rule in &rem.fixed {
                        annotate(
                            &mut r.audit_annotations,
                            rule.as_str(),
                            &format!("would patch (dry-run): set {}", fix_of(*rule)),
                        );
                    }
                    for w in &rem.warnings {
                        warn(&mut r.warnings, format!("{WARNING_PREFIX}[dry-run] {w}"));
                    }
                }
                for (rule, why) in &rem.not_remediable {
                    warn(
                        &mut r.warnings,
                        format!("{WARNING_PREFIX}[dry-run] could not patch [{rule}]: {why}"),
                    );
                    annotate(
                        &mut r.audit_annotations,
                        rule.as_str(),
                        &format!("not remediable (dry-run): {why}"),
                    );
                }
            }
            Err(e) => {
                failed = true;
                warn(
                    &mut r.warnings,
                    format!(
                        "{WARNING_PREFIX}[dry-run] could not build a patch for {}: {e}",
                        object_ref(req)
                    ),
                );
                annotate(&mut r.audit_annotations, "error", &e.to_string());
            }
        }
    }

    if mirror && !c.violations.is_empty() {
        mirror_note(&mut r, req);
        // The audit log keeps which rules went unpatched; the validating webhook warns per rule.
        for (f, mode) in &c.violations {
            annotate(
                &mut r.audit_annotations,
                f.rule.as_str(),
                &format!("{} ({}): not patched: mirror pod", f.status, mode.as_str()),
            );
        }
    }
    report_errors(&mut r, &c.errors);
    let decision = if r.patch.is_some() {
        Decision::Patched
    } else if would_patch {
        Decision::WouldPatch
    } else if failed {
        Decision::Error
    } else {
        c.reported()
    };
    Outcome::judged(r, decision, &c, mirror)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rules::Component;

    fn finding(rule: RuleId, message: &str, fix: Option<&str>) -> Finding {
        Finding {
            rule,
            component: Component::ApiServer,
            location: "kube-apiserver".into(),
            status: Status::Fail,
            message: message.into(),
            remediation: fix.map(str::to_string),
        }
    }

    #[test]
    fn finding_text_adds_only_what_is_missing() {
        let f = finding(
            RuleId::ApiserverKubeletCa,
            "kube-apiserver lacks --kubelet-certificate-authority (CIS 1.2.5/1.2.6): add --kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt",
            Some("--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt"),
        );
        assert_eq!(
            finding_text(&f),
            "[apiserver-kubelet-ca] kube-apiserver lacks --kubelet-certificate-authority (CIS 1.2.5/1.2.6): add --kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt"
        );
        let bare = finding(
            RuleId::ApiserverKubeletCa,
            "kube-apiserver lacks the CA flag",
            Some("--x=1"),
        );
        assert_eq!(
            finding_text(&bare),
            "[apiserver-kubelet-ca] kube-apiserver lacks the CA flag (CIS 1.2.5/1.2.6): add --x=1"
        );
    }

    #[test]
    fn long_warnings_keep_the_fix() {
        let long = "x".repeat(400);
        let f = finding(
            RuleId::ApiserverKubeletCa,
            &long,
            Some("--kubelet-certificate-authority=/ca"),
        );
        let mut out = Vec::new();
        finding_warning(&mut out, "[dry-run] would deny: ", &f);
        assert!(out[0].len() <= MAX_WARNING_LEN);
        assert!(
            out[0].ends_with("add --kubelet-certificate-authority=/ca"),
            "{}",
            out[0]
        );
    }

    #[test]
    fn clamp_cuts_on_char_boundaries_and_lines() {
        let s = "é".repeat(300);
        let c = clamp_warning(&s);
        assert!(c.len() <= MAX_WARNING_LEN && c.ends_with('…'));
        assert_eq!(clamp_warning("a\nb"), "a b");
    }

    #[test]
    fn delete_connect_subresource_and_no_object_are_allowed_at_once() {
        let policy = Policy::default();
        let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}});
        for (op, sub, obj, why) in [
            ("DELETE", None, Some(pod.clone()), "operation"),
            ("CONNECT", None, Some(pod.clone()), "operation"),
            ("UPDATE", Some("status"), Some(pod.clone()), "subresource"),
            ("CREATE", None, None, "no object"),
        ] {
            let req = AdmissionRequest {
                uid: Some("u".into()),
                operation: Some(op.into()),
                sub_resource: sub.map(str::to_string),
                object: obj,
                ..Default::default()
            };
            for ep in [Endpoint::Validate, Endpoint::Mutate] {
                let out = decide(ep, &req, &policy);
                assert!(out.response.allowed);
                assert_eq!(out.skipped, Some(why));
                assert!(out.response.patch.is_none());
                assert!(out.response.warnings.is_empty());
            }
        }
    }
}
