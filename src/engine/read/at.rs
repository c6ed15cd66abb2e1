//! `Value::pointer` without its per-token allocations: serde_json's unescapes every token with
//! two `String::replace` calls, which made up a quarter of the time of an unrelated Pod's answer.
//! Only a token holding `~` (an escape) is unescaped ([`walk`], which the borrowed tree's
//! pointers take too).
//!
//! Members of a small mapping are found by comparing keys: the mappings the engine walks
//! (a pruned container, metadata, labels) hold a few members, and hashing a key with SipHash
//! costs more than comparing it with each of them.

use crate::bytes;
use serde_json::Value;

pub trait At {
    /// The value at a JSON pointer (RFC 6901), as `Value::pointer` finds it.
    fn at(&self, pointer: &str) -> Option<&Value>;

    /// The member `key` of a mapping, as `Value::get` finds it.
    fn member(&self, key: &str) -> Option<&Value>;
}

/// Up to this many members, a mapping is searched key by key rather than by hash.
const SCAN: usize = 8;

impl At for Value {
    fn at(&self, pointer: &str) -> Option<&Value> {
        walk(self, pointer, |v, token| match v {
            Value::Object(_) => v.member(token),
            Value::Array(list) => index(token).and_then(|i| list.get(i)),
            _ => None,
        })
    }

    fn member(&self, key: &str) -> Option<&Value> {
        let Value::Object(map) = self else {
            return None;
        };
        if map.len() > SCAN {
            return map.get(key);
        }
        map.iter().find_map(|(k, v)| (k == key).then_some(v))
    }
}

/// The value at a JSON pointer (RFC 6901) below `root`, as `Value::pointer` finds it: `step`
/// goes from a value to its member or item named by one token, unescaped. `None` for a pointer
/// that is neither empty nor starts with `/`. Tokens are cut with byte scans (`split` sets up a
/// searcher per call, which costs more than these short pointers), and only a token holding
/// `~` is unescaped into a `String`.
pub(crate) fn walk<'v, V>(
    root: &'v V,
    pointer: &str,
    step: impl Fn(&'v V, &str) -> Option<&'v V>,
) -> Option<&'v V> {
    if pointer.is_empty() {
        return Some(root);
    }
    let mut rest = pointer.strip_prefix('/')?;
    let mut v = root;
    loop {
        let end = bytes::find(rest.as_bytes(), b'/');
        let token = rest.get(..end.unwrap_or(rest.len()))?;
        v = match bytes::find(token.as_bytes(), b'~') {
            None => step(v, token),
            Some(_) => step(v, &token.replace("~1", "/").replace("~0", "~")),
        }?;
        match end {
            Some(end) => rest = rest.get(end + 1..)?,
            None => return Some(v),
        }
    }
}

/// An array index as serde_json reads it: no sign, no leading zero.
pub(crate) fn index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_what_pointer_finds() {
        let v = json!({"a": {"b": [1, {"c/d": 2, "e~f": 3, "": 4}]}, "": {"x": 5}});
        for p in [
            "",
            "/",
            "/a",
            "/a/b",
            "/a/b/0",
            "/a/b/1",
            "/a/b/01",
            "/a/b/+1",
            "/a/b/2",
            "/a/b/-",
            "/a/b/1/c~1d",
            "/a/b/1/e~0f",
            "/a/b/1/",
            "//x",
            "a",
            "/a/b/0/z",
            "/nope",
        ] {
            assert_eq!(v.at(p), v.pointer(p), "{p:?}");
        }
    }

    #[test]
    fn finds_members_as_get_does() {
        let small = json!({"a": 1, "b": 2, "": 3});
        let large: Value = (0..20).map(|i| (format!("k{i}"), json!(i))).collect();
        for v in [&small, &large, &json!([1, 2]), &json!("a")] {
            for key in ["a", "b", "", "k0", "k19", "k20", "z"] {
                assert_eq!(v.member(key), v.get(key), "{v} {key:?}");
            }
        }
    }
}
