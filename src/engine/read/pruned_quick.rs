//! [`pod_object`](super::pod_object) over the quick cursor (`json_cursor`): the same pruned
//! `Value`, without serde_json's visitor calls for every member skipped. Kept strings are
//! decoded by the cursor, or by serde_json where they hold a `\u` escape; kept numbers are
//! converted by serde_json from their text; so each kept value is the one serde_json builds.
//! What the cursor is not sure of is `Unsure`, and the caller reads the object with serde_json
//! instead. The same walk builds a borrowed [`Tree`] of the same members (`pod_tree`).

use super::Shape::{Containers, Items, Members, Remediation, Volumes};
use super::{CONFIG_MAP, CONTAINER, Keep, OBJECT, Reads};
use crate::engine::read::component;
use crate::engine::read::json_cursor::{Cursor, Read, Unsure, deeper};
use crate::engine::read::tree::Tree;
use serde_json::{Map, Number, Value};
use std::borrow::Cow;

/// A Pod or workload object with the members the engine reads, and those `reads` names.
pub fn pod_object(c: &mut Cursor<'_>, reads: Reads) -> Read<Value> {
    keep(c, Keep(OBJECT, reads))
}

/// What [`pod_object`] keeps of a pod, and those `reads` names, borrowed from the text.
pub fn pod_tree<'j>(c: &mut Cursor<'j>, reads: Reads) -> Read<Tree<'j>> {
    keep(c, Keep(OBJECT, reads))
}

/// A kubelet-config or kubeadm-config ConfigMap with the members the engine reads.
pub fn config_map_object(c: &mut Cursor<'_>) -> Read<Value> {
    keep(c, Keep(CONFIG_MAP, Reads::patch(true)))
}

/// What the walk builds of the values it keeps: serde_json's `Value`, or a borrowed [`Tree`].
/// Each step is inlined into the walk, as it was written there before the walk built both.
trait Out<'j>: Sized {
    type Members;
    fn map(capacity: usize) -> Self::Members;
    fn insert(map: &mut Self::Members, key: &'j str, value: Self);
    fn from_map(map: Self::Members) -> Self;
    fn list(items: Vec<Self>) -> Self;
    fn string(c: &mut Cursor<'j>) -> Read<Self>;
    /// A number, from its checked text: `Unsure` where serde_json would refuse it.
    fn number(text: &'j str) -> Read<Self>;
    fn boolean(b: bool) -> Self;
    fn null() -> Self;
}

impl<'j> Out<'j> for Value {
    type Members = Map<String, Value>;
    #[inline(always)]
    fn map(capacity: usize) -> Self::Members {
        Map::with_capacity(capacity)
    }
    #[inline(always)]
    fn insert(map: &mut Self::Members, key: &'j str, value: Self) {
        // A repeated key replaces the earlier value, as in serde_json's `Value`.
        map.insert(key.to_owned(), value);
    }
    #[inline(always)]
    fn from_map(map: Self::Members) -> Self {
        Value::Object(map)
    }
    #[inline(always)]
    fn list(items: Vec<Self>) -> Self {
        Value::Array(items)
    }
    #[inline(always)]
    fn string(c: &mut Cursor<'j>) -> Read<Self> {
        string(c).map(Value::String)
    }
    #[inline(always)]
    fn number(text: &'j str) -> Read<Self> {
        text.parse::<Number>()
            .map(Value::Number)
            .map_err(|_| Unsure)
    }
    #[inline(always)]
    fn boolean(b: bool) -> Self {
        Value::Bool(b)
    }
    #[inline(always)]
    fn null() -> Self {
        Value::Null
    }
}

impl<'j> Out<'j> for Tree<'j> {
    type Members = Vec<(&'j str, Tree<'j>)>;
    #[inline(always)]
    fn map(capacity: usize) -> Self::Members {
        Vec::with_capacity(capacity)
    }
    #[inline(always)]
    fn insert(map: &mut Self::Members, key: &'j str, value: Self) {
        // Kept twice when repeated: `Node::member` finds the last, as the `Value` keeps it.
        map.push((key, value));
    }
    #[inline(always)]
    fn from_map(map: Self::Members) -> Self {
        Tree::Map(map)
    }
    #[inline(always)]
    fn list(items: Vec<Self>) -> Self {
        Tree::List(items)
    }
    #[inline(always)]
    fn string(c: &mut Cursor<'j>) -> Read<Self> {
        let start = c.index();
        if let Ok(s) = c.string() {
            return Ok(Tree::Str(Cow::Borrowed(s)));
        }
        c.rewind(start);
        string(c).map(|s| Tree::Str(Cow::Owned(s)))
    }
    #[inline(always)]
    fn number(text: &'j str) -> Read<Self> {
        text.parse::<Number>()
            .map(|_| Tree::Other)
            .map_err(|_| Unsure)
    }
    #[inline(always)]
    fn boolean(_: bool) -> Self {
        Tree::Other
    }
    #[inline(always)]
    fn null() -> Self {
        Tree::Other
    }
}

/// The room a list starts with. A pod's lists are mounts, volumes and the words of a command
/// (a control-plane component's thirty-odd flags): grown from empty, the command list was
/// reallocated five times, some 900 instructions an answer; a list of sixteen is one small
/// allocation all the same.
const LIST: usize = 16;

fn keep<'j, O: Out<'j>>(c: &mut Cursor<'j>, Keep(shape, reads): Keep) -> Read<O> {
    match (shape, c.peek()?) {
        (Remediation(shape) | Volumes(shape), _) => keep(c, Keep(*shape, reads)),
        (Members(members), b'{') => {
            // Sized for every member kept: growing the map re-hashes it.
            let mut out = O::map(members.len());
            let mut key = c.first_key()?;
            while let Some(k) = key {
                match members.iter().find(|(name, _)| *name == k) {
                    Some((_, shape)) if !reads.keeps(*shape) => c.skip()?,
                    Some((_, shape)) => {
                        let value = keep(c, Keep(*shape, reads))?;
                        O::insert(&mut out, k, value);
                    }
                    None => c.skip()?,
                }
                key = c.next_key()?;
            }
            Ok(O::from_map(out))
        }
        (Containers, b'[') => {
            let mut out = Vec::with_capacity(LIST);
            let mut more = c.first_item()?;
            while more {
                let start = c.index();
                // The first container may be the pod's only one: always built.
                if out.is_empty() || may_run(c) {
                    c.rewind(start);
                    out.push(keep(c, Keep(CONTAINER, reads))?);
                } else {
                    out.push(O::null());
                }
                more = c.next_item()?;
            }
            Ok(O::list(out))
        }
        (Items(item), b'[') => {
            let mut out = Vec::with_capacity(LIST);
            let mut more = c.first_item()?;
            while more {
                out.push(keep(c, Keep(*item, reads))?);
                more = c.next_item()?;
            }
            Ok(O::list(out))
        }
        // Everything else, a member of an unexpected type included, is kept whole.
        _ => whole(c, 0),
    }
}

/// The value next, built as serde_json builds it.
fn whole<'j, O: Out<'j>>(c: &mut Cursor<'j>, depth: usize) -> Read<O> {
    match c.peek()? {
        b'"' => O::string(c),
        b'{' => {
            let depth = deeper(depth)?;
            let mut out = O::map(0);
            let mut key = c.first_key()?;
            while let Some(k) = key {
                let value = whole(c, depth)?;
                O::insert(&mut out, k, value);
                key = c.next_key()?;
            }
            Ok(O::from_map(out))
        }
        b'[' => {
            let depth = deeper(depth)?;
            let mut out = Vec::with_capacity(LIST);
            let mut more = c.first_item()?;
            while more {
                out.push(whole(c, depth)?);
                more = c.next_item()?;
            }
            Ok(O::list(out))
        }
        b't' | b'f' => c.boolean().map(O::boolean),
        b'n' => c.null().map(|()| O::null()),
        _ => O::number(c.number_json()?),
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
