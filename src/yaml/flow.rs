//! One-line flow collections of scalars, `[a, 'b', 1]` and `{name: a, readOnly: true}`: how
//! hand-written manifests often give a container's command, a pod's labels or a mount. They
//! went to serde_yaml_ng, about two fifths of `check`'s time over such files.
//!
//! Read only when each item or value is a one-line scalar as `scalar` reads it (quoted
//! without escapes, or plain), and each key a plain key. A nested collection, a `#` or a
//! `: ` in a plain item, an empty item, a trailing comma or anything else is `None`:
//! serde_yaml_ng decides.

use super::scalar::{Scalar, after_spaces, key, plain, quoted};
use serde_json::{Map, Value};

/// A one-line flow collection as read, borrowed: built only when it is kept.
pub(super) enum Flow<'t> {
    List(Vec<Scalar<'t>>),
    /// Plain keys to scalars, in written order.
    Map(Vec<(&'t str, Scalar<'t>)>),
}

impl Flow<'_> {
    pub(super) fn into_value(self) -> Value {
        match self {
            Flow::List(items) => Value::Array(items.into_iter().map(Scalar::into_value).collect()),
            Flow::Map(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (key, value) in entries {
                    // As serde_json's `Value`: a repeated key takes the first one's place.
                    map.insert(key.to_owned(), value.into_value());
                }
                Value::Object(map)
            }
        }
    }
}

/// The flow collection at the start of `text` (its `[` or `{`), and the text after it.
pub(super) fn collection(text: &str) -> Option<(Flow<'_>, &str)> {
    let (mapping, close) = match text.as_bytes().first()? {
        b'[' => (false, b']'),
        b'{' => (true, b'}'),
        _ => return None,
    };
    let mut rest = after_spaces(text.get(1..)?);
    let mut items = Vec::new();
    let mut entries = Vec::new();
    if rest.as_bytes().first() != Some(&close) {
        loop {
            let after = if mapping {
                // `key: value`: the key's `:` is followed by a space (`key` checks).
                let (k, after_colon) = key(rest)?;
                let (value, after) = item(after_spaces(after_colon), close)?;
                entries.push((k, value));
                after
            } else {
                let (value, after) = item(rest, close)?;
                items.push(value);
                after
            };
            let after = after_spaces(after);
            match after.as_bytes().first()? {
                b',' => {
                    rest = after_spaces(after.get(1..)?);
                    // A trailing comma (`[a, ]`) is serde_yaml_ng's to read.
                    if rest.as_bytes().first() == Some(&close) {
                        return None;
                    }
                }
                &b if b == close => {
                    rest = after;
                    break;
                }
                _ => return None,
            }
        }
    }
    let after = rest.get(1..)?;
    let value = if mapping {
        Flow::Map(entries)
    } else {
        Flow::List(items)
    };
    Some((value, after))
}

/// The scalar item at the start of `text`, and the text after it: quoted, or plain up to the
/// next `,` or `close`.
fn item(text: &str, close: u8) -> Option<(Scalar<'_>, &str)> {
    match text.as_bytes().first()? {
        b'"' | b'\'' => quoted(text),
        _ => {
            let end = text.bytes().position(|b| b == b',' || b == close)?;
            let (word, after) = text.split_at(end);
            // A `#` (a comment, or part of a word) is serde_yaml_ng's; `plain` declines flow
            // indicators itself.
            if word.bytes().any(|b| b == b'#') {
                return None;
            }
            let word = word.trim_end_matches(' ');
            if word.is_empty() {
                return None;
            }
            // A `:` inside a word (a URL, `host:port`) is part of it; `plain` declines one
            // before a space or at the end, which would make a single-pair mapping.
            Some((plain(word)?, after))
        }
    }
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
