//! The one way YAML is read: files, ConfigMap values, policy files and edited text all pass the
//! nesting guard before serde_yaml_ng, because its time grows faster than linearly with nesting
//! depth (a 40,000-level flow sequence took seconds) and no real manifest nests deeply. Block
//! YAML that [`block`] reads (it stops at 64 levels, in linear time) needs no guard.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub mod block;
mod flow;
mod scalar;

/// Deeper nesting than this is refused before parsing: no manifest comes near it, and the YAML
/// parser's time grows faster than linearly with flow nesting depth.
pub const MAX_YAML_DEPTH: usize = 128;

/// Refuse pathologically deep nesting with a cheap linear pass over the parser events. Syntax
/// errors are left to the real parse, which reports them with its own position.
pub fn check_depth(text: &str) -> Result<(), String> {
    use saphyr_parser::{Event, Parser};
    // The event pass costs as much as a second parse; skip it when the text cannot nest deeply.
    if depth_bound(text) <= MAX_YAML_DEPTH {
        return Ok(());
    }
    let mut depth = 0usize;
    let too_deep = |line: usize, col: usize| {
        format!(
            "invalid YAML: nesting deeper than {MAX_YAML_DEPTH} levels at line {line} column {}",
            col + 1
        )
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = match event {
            Ok(e) => e,
            // The scanner has its own (flow) depth limit, reached before ours.
            Err(e) if e.info().contains("recursion limit") => {
                return Err(too_deep(e.marker().line(), e.marker().col()));
            }
            Err(_) => return Ok(()),
        };
        match event {
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                depth += 1;
                if depth > MAX_YAML_DEPTH {
                    return Err(too_deep(span.start.line(), span.start.col()));
                }
            }
            Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// An upper bound on the nesting depth of any YAML text, from one pass over its bytes.
///
/// Flow collections open with `[` or `{` (a `[` may also open a single-pair mapping, `[a: b]`), so
/// their depth is at most twice the number of `[` plus the number of `{`. In a
/// chain of nested block collections each starts at a column no smaller than its parent's, and
/// equal only for a sequence in a mapping (`key:` then `- item` below it), so the chain is at
/// most 2 × (largest start column + 1) long. A block collection starts at the line's first key
/// or after indicators (`- `, `? `, `: `) at the start of the line, so its column is at most the
/// length of the line's leading run of spaces, tabs and indicator characters.
fn depth_bound(text: &str) -> usize {
    let mut flow = 0usize;
    let mut widest = 0usize;
    // Split wherever any YAML version may see a line break (also inside NEL, LS and PS): an
    // extra split never shortens a line's leading run, which is ASCII.
    let breaks = |b: &u8| matches!(b, b'\n' | b'\r' | 0x85 | 0xa8 | 0xa9);
    for line in text.as_bytes().split(breaks) {
        let lead = line
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'-' | b'?' | b':'))
            .count();
        widest = widest.max(lead);
        // `[a: b]` opens a sequence and, inside it, a single-pair mapping. Two plain counts
        // vectorise; one match per byte did not.
        let count = |c: u8| line.iter().filter(|&&b| b == c).count();
        flow += 2 * count(b'[') + count(b'{');
    }
    flow.saturating_add(2 * (widest + 1))
}

/// Every document of a YAML stream. The stream cannot be resynchronised after a syntax error,
/// so the first bad document is the last item. `Err` when the text nests too deeply.
pub fn documents(text: &str) -> Result<Vec<Result<Value, String>>, String> {
    // Most node files (a kubelet configuration, a static pod) are one block mapping.
    if let Some(value) = block::mapping(text) {
        return Ok(vec![Ok(value)]);
    }
    check_depth(text)?;
    let mut out = Vec::new();
    for de in serde_yaml_ng::Deserializer::from_str(text) {
        match Value::deserialize(de) {
            Ok(v) => out.push(Ok(v)),
            Err(e) => {
                out.push(Err(format!("invalid YAML: {e}")));
                break;
            }
        }
    }
    Ok(out)
}

/// One YAML document that should be a mapping (a ConfigMap's embedded configuration) as a
/// `Value`: the block YAML tools write is read by [`block::mapping`], anything else by
/// serde_yaml_ng, which words the errors.
pub fn mapping(text: &str) -> Result<Value, String> {
    match block::mapping(text) {
        Some(value) => Ok(value),
        None => one(text),
    }
}

/// [`mapping`] with only the top-level keys in `keep` (a document the engine reads a few fields
/// of): the same `Ok` or `Err` as [`mapping`], with the other keys left out.
pub fn mapping_keeping(text: &str, keep: &[&str]) -> Result<Value, String> {
    match block::mapping_keeping(text, keep) {
        Some(value) => Ok(value),
        None => {
            let mut value = one::<Value>(text)?;
            if let Value::Object(map) = &mut value {
                map.retain(|key, _| keep.contains(&key.as_str()));
            }
            Ok(value)
        }
    }
}

/// One YAML document (a ConfigMap value, a policy file) into `T`.
pub fn one<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    check_depth(text)?;
    serde_yaml_ng::from_str(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_is_refused_fast_everywhere() {
        let deep = format!("{}{}", "[".repeat(40_000), "]".repeat(40_000));
        let start = std::time::Instant::now();
        assert!(
            documents(&deep)
                .unwrap_err()
                .contains("nesting deeper than 128")
        );
        assert!(
            one::<Value>(&deep)
                .unwrap_err()
                .contains("nesting deeper than 128")
        );
        // Generous: the guard is linear; the parser alone took seconds on this input.
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        let fine = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(one::<Value>(&fine).is_ok());
    }

    /// The bound is never below the depth the event pass measures.
    #[test]
    fn depth_bound_is_an_upper_bound() {
        let texts = [
            "a: 1\n".to_string(),
            "a:\n- b:\n  - - c: {d: [1, [2]]}\n    e: f\n".to_string(),
            "? - a\n: - - b\n".to_string(),
            (0..60)
                .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
                .collect(),
            (0..40)
                .map(|i| format!("{}- k{i}:\n", "  ".repeat(i)))
                .collect(),
            format!("a: {}{}\n", "[".repeat(60), "]".repeat(60)),
            (0..40)
                .map(|i| format!("{}k{i}:\r", " ".repeat(i)))
                .collect(),
            format!("a: {}x{}\n", "[k: ".repeat(30), "]".repeat(30)),
        ];
        for text in texts {
            let mut depth = 0usize;
            let mut max = 0usize;
            for item in saphyr_parser::Parser::new_from_str(&text) {
                use saphyr_parser::Event;
                // The parser goes on reporting the same error; the depth so far is what counts.
                let Ok((event, _)) = item else { break };
                match event {
                    Event::SequenceStart(..) | Event::MappingStart(..) => {
                        depth += 1;
                        max = max.max(depth);
                    }
                    Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
                    _ => {}
                }
            }
            assert!(depth_bound(&text) >= max, "{text}: {max}");
        }
    }

    /// Lines are split at every line break wherever it falls in an eight-byte step: keys of every
    /// length up to two steps, blank and space-only lines between them, with and without a final
    /// line break.
    #[test]
    fn lines_split_wherever_their_breaks_fall() {
        for width in 1..=17 {
            let key = "k".repeat(width);
            for blank in ["", "\n", "   \n", "\n\n"] {
                let text =
                    format!("{key}: 1\n{blank}{key}x:\n  a: b\n{blank}  c: {key}\nz: {width}");
                block::tests::same(&text);
                block::tests::same(&format!("{text}\n"));
                block::tests::same(&format!("{text}\n{blank}"));
            }
        }
    }

    #[test]
    fn a_syntax_error_ends_the_stream() {
        let docs = documents("a: 1\n---\nb: [\n---\nc: 3\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert!(docs[0].is_ok() && docs[1].is_err());
    }

    /// The project's YAML fixtures give the same documents whether or not the block reader
    /// reads them (it reads about half: the others have flow collections or block scalars).
    #[test]
    fn fixture_documents_are_serde_yaml_ngs() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let (mut files, mut quick) = (0, 0);
        for entry in walkdir::WalkDir::new(root).into_iter().flatten() {
            let path = entry.path();
            if !path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                continue;
            }
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let Ok(docs) = documents(&text) else { continue };
            let serde: Vec<_> = serde_yaml_ng::Deserializer::from_str(&text)
                .map(|de| Value::deserialize(de).map_err(|e| format!("invalid YAML: {e}")))
                .collect();
            let ours: Vec<_> = docs.into_iter().map(|d| d.map(|v| v.to_string())).collect();
            let theirs: Vec<_> = serde
                .into_iter()
                .map(|d| d.map(|v| v.to_string()))
                .collect();
            // serde_yaml_ng goes on after an error; `documents` stops at it.
            assert_eq!(ours[..], theirs[..ours.len()], "{}", path.display());
            files += 1;
            quick += usize::from(block::mapping(&text).is_some());
        }
        assert!(
            quick * 3 > files,
            "{quick} of {files} fixture files read quickly"
        );
    }
}
