//! A quick reader for the block YAML that Kubernetes tooling writes into ConfigMaps: a
//! KubeletConfiguration or a kubeadm ClusterConfiguration as sigs.k8s.io/yaml emits it (block
//! mappings and sequences, one-line plain or quoted scalars, comments, and one-line flow
//! collections of such scalars, `[a, b]` and `{k: v}`, as hand-written manifests hold).
//!
//! serde_yaml_ng spent about 360 instructions per byte on such a document (the libyaml scanner),
//! most of a kubelet-config review's time (issue 14). What this reader is not sure to read as
//! serde_yaml_ng does — anchors, tags, nested or multi-line flow collections, block and
//! multi-line scalars, escapes, floats, tabs, non-ASCII text, odd indentation, any error — is
//! `None`, and the caller parses the text with serde_yaml_ng, which decides and words the
//! error. What it returns is the `Value` serde_yaml_ng builds, key order included
//! (`block_tests.rs` and `flow_tests.rs` compare the two).

use super::flow;
use super::scalar::{Scalar, after_spaces, key, plain, quoted};
use serde_json::{Map, Value};

/// Levels of nesting read here; deeper text goes to serde_yaml_ng and the depth guard.
const MAX_DEPTH: usize = 64;

/// A line with content: its indentation and its text after it (comment lines are dropped).
#[derive(Clone, Copy)]
struct Line<'t> {
    indent: usize,
    text: &'t str,
}

/// The document `text` if it is a block mapping this reader reads as serde_yaml_ng does.
pub fn mapping(text: &str) -> Option<Value> {
    read(text, None)
}

/// [`mapping`] with only the top-level keys in `keep`: the others are read to the same end
/// (`None` exactly when [`mapping`] is) but not built. Most of a KubeletConfiguration is fields
/// the engine never reads, and building them (a `String` and a SipHash insert a key) was half
/// of a kubelet-config review's answer (issue 14).
pub fn mapping_keeping(text: &str, keep: &[&str]) -> Option<Value> {
    read(text, Some(keep))
}

fn read(text: &str, keep: Option<&[&str]>) -> Option<Value> {
    // Tabs, carriage returns, other control characters and non-ASCII text (libyaml also breaks
    // lines at NEL, LS and PS) are left to the full parser. Checked without stopping early, so
    // that the loop is vectorised.
    let odd = text.bytes().fold(false, |odd, b| {
        odd | (b != b'\n' && !(b' '..=b'~').contains(&b))
    });
    if odd {
        return None;
    }
    let mut lines = Vec::with_capacity(text.len() / 16);
    let mut opened = false;
    // Each line break found eight bytes at a step: lines are some twenty bytes, and a memchr
    // search per line cost more than that (460 instructions a kubelet-config review).
    let mut start = 0;
    while start <= text.len() {
        let rest = text.as_bytes().get(start..).unwrap_or_default();
        let end = crate::bytes::find(rest, b'\n').map_or(text.len(), |i| start + i);
        let raw = text.get(start..end)?;
        start = end + 1;
        let body = after_spaces(raw);
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = raw.len() - body.len();
        if indent == 0
            && (body.starts_with("---") || body.starts_with("...") || body.starts_with('%'))
        {
            // A single document, opened at most once, before any content.
            if body == "---" && lines.is_empty() && !opened {
                opened = true;
                continue;
            }
            return None;
        }
        lines.push(Line { indent, text: body });
    }
    let first = lines.first()?;
    if first.indent != 0 || is_entry(first.text) {
        return None;
    }
    let mut reader = Reader {
        lines,
        at: 0,
        build: true,
        keep,
    };
    let value = reader.mapping(0, 0)?;
    (reader.at == reader.lines.len()).then_some(value)
}

struct Reader<'t, 'k> {
    lines: Vec<Line<'t>>,
    /// The next line to read.
    at: usize,
    /// Build what is read; else only read it (a value `Null` stands for it).
    build: bool,
    /// The top-level keys to build (`None`: all).
    keep: Option<&'k [&'k str]>,
}

impl Reader<'_, '_> {
    /// The block mapping whose keys stand at `indent`, from the next line on.
    fn mapping(&mut self, indent: usize, depth: usize) -> Option<Value> {
        let depth = deeper(depth)?;
        let build = self.build;
        // Sized for its keys: growing the map re-hashes every key (SipHash) again.
        let keys = match (build, self.keep.filter(|_| depth == 1)) {
            (false, _) => 0,
            (true, Some(keep)) => keep.len(),
            (true, None) => self
                .lines
                .get(self.at..)
                .unwrap_or_default()
                .iter()
                .take_while(|line| line.indent >= indent)
                .filter(|line| line.indent == indent)
                .count(),
        };
        let mut map = Map::with_capacity(keys);
        while let Some(&line) = self.lines.get(self.at) {
            if line.indent < indent {
                break;
            }
            // Deeper text no value took, or an entry after a complete value: an error, or
            // something this reader does not read.
            if line.indent > indent || is_entry(line.text) {
                return None;
            }
            let (key, rest) = key(line.text)?;
            self.at += 1;
            let kept = build && (depth > 1 || self.keep.is_none_or(|keep| keep.contains(&key)));
            self.build = kept;
            let value = self.value(indent, rest, depth, true);
            self.build = build;
            let value = value?;
            if kept {
                // As serde_json's `Value`: a repeated key takes the first one's place.
                map.insert(key.to_owned(), value);
            }
        }
        Some(if build {
            Value::Object(map)
        } else {
            Value::Null
        })
    }

    /// The block sequence whose `-` stand at `indent`, from the next line on.
    fn sequence(&mut self, indent: usize, depth: usize) -> Option<Value> {
        let depth = deeper(depth)?;
        let mut items = Vec::new();
        while let Some(&line) = self.lines.get(self.at) {
            if line.indent < indent {
                break;
            }
            if !is_entry(line.text) {
                // A key at the sequence's own indentation ends a sequence written under its
                // key (`args:` then `- a` at the key's column); anything deeper is not read.
                if line.indent == indent {
                    break;
                }
                return None;
            }
            if line.indent > indent {
                return None;
            }
            let rest = line.text.strip_prefix('-')?;
            let after = after_spaces(rest);
            if key(after).is_some() {
                // `- name: a`: a mapping whose keys stand at the first key's column; the line
                // is read again as its first key's.
                let column = indent + line.text.len() - after.len();
                *self.lines.get_mut(self.at)? = Line {
                    indent: column,
                    text: after,
                };
                let item = self.mapping(column, depth)?;
                if self.build {
                    items.push(item);
                }
            } else {
                self.at += 1;
                let item = self.value(indent, rest, depth, false)?;
                if self.build {
                    items.push(item);
                }
            }
        }
        Some(if self.build {
            Value::Array(items)
        } else {
            Value::Null
        })
    }

    /// The value of a key (`of_key`) or a sequence item at `indent`, whose line goes on with
    /// `rest` after the `:` or `-`.
    fn value(&mut self, indent: usize, rest: &str, depth: usize, of_key: bool) -> Option<Value> {
        let text = after_spaces(rest);
        if text.is_empty() || (text.starts_with('#') && text.len() < rest.len()) {
            // Nothing on the line: a block below it, or null.
            return match self.lines.get(self.at) {
                Some(next) if next.indent > indent => self.block(next.indent, depth),
                Some(next) if of_key && next.indent == indent && is_entry(next.text) => {
                    self.sequence(indent, depth)
                }
                _ => Some(Value::Null),
            };
        }
        // `:`/`-` must be followed by a space before a value.
        if text.len() == rest.len() {
            return None;
        }
        let value = match scalar(text) {
            Some(value) if self.build => value.into_value(),
            Some(_) => Value::Null,
            // Not a scalar: a flow collection, or what serde_yaml_ng must decide.
            None => self.flow(text, depth)?,
        };
        // A more indented line after a scalar continues it (a multi-line plain scalar) or is an
        // error: not read here.
        if self
            .lines
            .get(self.at)
            .is_some_and(|next| next.indent > indent)
        {
            return None;
        }
        Some(value)
    }

    /// The one-line flow collection `text` (`None` for anything else), then at most a
    /// comment: a level deeper. Out of line and tried only when `text` is not a scalar, so that
    /// the scalar path stays as short as it was.
    #[inline(never)]
    fn flow(&self, text: &str, depth: usize) -> Option<Value> {
        deeper(depth)?;
        let (value, after) = flow::collection(text)?;
        ends(after)?;
        Some(if self.build {
            value.into_value()
        } else {
            Value::Null
        })
    }

    /// The block collection whose first line, next, stands at `indent`.
    fn block(&mut self, indent: usize, depth: usize) -> Option<Value> {
        let line = self.lines.get(self.at)?;
        if is_entry(line.text) {
            self.sequence(indent, depth)
        } else {
            self.mapping(indent, depth)
        }
    }
}

fn deeper(depth: usize) -> Option<usize> {
    (depth < MAX_DEPTH).then_some(depth + 1)
}

/// A block sequence entry: `-` alone or followed by a space.
fn is_entry(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// A one-line scalar, or `{}` / `[]`, then at most a comment. The empty ones are read here,
/// as before flow collections were read at all: a configuration's `{}` stays off the
/// out-of-line path (`Reader::flow` reads the others).
fn scalar(text: &str) -> Option<Scalar<'_>> {
    match text.as_bytes().first()? {
        b'"' | b'\'' => {
            let (value, after) = quoted(text)?;
            ends(after)?;
            Some(value)
        }
        b'{' | b'[' => {
            let (empty, after) = text.split_at_checked(2)?;
            ends(after)?;
            match empty {
                "{}" => Some(Scalar::EmptyMap),
                "[]" => Some(Scalar::EmptyList),
                _ => None,
            }
        }
        _ => plain(text),
    }
}

/// What may follow a value on its line: spaces, then a comment.
fn ends(after: &str) -> Option<()> {
    let rest = after_spaces(after);
    (rest.is_empty() || (rest.starts_with('#') && rest.len() < after.len())).then_some(())
}

#[cfg(test)]
#[path = "block_tests.rs"]
pub(super) mod tests;
