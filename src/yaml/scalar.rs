//! One-line scalars as serde_yaml_ng resolves them into a `Value`, and plain mapping keys: what
//! the block reader (`block`) and its one-line flow collections (`flow`) read on a line.
//! Anything not surely read as serde_yaml_ng reads it is `None`.
//!
//! `after_spaces`, `key` and `plain` are inlined into both callers: called out of line once
//! two modules shared them, a kubelet-config review cost 3.2k instructions more (callgrind,
//! `benches/engine.rs`).

use serde_json::{Map, Number, Value};

/// `text` after its leading spaces: a byte loop, cheaper on short lines than `trim_start_matches`.
#[inline(always)]
pub(super) fn after_spaces(text: &str) -> &str {
    let spaces = text.bytes().take_while(|&b| b == b' ').count();
    text.get(spaces..).unwrap_or_default()
}

/// A mapping key and what follows its `:`. Only plain keys that are surely strings: a letter,
/// then letters, digits and `_-./`; not a word serde_yaml_ng resolves to a bool or null.
#[inline(always)]
pub(super) fn key(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    if !bytes.first()?.is_ascii_alphabetic() {
        return None;
    }
    // Four bytes a step, their look-ups combined without a branch each: keys are most of a
    // configuration's bytes.
    let mut end = 0;
    while let Some(&[a, b, c, d]) = bytes.get(end..end + 4) {
        let all = IN_KEY[usize::from(a)]
            & IN_KEY[usize::from(b)]
            & IN_KEY[usize::from(c)]
            & IN_KEY[usize::from(d)];
        if !all {
            break;
        }
        end += 4;
    }
    let end = bytes
        .get(end..)
        .unwrap_or_default()
        .iter()
        .position(|&b| !IN_KEY[usize::from(b)])
        .map_or(bytes.len(), |at| end + at);
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
pub(super) enum Scalar<'t> {
    Null,
    Bool(bool),
    Str(&'t str),
    Unsigned(u64),
    EmptyMap,
    EmptyList,
}

impl Scalar<'_> {
    pub(super) fn into_value(self) -> Value {
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
static STARTS_OTHER: [bool; 256] = marked(b"?:,[]{}#&*!|>'\"%@`");

/// The bytes inside a plain scalar that need a second look: a comment's `#`, a `:` and flow
/// indicators.
static IN_PLAIN_ASKS: [bool; 256] = marked(b"#:[]{}");

/// A table of the bytes in `set`.
const fn marked(set: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < set.len() {
        table[set[i] as usize] = true;
        i += 1;
    }
    table
}

/// Plain words serde_yaml_ng reads as null or a bool, as their value. Their lengths are
/// checked inline: most keys and values are none of them, and were a call each.
#[inline(always)]
fn word(s: &str) -> Option<Scalar<'static>> {
    if matches!(s.len(), 1 | 4 | 5) {
        spelled(s)
    } else {
        None
    }
}

/// [`word`], past its length check.
fn spelled(s: &str) -> Option<Scalar<'static>> {
    match s {
        "null" | "Null" | "NULL" | "~" => Some(Scalar::Null),
        "true" | "True" | "TRUE" => Some(Scalar::Bool(true)),
        "false" | "False" | "FALSE" => Some(Scalar::Bool(false)),
        _ => None,
    }
}

/// A quoted scalar at the start of `text` without escapes, and the text after it.
pub(super) fn quoted(text: &str) -> Option<(Scalar<'_>, &str)> {
    let q = char::from(*text.as_bytes().first()?);
    let (content, after) = text.get(1..)?.split_once(q)?;
    // Escapes (`\` in double quotes, `''` in single ones) are serde_yaml_ng's to decode.
    if (q == '"' && content.contains('\\')) || (q == '\'' && after.starts_with('\'')) {
        return None;
    }
    Some((Scalar::Str(content), after))
}

/// A plain scalar up to a comment, resolved as serde_yaml_ng resolves it into a `Value`.
#[inline(always)]
pub(super) fn plain(text: &str) -> Option<Scalar<'_>> {
    let bytes = text.as_bytes();
    let mut end = bytes.len();
    for (at, &b) in bytes.iter().enumerate() {
        // One look-up a byte: the `match` alone compared each byte five times.
        if !IN_PLAIN_ASKS[usize::from(b)] {
            continue;
        }
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
mod tests {
    use super::*;

    /// `key` reads four bytes a step: it ends a key where a byte loop does, wherever in the
    /// step the first byte not in a key falls, and whatever follows.
    #[test]
    fn keys_end_where_a_byte_loop_ends_them() {
        let reference = |text: &str| -> Option<(String, String)> {
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
            if !(rest.is_empty() || rest.starts_with(' ')) || spelled(key).is_some() {
                return None;
            }
            Some((key.to_string(), rest.to_string()))
        };
        for len in 1..14 {
            let name: String = "aZ9_-./bY8".chars().cycle().take(len).collect();
            for stop in [":", ": v", ":x", " : v", "#", "'", "[", "~", "=", ""] {
                let text = format!("{name}{stop}");
                let read = key(&text).map(|(k, r)| (k.to_string(), r.to_string()));
                assert_eq!(read, reference(&text), "{text:?}");
            }
        }
    }

    /// The length check before the words are spelled out hides none of them.
    #[test]
    fn every_word_is_found_past_the_length_check() {
        for w in [
            "null", "Null", "NULL", "~", "true", "True", "TRUE", "false", "False", "FALSE",
        ] {
            assert!(word(w).is_some(), "{w}");
            assert_eq!(key(&format!("{w}: x")).map(|(k, _)| k), None, "{w}");
        }
        for w in ["nul", "nulls", "tru", "truer", "falsey", "~~", ""] {
            assert!(word(w).is_none(), "{w}");
        }
    }
}
