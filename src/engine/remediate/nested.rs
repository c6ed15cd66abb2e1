//! Building values at paths that may not exist yet: JSON Patch `add` needs the parent, so a
//! new container is added whole at its deepest existing ancestor.

use super::ops::{add, replace};
use json_patch::PatchOperation;
use serde_json::{Map, Value};

pub(super) fn set_path(v: &mut Value, path: &[String], value: Value) {
    let mut cur = v;
    for (i, k) in path.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Some(map) = cur.as_object_mut() else {
            return;
        };
        if i + 1 == path.len() {
            map.insert(k.clone(), value);
            return;
        }
        cur = map
            .entry(k.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// Build the value at `pointer` (whose parents may be missing) as one `add` or `replace` at the
/// deepest existing ancestor.
pub(super) fn add_nested(base: &Value, pointer: &str, value: Value) -> PatchOperation {
    let toks: Vec<&str> = pointer.split('/').skip(1).collect();
    let mut depth = 0;
    let mut cur = base;
    while depth < toks.len() {
        let t = toks[depth].replace("~1", "/").replace("~0", "~");
        match cur.get(&t) {
            Some(next) if next.is_object() && depth + 1 < toks.len() => {
                cur = next;
                depth += 1;
            }
            _ => break,
        }
    }
    // `toks[depth]` is missing (or not a map) in `cur`: build the rest below it.
    let mut v = value;
    for t in toks[depth + 1..].iter().rev() {
        let mut m = Map::new();
        m.insert(t.replace("~1", "/").replace("~0", "~"), v);
        v = Value::Object(m);
    }
    let at = format!(
        "/{}",
        toks[..=depth.min(toks.len().saturating_sub(1))].join("/")
    );
    let key = toks
        .get(depth)
        .map(|t| t.replace("~1", "/").replace("~0", "~"));
    match key.and_then(|k| cur.get(&k)) {
        Some(_) => replace(&at, v),
        None => add(&at, v),
    }
}
