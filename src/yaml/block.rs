//! A quick reader for the block YAML that Kubernetes tooling writes into ConfigMaps: a
//! KubeletConfiguration or a kubeadm ClusterConfiguration as sigs.k8s.io/yaml emits it (block
//! mappings and sequences, one-line plain or quoted scalars, comments, `{}` and `[]`).
//!
//! serde_yaml_ng spent about 360 instructions per byte on such a document (the libyaml scanner),
//! most of a kubelet-config review's time (issue 14). What this reader is not sure to read as
//! serde_yaml_ng does — anchors, tags, flow collections, block and multi-line scalars, escapes,
//! floats, tabs, non-ASCII text, odd indentation, any error — is `None`, and the caller parses
//! the text with serde_yaml_ng, which decides and words the error. What it returns is the `Value`
//! serde_yaml_ng builds, key order included (`block_tests.rs` compares the two).

use serde_json::{Map, Number, Value};

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
    // One searcher over the whole text finds every line break (`str::split` sets one up per
    // line, which cost more than the short lines themselves).
    let ends = memchr::memchr_iter(b'\n', text.as_bytes()).chain([text.len()]);
    let mut start = 0;
    for end in ends {
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
        let value = scalar(text)?;
        let value = if self.build {
            value.into_value()
        } else {
            Value::Null
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

/// `text` after its leading spaces: a byte loop, cheaper on short lines than `trim_start_matches`.
fn after_spaces(text: &str) -> &str {
    let spaces = text.bytes().take_while(|&b| b == b' ').count();
    text.get(spaces..).unwrap_or_default()
}

fn deeper(depth: usize) -> Option<usize> {
    (depth < MAX_DEPTH).then_some(depth + 1)
}

/// A block sequence entry: `-` alone or followed by a space.
fn is_entry(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// A mapping key and what follows its `:`. Only plain keys that are surely strings: a letter,
/// then letters, digits and `_-./`; not a word serde_yaml_ng resolves to a bool or null.
fn key(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    if !bytes.first()?.is_ascii_alphabetic() {
        return None;
    }
    let end = bytes
        .iter()
        .position(|&b| !IN_KEY[usize::from(b)])
        .unwrap_or(bytes.len());
    let (key, rest) = text.split_at(end);
    let rest = rest.strip_prefix(':')?;
    if !(rest.is_empty() || rest.starts_with(' ')) || word(key).is_some() {
        return None;
    }
    Some((key, rest))
}

/// The bytes of a plain key read here.
static IN_KEY: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'/');
        b += 1;
    }
    table
};

/// A one-line scalar as read, borrowed: a value is built from it only when it is kept.
enum Scalar<'t> {
    Null,
    Bool(bool),
    Str(&'t str),
    Unsigned(u64),
    EmptyMap,
    EmptyList,
}

impl Scalar<'_> {
    fn into_value(self) -> Value {
        match self {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(b),
            Scalar::Str(s) => Value::String(s.to_owned()),
            Scalar::Unsigned(n) => Value::Number(Number::from(n)),
            Scalar::EmptyMap => Value::Object(Map::new()),
            Scalar::EmptyList => Value::Array(Vec::new()),
        }
    }
}

/// Indicators a plain scalar cannot start with (a table: `[u8]::contains` is a memchr call).
static STARTS_OTHER: [bool; 256] = {
    let mut table = [false; 256];
    let indicators = b"?:,[]{}#&*!|>'\"%@`";
    let mut i = 0;
    while i < indicators.len() {
        table[indicators[i] as usize] = true;
        i += 1;
    }
    table
};

/// Plain words serde_yaml_ng reads as null or a bool, as their value.
fn word(s: &str) -> Option<Scalar<'static>> {
    match s {
        "null" | "Null" | "NULL" | "~" => Some(Scalar::Null),
        "true" | "True" | "TRUE" => Some(Scalar::Bool(true)),
        "false" | "False" | "FALSE" => Some(Scalar::Bool(false)),
        _ => None,
    }
}

/// A one-line scalar, or `{}` / `[]`, then at most a comment.
fn scalar(text: &str) -> Option<Scalar<'_>> {
    match text.as_bytes().first()? {
        q @ (b'"' | b'\'') => {
            let body = text.get(1..)?;
            let (content, after) = body.split_once(char::from(*q))?;
            // Escapes (`\` in double quotes, `''` in single ones) are serde_yaml_ng's to decode.
            if (*q == b'"' && content.contains('\\')) || (*q == b'\'' && after.starts_with('\'')) {
                return None;
            }
            ends(after)?;
            Some(Scalar::Str(content))
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

/// A plain scalar up to a comment, resolved as serde_yaml_ng resolves it into a `Value`.
fn plain(text: &str) -> Option<Scalar<'_>> {
    let bytes = text.as_bytes();
    let mut end = bytes.len();
    for (at, &b) in bytes.iter().enumerate() {
        match b {
            b'#' if at.checked_sub(1).and_then(|before| bytes.get(before)) == Some(&b' ') => {
                end = at;
                break;
            }
            // `: ` or a final `:` would make a mapping here (an error); flow indicators are
            // left to serde_yaml_ng.
            b':' if bytes.get(at + 1).is_none_or(|&next| next == b' ') => return None,
            b'[' | b']' | b'{' | b'}' => return None,
            _ => {}
        }
    }
    let s = text.get(..end)?.trim_end_matches(' ');
    let first = *s.as_bytes().first()?;
    // Indicators that start something else; `-` only before a space (a sequence entry).
    if STARTS_OTHER[usize::from(first)] || s == "-" || s.starts_with("- ") {
        return None;
    }
    if let Some(value) = word(s) {
        return Some(value);
    }
    // A letter or `/` never starts a number serde_yaml_ng reads (`inf` and `nan` parse as f64
    // but are refused as not finite); the rest may be a number.
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return Some(Scalar::Str(s));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        // Leading zeros make a string (YAML 1.2); past u64, serde_yaml_ng decides.
        if s.len() > 1 && s.starts_with('0') {
            return Some(Scalar::Str(s));
        }
        return s.parse::<u64>().ok().map(Scalar::Unsigned);
    }
    // Signed, radix-prefixed, float and `.inf`/`.nan` forms are serde_yaml_ng's to resolve; what
    // is left (`10s`, `0.0.0.0`, `100Mi`, `-foo`) is a string.
    let signs = s.bytes().take_while(|b| matches!(b, b'+' | b'-')).count();
    let unsigned = s.as_bytes().get(signs..).unwrap_or_default();
    let radix_or_dot = matches!(unsigned, [b'.', ..] | [b'0', b'x' | b'o' | b'b', ..]);
    // A float is digits, signs, `.`, `e` and `_` alone: `10s` and `100Mi` need no parse.
    let float_like = || {
        s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E' | b'_'))
    };
    if radix_or_dot || (float_like() && s.parse::<f64>().is_ok()) {
        return None;
    }
    Some(Scalar::Str(s))
}

#[cfg(test)]
#[path = "block_tests.rs"]
mod tests;
