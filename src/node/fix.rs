//! `fix` on files: compute each object's patch, apply it to the text in place (YAML keeps its
//! comments and layout, JSON stays JSON, flag files change only the words that flip), verify
//! the result, and write atomically with an optional backup.

use crate::engine;
use crate::engine::policy::Policy;
use crate::engine::rules::Status;
use crate::engine::verdict;
use crate::node::inputs::object_name;
use crate::node::inputs::{self, Item};
use json_patch::PatchOperation;
use serde_json::Value;
use std::collections::BTreeMap;

/// The outcome of fixing one text.
#[derive(Debug, Default)]
pub struct Fixed {
    pub text: String,
    /// What was fixed, per object, for the report.
    pub notes: Vec<String>,
    /// Violations the fix cannot remediate, with the reason.
    pub remaining: Vec<String>,
    /// What the operator must know about the changes (the kubelet CA flag needs serving
    /// certificates signed by that CA first).
    pub warnings: Vec<String>,
}

/// Prefix every operation's path (for items of a `List`).
fn prefixed(ops: Vec<PatchOperation>, prefix: &str) -> Vec<PatchOperation> {
    if prefix.is_empty() {
        return ops;
    }
    let re = |p: &json_patch::jsonptr::PointerBuf| {
        json_patch::jsonptr::PointerBuf::parse(format!("{prefix}{p}")).unwrap_or_default()
    };
    ops.into_iter()
        .map(|op| match op {
            PatchOperation::Add(mut o) => {
                o.path = re(&o.path);
                PatchOperation::Add(o)
            }
            PatchOperation::Replace(mut o) => {
                o.path = re(&o.path);
                PatchOperation::Replace(o)
            }
            other => other,
        })
        .collect()
}

/// Fix `text`. Errors name what could not be parsed or edited; the caller keeps the original.
pub fn fix_text(text: &str, policy: &Policy) -> Result<Fixed, String> {
    let parsed = inputs::parse(text).map_err(|e| e.to_string())?;
    let mut out = Fixed {
        text: text.to_string(),
        ..Fixed::default()
    };
    let mut per_doc: BTreeMap<usize, Vec<PatchOperation>> = BTreeMap::new();
    let mut span_edits = Vec::new();
    let mut flag_rules = Vec::new();
    for item in &parsed.items {
        match item {
            Item::Invalid { doc, reason } => return Err(format!("document {}: {reason}", doc + 1)),
            Item::Object { doc, item, value } => {
                let eval = engine::evaluate(value, policy).map_err(|e| e.to_string())?;
                let name = object_name(value);
                if let Some(f) = eval.findings.iter().find(|f| f.status == Status::Error) {
                    return Err(format!("{name}: {}", f.message));
                }
                let meta = |p| value.pointer(p).and_then(Value::as_str).unwrap_or("");
                let v = verdict::judge(
                    policy,
                    &eval,
                    meta("/metadata/namespace"),
                    meta("/metadata/name"),
                );
                if let Some(ex) = v.exempt {
                    out.notes.push(format!(
                        "{name}: unchanged, {}",
                        verdict::exemption_text(ex)
                    ));
                    continue;
                }
                if v.mirror {
                    for j in v.violations() {
                        let rule = j.finding.rule;
                        out.remaining
                            .push(format!("{name}: {rule}: {}", engine::MIRROR_REASON));
                    }
                    continue;
                }
                let rules = v.all_remediable_rules();
                let rem =
                    engine::remediate_evaluation(value, &eval, policy, &|r| rules.contains(&r));
                for r in &rem.fixed {
                    out.notes.push(format!("{name}: fixed {r}"));
                }
                for (r, why) in &rem.not_remediable {
                    out.remaining.push(format!("{name}: {r}: {why}"));
                }
                for w in &rem.warnings {
                    out.warnings.push(format!("{name}: {w}"));
                }
                let prefix = item.map(|i| format!("/items/{i}")).unwrap_or_default();
                per_doc
                    .entry(*doc)
                    .or_default()
                    .extend(prefixed(rem.patch, &prefix));
            }
            Item::KubeletFlags(f) => {
                let findings = engine::evaluate_flags(&f.flags, &f.location, policy);
                let v = verdict::judge_findings(policy, &findings, false, "", "");
                let rules = v.all_remediable_rules();
                let due: Vec<_> = v
                    .violations()
                    .map(|j| j.finding)
                    .filter(|x| rules.contains(&x.rule))
                    .collect();
                let edits = engine::remediate_flags(&f.flags, &due);
                for x in &due {
                    out.notes.push(format!("{}: fixed {}", f.location, x.rule));
                    flag_rules.push(x.rule);
                }
                span_edits.extend(edits);
            }
        }
    }
    for (doc, ops) in per_doc {
        if ops.is_empty() {
            continue;
        }
        out.text = engine::remediate::edit_doc(&out.text, doc, &ops)
            .map_err(|e| format!("document {}: cannot edit in place: {e}", doc + 1))?;
    }
    span_edits.sort_by_key(|e| std::cmp::Reverse(e.0.start));
    for (span, new) in span_edits {
        // Spans come from parsing this very text; one that does not fit means the fix would
        // claim a change it did not make, so refuse rather than write a half-fixed file.
        if span.start > span.end
            || span.end > out.text.len()
            || !out.text.is_char_boundary(span.start)
            || !out.text.is_char_boundary(span.end)
        {
            return Err(format!(
                "cannot edit bytes {}..{} of the flags: outside the text",
                span.start, span.end
            ));
        }
        out.text.replace_range(span, &new);
    }
    if !flag_rules.is_empty() {
        check_flag_edits(&out.text, parsed.format, policy, &flag_rules)?;
    }
    Ok(out)
}

/// A flag word is edited in place, re-quoted for the line it stands in. A word that runs across
/// the quotes of the value around it (`A="--f=x"y`) cannot be: the edit would take those quotes
/// with it. So the edited text must read back as the same kind of file, with the rules it fixed
/// holding, or the file is left for a person to edit.
fn check_flag_edits(
    text: &str,
    format: inputs::Format,
    policy: &Policy,
    fixed: &[engine::rules::RuleId],
) -> Result<(), String> {
    const BY_HAND: &str =
        "a flag is quoted in a way this fix cannot edit in place; edit the file by hand";
    let parsed = inputs::parse(text).map_err(|e| format!("{BY_HAND} ({e})"))?;
    if parsed.format != format {
        return Err(BY_HAND.to_string());
    }
    for item in &parsed.items {
        if let Item::KubeletFlags(f) = item {
            let findings = engine::evaluate_flags(&f.flags, &f.location, policy);
            let v = verdict::judge_findings(policy, &findings, false, "", "");
            if v.violations().any(|j| fixed.contains(&j.finding.rule)) {
                return Err(BY_HAND.to_string());
            }
        }
    }
    Ok(())
}

/// Unified diff of a fix, with `a/` and `b/` headers.
pub fn diff(name: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("a/{}", name.trim_start_matches('/')),
            &format!("b/{}", name.trim_start_matches('/')),
        )
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `fix` fuzz target: the second `--feature-gates` word runs across the quote
    /// that closes the variable's value. Replacing the word took that quote with it, and the
    /// "fixed" file no longer read as an env file.
    #[test]
    fn a_flag_word_across_the_values_quotes_is_left_for_a_person() {
        let text = "KUBELET_KUBEADM_ARGS=\"--v=2 --feature-gates=RotateKubeletServerCertificate=false --x=\"y --feature-gates=RotateKubeletServerCertificate=off\"z\"\n";
        let policy = Policy::from_yaml("mode: enforce\n", "test").unwrap();
        match fix_text(text, &policy) {
            Err(e) => assert!(e.contains("edit the file by hand"), "{e}"),
            Ok(fixed) => {
                let again = fix_text(&fixed.text, &policy).expect("the fixed text fixes again");
                assert_eq!(again.text, fixed.text);
                assert!(inputs::parse(&fixed.text).is_ok(), "{}", fixed.text);
            }
        }
        let crash =
            include_str!("../../fuzz/corpus/fix/crash-a5bf8638c8299d86f8b80ff64290e487ff905857");
        for policy in [Policy::default(), policy] {
            if let Ok(fixed) = fix_text(crash, &policy) {
                let parsed = inputs::parse(&fixed.text);
                assert!(parsed.is_ok(), "unreadable after fix:\n{}", fixed.text);
                let again = fix_text(&fixed.text, &policy).expect("fixes again");
                assert_eq!(again.text, fixed.text);
            }
        }
    }
}
