//! [`pod_object`](super::pod_object) over the quick cursor (`json_cursor`): the same pruned
//! `Value`, without serde_json's visitor calls for every member skipped. Kept strings are
//! decoded by the cursor, or by serde_json where they hold a `\u` escape; kept numbers are
//! converted by serde_json from their text; so each kept value is the one serde_json builds.
//! What the cursor is not sure of is `Unsure`, and the caller reads the object with serde_json
//! instead.

use super::Shape::{Containers, Items, Members, Remediation, Volumes};
use super::{CONFIG_MAP, CONTAINER, Keep, OBJECT, Reads};
use crate::engine::read::component;
use crate::engine::read::json_cursor::{Cursor, Read, Unsure, deeper};
use serde_json::{Map, Number, Value};

/// A Pod or workload object with the members the engine reads, and those `reads` names.
pub fn pod_object(c: &mut Cursor<'_>, reads: Reads) -> Read<Value> {
    keep(c, Keep(OBJECT, reads))
}

/// A kubelet-config or kubeadm-config ConfigMap with the members the engine reads.
pub fn config_map_object(c: &mut Cursor<'_>) -> Read<Value> {
    keep(c, Keep(CONFIG_MAP, Reads::patch(true)))
}

fn keep(c: &mut Cursor<'_>, Keep(shape, reads): Keep) -> Read<Value> {
    match (shape, c.peek()?) {
        (Remediation(shape) | Volumes(shape), _) => keep(c, Keep(*shape, reads)),
        (Members(members), b'{') => {
            // Sized for every member kept: growing the map re-hashes it.
            let mut out = Map::with_capacity(members.len());
            let mut key = c.first_key()?;
            while let Some(k) = key {
                match members.iter().find(|(name, _)| *name == k) {
                    Some((_, shape)) if !reads.keeps(*shape) => c.skip()?,
                    // A repeated key replaces the earlier value, as in serde_json's `Value`.
                    Some((_, shape)) => {
                        let value = keep(c, Keep(*shape, reads))?;
                        out.insert(k.to_owned(), value);
                    }
                    None => c.skip()?,
                }
                key = c.next_key()?;
            }
            Ok(Value::Object(out))
        }
        (Containers, b'[') => {
            let mut out = Vec::new();
            let mut more = c.first_item()?;
            while more {
                let start = c.index();
                // The first container may be the pod's only one: always built.
                if out.is_empty() || may_run(c) {
                    c.rewind(start);
                    out.push(keep(c, Keep(CONTAINER, reads))?);
                } else {
                    out.push(Value::Null);
                }
                more = c.next_item()?;
            }
            Ok(Value::Array(out))
        }
        (Items(item), b'[') => {
            let mut out = Vec::new();
            let mut more = c.first_item()?;
            while more {
                out.push(keep(c, Keep(*item, reads))?);
                more = c.next_item()?;
            }
            Ok(Value::Array(out))
        }
        // Everything else, a member of an unexpected type included, is kept whole.
        _ => whole(c, 0),
    }
}

/// The value next, built as serde_json builds it.
fn whole(c: &mut Cursor<'_>, depth: usize) -> Read<Value> {
    match c.peek()? {
        b'"' => string(c).map(Value::String),
        b'{' => {
            let depth = deeper(depth)?;
            let mut out = Map::new();
            let mut key = c.first_key()?;
            while let Some(k) = key {
                let value = whole(c, depth)?;
                out.insert(k.to_owned(), value);
                key = c.next_key()?;
            }
            Ok(Value::Object(out))
        }
        b'[' => {
            let depth = deeper(depth)?;
            let mut out = Vec::new();
            let mut more = c.first_item()?;
            while more {
                out.push(whole(c, depth)?);
                more = c.next_item()?;
            }
            Ok(Value::Array(out))
        }
        b't' | b'f' => c.boolean().map(Value::Bool),
        b'n' => c.null().map(|()| Value::Null),
        _ => {
            let text = c.number_json()?;
            text.parse::<Number>()
                .map(Value::Number)
                .map_err(|_| Unsure)
        }
    }
}

/// Read the container next and say whether it may run a component (`component::may_run`).
/// `true` for whatever it does not read plainly (an escape, `null`, another type, a repeated
/// member, a JSON error): the caller then builds the container from where it started.
fn may_run(c: &mut Cursor<'_>) -> bool {
    words(c).is_none_or(|w| {
        let first = match w.command {
            Some(Some(first)) => Some(first),
            _ => w.args.flatten(),
        };
        component::may_run(first, w.image.unwrap_or(""), w.name, w.command.is_some())
    })
}

/// What `component::may_run` reads of a container; a list's member is `Some(None)` when empty.
#[derive(Default)]
struct Words<'j> {
    name: Option<&'j str>,
    image: Option<&'j str>,
    command: Option<Option<&'j str>>,
    args: Option<Option<&'j str>>,
}

fn words<'j>(c: &mut Cursor<'j>) -> Option<Words<'j>> {
    fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
        slot.replace(value).is_none().then_some(())
    }
    let mut w = Words::default();
    let mut key = c.first_key().ok()?;
    while let Some(k) = key {
        match k {
            "name" => once(&mut w.name, c.string().ok()?)?,
            "image" => once(&mut w.image, c.string().ok()?)?,
            "command" => once(&mut w.command, first_word(c).ok()?)?,
            "args" => once(&mut w.args, first_word(c).ok()?)?,
            _ => c.skip().ok()?,
        }
        key = c.next_key().ok()?;
    }
    Some(w)
}

/// The first word of the list next (`None`: it is empty); the rest is skipped.
fn first_word<'j>(c: &mut Cursor<'j>) -> Read<Option<&'j str>> {
    if !c.first_item()? {
        return Ok(None);
    }
    let first = c.string()?;
    while c.next_item()? {
        c.skip()?;
    }
    Ok(Some(first))
}

/// A string value, decoded.
fn string(c: &mut Cursor<'_>) -> Read<String> {
    // Most escapes are one character (a kubelet-config's `\n`s): decoded here, in one pass;
    // serde_json decodes the rest from the string's JSON text.
    let start = c.index();
    if let Ok(s) = c.decoded_string() {
        return Ok(s);
    }
    c.rewind(start);
    let (json, escaped) = c.string_json()?;
    if escaped {
        return serde_json::from_str(json).map_err(|_| Unsure);
    }
    json.get(1..json.len().saturating_sub(1))
        .map(str::to_owned)
        .ok_or(Unsure)
}

#[cfg(test)]
#[path = "pruned_quick_tests.rs"]
mod tests;
