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
    Ok(out)
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
