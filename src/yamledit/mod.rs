//! In-place edits of YAML and JSON text for JSON Patch `add` and `replace` operations.
//!
//! A document is read into a light tree of byte spans (saphyr-parser events); each operation
//! becomes a few text edits at the spans it touches, so comments, quoting, indentation and
//! key order elsewhere stay byte-identical. Nothing is re-serialised. Every operation is
//! checked: the edited text must parse to exactly what `json_patch` makes of the parsed
//! original, or the edit is refused.
//!
//! Our own because no maintained YAML crate edits text in place: they re-serialise, which drops
//! comments and reorders keys in files operators keep by hand; verifying by re-parsing is what
//! makes a hand-made editor safe.

mod doc;
mod insert;
mod plan;
mod render;
mod scalar_lines;
mod source;
mod tree;

#[cfg(test)]
mod tests;

use doc::Doc;
use json_patch::PatchOperation;
use serde_json::Value;
use std::ops::Range;

/// One text edit: the bytes of the range are replaced by the string.
type Edit = (Range<usize>, String);

/// Apply `ops` to document `doc` (0-based, in `---` order) of a YAML or JSON text, editing
/// only the spans that change. A text that parses as JSON stays JSON.
pub fn edit_doc(text: &str, doc: usize, ops: &[PatchOperation]) -> Result<String, String> {
    let json = serde_json::from_str::<Value>(text).is_ok();
    let mut want = parse_docs(text, json).map_err(|e| format!("cannot parse the text: {e}"))?;
    let mut current = text.to_string();
    for op in ops {
        let target = want
            .get_mut(doc)
            .ok_or_else(|| format!("there is no document {}", doc + 1))?;
        json_patch::patch(target, std::slice::from_ref(op))
            .map_err(|e| format!("{} {}: {e}", op_name(op), op.path()))?;
        current = apply_op(&current, doc, op, &want, json)
            .map_err(|e| format!("{} {}: {e}", op_name(op), op.path()))?;
    }
    Ok(current)
}

fn op_name(op: &PatchOperation) -> &'static str {
    match op {
        PatchOperation::Add(_) => "add",
        PatchOperation::Remove(_) => "remove",
        PatchOperation::Replace(_) => "replace",
        PatchOperation::Move(_) => "move",
        PatchOperation::Copy(_) => "copy",
        PatchOperation::Test(_) => "test",
    }
}

/// Edit `text` for one operation: the first candidate edit whose result parses to `want`.
fn apply_op(
    text: &str,
    doc: usize,
    op: &PatchOperation,
    want: &[Value],
    json: bool,
) -> Result<String, String> {
    let candidates = Doc::parse(text, doc)?.plan(op)?;
    let mut why = String::from("no way to edit the text was found");
    for edits in candidates {
        match apply(text, edits).and_then(|t| verify(&t, json, want).map(|()| t)) {
            Ok(t) => return Ok(t),
            Err(e) => why = e,
        }
    }
    Err(why)
}

fn parse_docs(text: &str, json: bool) -> Result<Vec<Value>, String> {
    if json {
        return serde_json::from_str(text)
            .map(|v| vec![v])
            .map_err(|e| e.to_string());
    }
    crate::yaml::documents(text)?.into_iter().collect()
}

fn verify(text: &str, json: bool, want: &[Value]) -> Result<(), String> {
    let got = parse_docs(text, json).map_err(|e| format!("the edited text does not parse: {e}"))?;
    if got.len() != want.len() {
        return Err(format!(
            "the edited text has {} documents instead of {}",
            got.len(),
            want.len()
        ));
    }
    match got.iter().zip(want).position(|(g, w)| g != w) {
        Some(i) => Err(format!(
            "document {} of the edited text differs from the patched document",
            i + 1
        )),
        None => Ok(()),
    }
}

/// Apply non-overlapping edits, from the end of the text backwards.
fn apply(text: &str, mut edits: Vec<Edit>) -> Result<String, String> {
    edits.sort_by(|a, b| b.0.start.cmp(&a.0.start).then(b.0.end.cmp(&a.0.end)));
    let mut out = text.to_string();
    let mut limit = text.len();
    for (range, new) in edits {
        if range.start > range.end
            || range.end > limit
            || !out.is_char_boundary(range.start)
            || !out.is_char_boundary(range.end)
        {
            return Err("internal error: overlapping edits".into());
        }
        limit = range.start;
        out.replace_range(range, &new);
    }
    Ok(out)
}
