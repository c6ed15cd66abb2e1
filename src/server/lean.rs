//! `request.object`, built only when the engine could find something in it.
//!
//! Most requests a webhook sees are for objects it has nothing to say about (any ConfigMap but
//! kubeadm's and the kubelet's, most kinds). Their identity — `kind`, `metadata.name`,
//! `metadata.namespace` — is read first from the raw JSON, borrowed; an object that cannot be
//! relevant then becomes a stub holding only that identity (what logs and messages name), so a
//! 1 MiB unrelated ConfigMap is never built into a `Value` tree. A relevant object is built from
//! its raw bytes exactly as received, so patches are computed against what the API server sent
//! (DESIGN.md section 3). Anything unusual (not a mapping, a repeated or non-string identity field)
//! takes the full parse, as before. The object is walked once, each member kept as borrowed raw
//! JSON, so neither case scans it twice.

use crate::engine::read::subjects::may_be_relevant;
use serde::de::value::SeqAccessDeserializer;
use serde::de::{Error as _, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata<'a> {
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    namespace: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    generate_name: Option<Cow<'a, str>>,
}

/// `deserialize_with` for `AdmissionRequest::object`.
pub fn object<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Option::<Lean>::deserialize(d).map(|o| o.map(|Lean(v)| v))
}

struct Lean(Value);

impl<'de> Deserialize<'de> for Lean {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LeanVisitor).map(Lean)
    }
}

struct LeanVisitor;

impl<'de> Visitor<'de> for LeanVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    /// One pass over the object: each member kept as borrowed raw JSON. Built (in order, a repeated
    /// key replacing the earlier value as serde_json's own `Value` does) only when relevant.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let value: &'de RawValue = map.next_value()?;
            members.push((key, value));
        }
        if let Some(stub) = irrelevant_stub(&members) {
            return Ok(stub);
        }
        let mut out = Map::with_capacity(members.len());
        for (key, raw) in members {
            let value: Value = serde_json::from_str(raw.get()).map_err(A::Error::custom)?;
            out.insert(key.into_owned(), value);
        }
        Ok(Value::Object(out))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
}

/// The last value of `key`, as serde_json's `Value` would keep it.
fn member<'a>(members: &'a [(Cow<'_, str>, &'a RawValue)], key: &str) -> Option<&'a RawValue> {
    members
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| *v)
}

/// The identity-only stand-in for an object that cannot be relevant, or `None` when the object
/// must be built.
fn irrelevant_stub(members: &[(Cow<'_, str>, &RawValue)]) -> Option<Value> {
    let kind: Option<Cow<'_, str>> = match member(members, "kind") {
        Some(raw) => Some(serde_json::from_str(raw.get()).ok()?),
        None => None,
    };
    let meta: Option<Metadata<'_>> = match member(members, "metadata") {
        Some(raw) if raw.get().starts_with('{') => serde_json::from_str(raw.get()).ok()?,
        Some(raw) if raw.get() == "null" => None,
        Some(_) => return None,
        None => None,
    };
    let name = meta.as_ref().and_then(|m| m.name.as_deref());
    let namespace = meta.as_ref().and_then(|m| m.namespace.as_deref());
    if may_be_relevant(kind.as_deref().unwrap_or(""), name, namespace) {
        return None;
    }
    let mut stub = Map::new();
    if let Some(k) = kind {
        stub.insert("kind".into(), Value::String(k.into_owned()));
    }
    if let Some(m) = meta {
        let mut md = Map::new();
        for (key, v) in [
            ("name", m.name),
            ("namespace", m.namespace),
            ("generateName", m.generate_name),
        ] {
            if let Some(v) = v {
                md.insert(key.into(), Value::String(v.into_owned()));
            }
        }
        stub.insert("metadata".into(), Value::Object(md));
    }
    Some(Value::Object(stub))
}

#[cfg(test)]
#[path = "lean_tests.rs"]
mod tests;
