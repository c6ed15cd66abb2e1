//! How k3s and RKE2 turn configuration files into component flags, as their code does it
//! (k3s `pkg/configfilearg/parser.go` and `pkg/util/args.go`), in two steps:
//!
//! 1. **Files** (`merge`): `config.yaml`, then `config.yaml.d/*.yaml|*.yml` in name order. A key
//!    written again replaces its value, lists included; a key written with a `+` suffix appends
//!    to the value so far (a string or scalar counts as a one-item list, an empty scalar as none).
//!    Keys keep the order in which they were first seen.
//! 2. **Flags** (`component_args`): each `-arg` item is `name=value` (`true` without `=`). An item
//!    replaces the distribution's own value of that flag; `name+=value` keeps the distribution's
//!    value and adds this one after it, `name-=value` before it. Repeated items all reach the
//!    component, in order, where pflag's last occurrence wins for a single-valued flag.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The merged configuration and where each part of it came from.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Merged {
    pub value: Map<String, Value>,
    /// key → for each item of the merged value (or the scalar): (file index, pointer there).
    pub items: BTreeMap<String, Vec<(usize, String)>>,
    /// key → (file index, key as written there) that last wrote it: new items go there.
    pub container: BTreeMap<String, (usize, String)>,
}

fn esc(t: &str) -> String {
    t.replace('~', "~0").replace('/', "~1")
}

/// k3s `toSlice`: a list as is, a string as one item, another scalar as its text unless empty.
fn to_slice(v: &Value, pointer: &str, file: usize) -> Vec<(Value, (usize, String))> {
    match v {
        Value::Array(list) => list
            .iter()
            .enumerate()
            .map(|(i, x)| (x.clone(), (file, format!("{pointer}/{i}"))))
            .collect(),
        Value::String(_) => vec![(v.clone(), (file, pointer.to_string()))],
        Value::Null => Vec::new(),
        other => {
            let text = super::scalar(other);
            if text.trim().is_empty() {
                Vec::new()
            } else {
                vec![(
                    Value::String(text.trim().to_string()),
                    (file, pointer.to_string()),
                )]
            }
        }
    }
}

/// Merge the files of one configuration, in the order k3s reads them.
pub fn merge(files: &[&Map<String, Value>]) -> Merged {
    let mut m = Merged::default();
    for (f, file) in files.iter().enumerate() {
        for (k, v) in file.iter() {
            let (base, append) = match k.strip_suffix('+') {
                Some(b) => (b.to_string(), true),
                None => (k.clone(), false),
            };
            let pointer = format!("/{}", esc(k));
            match m.value.get(&base) {
                Some(old) if append => {
                    let old_items = m.items.remove(&base).unwrap_or_default();
                    let kept: Vec<(Value, (usize, String))> = match old {
                        // The old list's items keep their own places.
                        Value::Array(list) => list.iter().cloned().zip(old_items).collect(),
                        other => to_slice(other, "", 0)
                            .into_iter()
                            .zip(old_items)
                            .map(|((x, _), p)| (x, p))
                            .collect(),
                    };
                    let all: Vec<_> = kept.into_iter().chain(to_slice(v, &pointer, f)).collect();
                    m.items
                        .insert(base.clone(), all.iter().map(|(_, p)| p.clone()).collect());
                    m.value.insert(
                        base.clone(),
                        Value::Array(all.into_iter().map(|(x, _)| x).collect()),
                    );
                }
                _ => {
                    let places = match v {
                        Value::Array(list) => (0..list.len())
                            .map(|i| (f, format!("{pointer}/{i}")))
                            .collect(),
                        Value::Null => Vec::new(),
                        _ => vec![(f, pointer.clone())],
                    };
                    m.items.insert(base.clone(), places);
                    m.value.insert(base.clone(), v.clone());
                }
            }
            m.container.insert(base, (f, k.clone()));
        }
    }
    m
}

/// One flag as the component receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: String,
    pub value: String,
    /// The item it came from (index into the items given); `None`: the distribution's own.
    pub item: Option<usize>,
}

/// k3s `GetArgs`: the distribution's flags (`defaults`) combined with the `-arg` items, sorted by
/// flag name, repeated flags in the order they take effect.
pub fn component_args(defaults: &[(&str, String)], items: &[String]) -> Vec<Arg> {
    let mut initial: BTreeMap<String, String> = defaults
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let mut multi: BTreeMap<String, Vec<Arg>> = BTreeMap::new();
    for (i, text) in items.iter().enumerate() {
        let body = text.strip_prefix("--").unwrap_or(text);
        let (arg, value) = body.split_once('=').unwrap_or((body, "true"));
        let name = arg.trim_end_matches(['-', '+']).to_string();
        let this = Arg {
            name: name.clone(),
            value: value.to_string(),
            item: Some(i),
        };
        let default = initial.remove(&name).map(|v| Arg {
            name: name.clone(),
            value: v,
            item: None,
        });
        let existing = multi.remove(&name).unwrap_or_default();
        let values: Vec<Arg> = if arg.ends_with('+') {
            default.into_iter().chain(existing).chain([this]).collect()
        } else if arg.ends_with('-') {
            [this].into_iter().chain(default).chain(existing).collect()
        } else {
            existing.into_iter().chain([this]).collect()
        };
        multi.insert(name, values);
    }
    for (name, value) in initial {
        multi.insert(
            name.clone(),
            vec![Arg {
                name,
                value,
                item: None,
            }],
        );
    }
    multi.into_values().flatten().collect()
}

#[cfg(test)]
#[path = "k3s_args_tests.rs"]
mod tests;
