//! The words of an admission answer: warnings (one line, under 256 characters, prefixed so kubectl
//! users know who speaks) and audit annotations (bounded, no repeats).

use super::admission::{AdmissionRequest, Response};
use crate::bytes;
use crate::engine::rules::Finding;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Every warning starts with this, so `kubectl` users know who speaks.
pub const WARNING_PREFIX: &str = "kubelet-tls-guard: ";
/// The API server shows warnings up to this many characters; ours stay below it.
pub const MAX_WARNING_LEN: usize = 255;
/// Audit annotation values are kept to this size (a kubelet-config patch carries a whole file).
pub const MAX_ANNOTATION_LEN: usize = 10 * 1024;

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
    clamp(text.into(), MAX_WARNING_LEN, "…")
}

/// `text` as one line of at most `max` bytes; an owned text that already is one is kept.
fn clamp(text: Cow<'_, str>, max: usize, ellipsis: &str) -> String {
    if fits(&text, max) {
        return text.into_owned();
    }
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

/// Short enough and surely without a control character (C0, DEL, or C1, whose UTF-8 starts
/// with 0xC2): most texts, which are then kept as they are instead of rebuilt a character at
/// a time.
fn fits(text: &str, max: usize) -> bool {
    text.len() <= max
        && !text
            .bytes()
            .fold(false, |odd, b| odd | (b < 0x20) | (b == 0x7f) | (b == 0xc2))
}

pub(super) fn warn(out: &mut Vec<String>, text: String) {
    let w = clamp(text.into(), MAX_WARNING_LEN, "…");
    if !out.contains(&w) {
        out.push(w);
    }
}

pub(super) fn annotate(map: &mut BTreeMap<String, String>, key: &str, value: &str) {
    let entry = map.entry(key.to_string()).or_default();
    if !entry.is_empty() {
        if entry.split("; ").any(|v| v == value) {
            return;
        }
        entry.push_str("; ");
    }
    entry.push_str(value);
    if entry.len() > MAX_ANNOTATION_LEN {
        *entry = clamp(entry.as_str().into(), MAX_ANNOTATION_LEN, "… (truncated)");
    }
}

/// "[rule] message (CIS ids): add the fix", without repeating what the engine's message says.
pub fn finding_text(f: &Finding) -> String {
    // Pieces pushed into one exact allocation: a denial makes this text for every finding it
    // names, and `format!` went through the formatting machinery for each piece.
    let rule = f.rule.as_str();
    let controls = f.rule.short_controls();
    let has = |part: &str| bytes::contains(f.message.as_bytes(), part.as_bytes());
    let controls = (!has(controls)).then_some(controls);
    let fix = f
        .remediation
        .as_deref()
        .filter(|r| !r.is_empty() && !has(r));
    let len = rule.len() + f.message.len() + 3;
    let len = len + controls.map_or(0, |c| c.len() + 3) + fix.map_or(0, |r| r.len() + 6);
    let mut text = String::with_capacity(len);
    text.push('[');
    text.push_str(rule);
    text.push_str("] ");
    text.push_str(&f.message);
    if let Some(controls) = controls {
        text.push_str(" (");
        text.push_str(controls);
        text.push(')');
    }
    if let Some(fix) = fix {
        text.push_str(": add ");
        text.push_str(fix);
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

/// A warning about a finding whose [`finding_text`] is `text`: the full text if it fits, else
/// the short form (the fix survives).
pub(super) fn finding_warning(out: &mut Vec<String>, tag: &str, f: &Finding, text: &str) {
    let full = format!("{WARNING_PREFIX}{tag}{text}");
    if full.len() <= MAX_WARNING_LEN {
        warn(out, full);
    } else {
        warn(out, format!("{WARNING_PREFIX}{tag}{}", finding_short(f)));
    }
}

pub(super) fn object_ref(req: &AdmissionRequest) -> String {
    let (ns, name) = (req.namespace(), req.name());
    let kind = match req.kind() {
        "" => "object",
        k => k,
    };
    // `{kind} {ns}/{name}`, or `{kind} {name}`: pushed, not formatted (see `finding_text`).
    let mut text = String::with_capacity(kind.len() + ns.len() + name.len() + 2);
    text.push_str(kind);
    text.push(' ');
    if !ns.is_empty() {
        text.push_str(ns);
        text.push('/');
    }
    text.push_str(name);
    text
}

pub(super) fn report_errors(r: &mut Response, errors: &[&Finding]) {
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

pub(super) fn mirror_note(r: &mut Response, req: &AdmissionRequest) {
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

/// The patch as JSON text, or an error message.
pub(super) fn patch_json(patch: &[json_patch::PatchOperation]) -> Result<Vec<u8>, String> {
    serde_json::to_vec(patch).map_err(|e| format!("could not serialise the patch: {e}"))
}

/// One warning per operation of a would-be patch; a long value is summarised.
pub(super) fn would_patch_warnings(out: &mut Vec<String>, patch: &[json_patch::PatchOperation]) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rules::{Component, RuleId, Status};

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
        finding_warning(&mut out, "[dry-run] would deny: ", &f, &finding_text(&f));
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

    /// Texts kept as they are and texts rebuilt give the same result as a character-by-character
    /// rebuild, around the length limit and with every kind of control character.
    #[test]
    fn clamp_keeps_plain_texts_and_rebuilds_the_rest() {
        let rebuilt = |t: &str| -> String {
            t.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect()
        };
        for text in [
            "plain".to_string(),
            "a".repeat(MAX_WARNING_LEN),
            "a".repeat(MAX_WARNING_LEN + 1),
            "tab\there".into(),
            "del\u{7f}".into(),
            "c1\u{85}next".into(),
            "nbsp\u{a0}kept".into(),
            "é".repeat(10),
        ] {
            let got = clamp_warning(&text);
            if rebuilt(&text).len() <= MAX_WARNING_LEN {
                assert_eq!(got, rebuilt(&text), "{text:?}");
            } else {
                assert!(
                    got.len() <= MAX_WARNING_LEN && got.ends_with('…'),
                    "{text:?}"
                );
            }
            let mut out = Vec::new();
            warn(&mut out, text.clone());
            assert_eq!(out, [got]);
        }
    }

    #[test]
    fn object_ref_names_kind_namespace_and_name() {
        let req = |kind: &str, ns: Option<&str>, name: &str| AdmissionRequest {
            kind: Some(crate::server::admission::GroupVersionKind { kind: kind.into() }),
            namespace: ns.map(str::to_string),
            name: Some(name.into()),
            ..Default::default()
        };
        assert_eq!(
            object_ref(&req("Pod", Some("kube-system"), "kube-apiserver-cp-1")),
            "Pod kube-system/kube-apiserver-cp-1"
        );
        assert_eq!(object_ref(&req("Node", None, "cp-1")), "Node cp-1");
        assert_eq!(object_ref(&req("", Some(""), "x")), "object x");
        assert_eq!(object_ref(&req("Pod", Some("ns"), "")), "Pod ns/");
    }
}
