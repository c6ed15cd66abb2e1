//! A pruned object borrowed from the request body, for what the engine and a patch read of a
//! pod (issue 14).
//!
//! The pruned `Value` of a mirror pod cost a SipHash'd `IndexMap` for each mapping, a `String`
//! for each kept word, and dropping all of it: a quarter of the answer. A [`Tree`] is built by
//! the same walk (`pruned::quick`) and keeps the same members in the same places, but borrows
//! its keys and plain strings, and its mappings are lists. [`Node`] is what the pod readers
//! (`subjects`, `component`) ask of either, so both give the same subjects.

use crate::engine::read::at::{At, index, walk};
use serde_json::Value;
use std::borrow::Cow;

/// A JSON value as the pod readers see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Tree<'j> {
    /// A string, borrowed unless it held escapes.
    Str(Cow<'j, str>),
    List(Vec<Tree<'j>>),
    /// Members in the order written. A repeated key is kept twice; [`Node::member`] finds the
    /// last, as serde_json's map keeps the last value.
    Map(Vec<(&'j str, Tree<'j>)>),
    /// A number, a boolean or `null`: the pod readers read none of them.
    Other,
}

/// What the pod readers ask of an object, pruned as a `Value` or as a [`Tree`].
pub trait Node: Sized {
    /// The member `key` of a mapping (`None` for anything else).
    fn member(&self, key: &str) -> Option<&Self>;
    /// The string, if this is one.
    fn text(&self) -> Option<&str>;
    /// The items, if this is a list.
    fn items(&self) -> Option<&[Self]>;
    /// The object as serde_json's `Value`, for what needs it whole: a declared config's
    /// patch is made on a copy of it. `None` for a tree, which only pods are read as.
    fn as_value(&self) -> Option<&Value> {
        None
    }

    /// The value at a JSON pointer (RFC 6901), as `Value::pointer` finds it: `None` for a
    /// pointer that is neither empty nor starts with `/`.
    fn at(&self, pointer: &str) -> Option<&Self> {
        walk(self, pointer, |v, token| match v.items() {
            Some(list) => list.get(index(token)?),
            None => v.member(token),
        })
    }
}

impl Node for Value {
    fn member(&self, key: &str) -> Option<&Value> {
        At::member(self, key)
    }
    fn text(&self) -> Option<&str> {
        self.as_str()
    }
    fn items(&self) -> Option<&[Value]> {
        self.as_array().map(Vec::as_slice)
    }
    fn at(&self, pointer: &str) -> Option<&Value> {
        At::at(self, pointer)
    }
    fn as_value(&self) -> Option<&Value> {
        Some(self)
    }
}

impl Node for Tree<'_> {
    fn member(&self, key: &str) -> Option<&Self> {
        match self {
            Tree::Map(members) => members.iter().rev().find(|(k, _)| *k == key).map(|m| &m.1),
            _ => None,
        }
    }
    fn text(&self) -> Option<&str> {
        match self {
            Tree::Str(s) => Some(s),
            _ => None,
        }
    }
    fn items(&self) -> Option<&[Self]> {
        match self {
            Tree::List(items) => Some(items),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tree(v: &Value) -> Tree<'_> {
        match v {
            Value::String(s) => Tree::Str(Cow::Borrowed(s)),
            Value::Array(items) => Tree::List(items.iter().map(tree).collect()),
            Value::Object(map) => {
                Tree::Map(map.iter().map(|(k, v)| (k.as_str(), tree(v))).collect())
            }
            _ => Tree::Other,
        }
    }

    #[test]
    fn a_tree_answers_as_its_value() {
        let v = json!({"kind": "Pod", "spec": {"containers": [{"name": "a", "args": [1, "x"]}]},
            "metadata": {"labels": {"component": "kube-apiserver", "a/b": "slash", "c~d": "tilde",
                "c~1": "tilde one"}, "n": null}, "": {"x": "empty key"}});
        let t = tree(&v);
        for p in [
            "",
            "/kind",
            "/spec/containers",
            "/spec/containers/0",
            "/spec/containers/0/name",
            "/spec/containers/0/args/0",
            "/spec/containers/0/args/1",
            "/spec/containers/1",
            "/spec/containers/x",
            "/metadata/labels/component",
            "/metadata/n",
            "/nope",
            "/kind/x",
            "kind",
            "/metadata/labels/a~1b",
            "/metadata/labels/c~0d",
            "/metadata/labels/c~01",
            "/spec//x",
            "//x",
            "/spec/containers/0/",
        ] {
            let (a, b) = (Node::at(&v, p), t.at(p));
            assert_eq!(a, v.pointer(p), "{p}");
            assert_eq!(a.is_some(), b.is_some(), "{p}");
            assert_eq!(a.and_then(Node::text), b.and_then(Node::text), "{p}");
            assert_eq!(
                a.and_then(Node::items).map(<[_]>::len),
                b.and_then(Node::items).map(<[_]>::len),
                "{p}"
            );
        }
    }

    #[test]
    fn a_repeated_key_finds_the_last_value() {
        let t = Tree::Map(vec![
            ("kind", Tree::Str("Pod".into())),
            ("kind", Tree::Str("Deployment".into())),
        ]);
        assert_eq!(t.member("kind").and_then(Node::text), Some("Deployment"));
        // As serde_json reads the same text.
        let v: Value = serde_json::from_str(r#"{"kind":"Pod","kind":"Deployment"}"#).unwrap();
        assert_eq!(
            Node::member(&v, "kind").and_then(Node::text),
            Some("Deployment")
        );
    }
}
