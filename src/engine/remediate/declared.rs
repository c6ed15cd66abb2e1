//! Fixes in a declared source's own form (DESIGN.md section 11): a map gets a key, a list of
//! `{name, value}` an item, a k3s list a `name=value` item, a Kamaji list a `--name=value` item;
//! an entry that is empty or false is changed where it stands; a KubeletConfiguration field is
//! set where the source declares one. Containers that do not exist yet are created with their
//! parents. Inside kind's patches the embedded document is edited (its text, by `Plan::finish`).

use super::argv::with_gate;
use super::nested::{add_nested, set_path};
use super::ops::{add, esc, replace};
use super::volumes::covered;
use super::{Remediation, note_fixed, wanted_flags};
use crate::engine::policy::Policy;
use crate::engine::read::at::At;
use crate::engine::read::sources::{ArgOrigin, Declared, Distro, Doc, Form, Insert};
use crate::engine::read::subjects::parse_embedded;
use crate::engine::rules::{CONFIG_BOOTSTRAP, CONFIG_GATES, GATE, GATES_FLAG, ROTATE_FLAG, RuleId};
use json_patch::PatchOperation;
use serde_json::{Value, json};

/// A change waiting for `finish`, which computes it against the document as changed so far
/// (two new entries under one missing parent must not each create the parent).
#[derive(Debug, Clone)]
enum Pending {
    /// An operation on an entry that exists.
    Op(PatchOperation),
    /// A new entry in the container at `pointer`.
    Entry {
        pointer: String,
        form: Form,
        flag: String,
        value: String,
    },
    /// A field (`path` below the object at `pointer`) set to `value`.
    Field {
        pointer: String,
        path: Vec<String>,
        value: Value,
    },
}

/// Everything the declared subjects of one object want changed.
#[derive(Debug, Default)]
pub(super) struct Pendings {
    by_doc: Vec<(Doc, Pending)>,
    /// New kind patches: kind → (path, value) to set in it.
    kind_patches: Vec<(&'static str, Vec<String>, Value)>,
}

impl Pendings {
    fn push(&mut self, doc: &Doc, p: Pending) {
        self.by_doc.push((doc.clone(), p));
    }

    /// The operations, per document (`None`: the object itself), in order.
    pub(super) fn finish(self, obj: &Value) -> Vec<(Doc, Vec<PatchOperation>)> {
        // (document, working copy, operations)
        let mut docs: Vec<(Doc, Value, Vec<PatchOperation>)> = Vec::new();
        let slot = |docs: &mut Vec<(Doc, Value, Vec<PatchOperation>)>, doc: &Doc| {
            if let Some(i) = docs.iter().position(|(d, ..)| d == doc) {
                return Some(i);
            }
            let base = match doc {
                None => obj.clone(),
                Some(ptr) => obj
                    .at(ptr)
                    .and_then(Value::as_str)
                    .and_then(|t| parse_embedded(t).ok())?,
            };
            docs.push((doc.clone(), base, Vec::new()));
            Some(docs.len() - 1)
        };
        for (doc, p) in self.by_doc {
            let Some(i) = slot(&mut docs, &doc) else {
                continue;
            };
            let (_, working, ops) = &mut docs[i];
            for op in realise(working, p) {
                if json_patch::patch(working, std::slice::from_ref(&op)).is_ok() {
                    ops.push(op);
                }
            }
        }
        // New kind patches: one document per kind, appended to kubeadmConfigPatches.
        let mut texts: Vec<(&str, Value)> = Vec::new();
        for (kind, path, value) in self.kind_patches {
            let i = match texts.iter().position(|(k, _)| *k == kind) {
                Some(i) => i,
                None => {
                    texts.push((kind, json!({"kind": kind})));
                    texts.len() - 1
                }
            };
            set_path(&mut texts[i].1, &path, value);
        }
        if !texts.is_empty()
            && let Some(i) = slot(&mut docs, &None)
        {
            let items: Vec<Value> = texts
                .iter()
                .filter_map(|(_, v)| serde_yaml_ng::to_string(v).ok().map(Value::String))
                .collect();
            let (_, working, ops) = &mut docs[i];
            let new = match working.get("kubeadmConfigPatches") {
                Some(Value::Array(_)) => items
                    .into_iter()
                    .map(|t| add("/kubeadmConfigPatches/-", t))
                    .collect(),
                _ => vec![add("/kubeadmConfigPatches", Value::Array(items))],
            };
            for op in new {
                if json_patch::patch(working, std::slice::from_ref(&op)).is_ok() {
                    ops.push(op);
                }
            }
        }
        docs.into_iter().map(|(doc, _, ops)| (doc, ops)).collect()
    }
}

fn item(form: Form, flag: &str, value: &str) -> Value {
    match form {
        Form::NameValue => json!({"name": flag, "value": value}),
        Form::FlagItem => json!(format!("{flag}={value}")),
        Form::DashedItem => json!(format!("--{flag}={value}")),
        _ => json!(value),
    }
}

fn realise(working: &Value, p: Pending) -> Vec<PatchOperation> {
    match p {
        Pending::Op(op) => vec![op],
        Pending::Entry {
            pointer,
            form,
            flag,
            value,
        } => match working.at(&pointer) {
            Some(Value::Array(_)) => vec![add(&format!("{pointer}/-"), item(form, &flag, &value))],
            Some(Value::Object(_)) => vec![add(&format!("{pointer}/{}", esc(&flag)), json!(value))],
            // A k3s key given one string: it becomes a list, the string first.
            Some(Value::String(s)) if form == Form::FlagItem => {
                vec![replace(&pointer, json!([s, item(form, &flag, &value)]))]
            }
            _ => {
                let fresh = match form {
                    Form::Map => json!({ flag: value }),
                    f => json!([item(f, &flag, &value)]),
                };
                vec![add_nested(working, &pointer, fresh)]
            }
        },
        Pending::Field {
            pointer,
            path,
            value,
        } => {
            let full = format!(
                "{pointer}/{}",
                path.iter().map(|p| esc(p)).collect::<Vec<_>>().join("/")
            );
            match working.at(&full) {
                Some(_) => vec![replace(&full, value)],
                None => vec![add_nested(working, &full, value)],
            }
        }
    }
}

/// The operation that gives the entry a token came from the value `value` for `flag`.
fn entry_op(
    working_entry: Option<&Value>,
    pointer: &str,
    form: Form,
    flag: &str,
    value: &str,
) -> PatchOperation {
    match form {
        Form::Map | Form::ListValue => replace(pointer, json!(value)),
        Form::NameValue if working_entry.and_then(|e| e.get("value")).is_some() => {
            replace(&format!("{pointer}/value"), json!(value))
        }
        Form::NameValue => add(&format!("{pointer}/value"), json!(value)),
        // The name as written stays: a k3s `name+=`/`name-=` item keeps its place relative to
        // the distribution's own value.
        Form::FlagItem => {
            let written = working_entry
                .and_then(Value::as_str)
                .and_then(|t| t.split_once('='))
                .map(|(n, _)| n)
                .filter(|n| n.trim_start_matches('-').trim_end_matches(['-', '+']) == flag);
            let name = written.unwrap_or(flag);
            replace(pointer, json!(format!("{name}={value}")))
        }
        Form::DashedItem => replace(pointer, json!(format!("--{flag}={value}"))),
        // kind's featureGates holds the gate itself.
        Form::KindGate => replace(pointer, json!(true)),
    }
}

/// Collect what fixes `rules` for one declared subject.
pub(super) fn subject(
    obj: &Value,
    d: &Declared,
    rules: &[RuleId],
    policy: &Policy,
    pend: &mut Pendings,
    out: &mut Remediation,
) {
    // Set `flag` where its last written occurrence stands, else as a new entry.
    let set_flag = |pend: &mut Pendings, flag: &str, value: &str| match d
        .flags
        .last(flag)
        .and_then(|o| d.origins.get(o.token))
    {
        Some(origin @ ArgOrigin::Entry { .. }) => put(obj, pend, origin, flag, value),
        _ => new_flag(d, pend, flag, value),
    };
    for &rule in rules {
        match rule {
            // Live only (scan): nothing in a declaration to change.
            RuleId::KubeletServingCertVerified => continue,
            RuleId::ApiserverKubeletCa | RuleId::ApiserverKubeletClientCert => {
                let wanted = wanted_flags(rule, policy);
                let missing: Vec<&(&str, String)> = wanted
                    .iter()
                    .filter(|(f, _)| d.flags.value(f).is_none())
                    .collect();
                if d.distro == Distro::K3s {
                    out.not_remediable.push((rule, format!(
                        "{} sets {} to an empty value: remove that item and k3s/RKE2 set it themselves",
                        d.args_name,
                        missing.iter().map(|(f, _)| format!("--{f}")).collect::<Vec<_>>().join(" and ")
                    )));
                    continue;
                }
                if let Some((_, outside)) = missing.iter().find(|(_, v)| !covered(v, &d.mounts)) {
                    out.not_remediable.push((rule, format!(
                        "{outside} is not under {} for {}: change remediation paths or mount it",
                        d.mounts.join(", "),
                        d.distro.name()
                    )));
                    continue;
                }
                for (flag, value) in missing {
                    set_flag(pend, flag, value);
                }
            }
            RuleId::ControllerManagerRotateKubeletServerCert => gate(obj, d, pend, false),
            RuleId::KubeletRotateServerCert => gate(obj, d, pend, true),
            RuleId::KubeletServerTlsBootstrap => {
                let on = d.flags.bool_value(ROTATE_FLAG) == Some(Ok(true))
                    || (d.flags.last(ROTATE_FLAG).is_none()
                        && config_field(d, &[CONFIG_BOOTSTRAP]) == Some(&Value::Bool(true)));
                if on {
                    // Already on: what stops this kubelet is the gate set to false.
                    if !rules.contains(&RuleId::KubeletRotateServerCert) {
                        gate(obj, d, pend, true);
                    }
                } else if d.flags.last(ROTATE_FLAG).is_some() {
                    set_flag(pend, ROTATE_FLAG, "true");
                } else if use_config(d, &[CONFIG_BOOTSTRAP]) {
                    set_config(d, pend, &[CONFIG_BOOTSTRAP], json!(true));
                } else {
                    new_flag(d, pend, ROTATE_FLAG, "true");
                }
            }
        }
        note_fixed(rule, out);
    }
}

/// Give the entry `origin` names the value `value` for `flag`.
fn put(obj: &Value, pend: &mut Pendings, origin: &ArgOrigin, flag: &str, value: &str) {
    let ArgOrigin::Entry { doc, pointer, form } = origin else {
        return;
    };
    let base = match doc {
        None => Some(obj.clone()),
        Some(p) => obj
            .at(p)
            .and_then(Value::as_str)
            .and_then(|t| parse_embedded(t).ok()),
    };
    let entry = base.as_ref().and_then(|v| v.at(pointer));
    pend.push(
        doc,
        Pending::Op(entry_op(entry, pointer, *form, flag, value)),
    );
}

fn config_field<'a>(d: &'a Declared, path: &[&str]) -> Option<&'a Value> {
    let mut v = &d.config.as_ref()?.value;
    for p in path {
        v = v.get(*p)?;
    }
    Some(v)
}

/// A KubeletConfiguration field goes into the declared configuration when the source prefers
/// that (kind) or already sets the field there.
fn use_config(d: &Declared, path: &[&str]) -> bool {
    d.config
        .as_ref()
        .is_some_and(|c| c.prefer || config_field(d, path).is_some())
}

fn set_config(d: &Declared, pend: &mut Pendings, path: &[&str], value: Value) {
    let Some(c) = &d.config else { return };
    let path: Vec<String> = path.iter().map(|p| p.to_string()).collect();
    match &c.at {
        Some((doc, pointer)) => pend.push(
            doc,
            Pending::Field {
                pointer: pointer.clone(),
                path,
                value,
            },
        ),
        None => pend
            .kind_patches
            .push(("KubeletConfiguration", path, value)),
    }
}

fn new_flag(d: &Declared, pend: &mut Pendings, flag: &str, value: &str) {
    match &d.insert {
        Insert::Container { doc, pointer, form } => pend.push(
            doc,
            Pending::Entry {
                pointer: pointer.clone(),
                form: *form,
                flag: flag.to_string(),
                value: value.to_string(),
            },
        ),
        Insert::KindPatch { kind, path } => {
            let mut p: Vec<String> = path.iter().map(|s| s.to_string()).collect();
            p.push(flag.to_string());
            pend.kind_patches.push((kind, p, json!(value)));
        }
    }
}

/// Turn the rotation gate on: where a flag sets it, in the declared configuration, in an
/// existing `--feature-gates`, or as a new entry, in that order.
fn gate(obj: &Value, d: &Declared, pend: &mut Pendings, kubelet: bool) {
    let gates = d.flags.feature_gates();
    let written = |n: usize| {
        d.flags
            .occurrences
            .get(n)
            .and_then(|o| d.origins.get(o.token))
            .is_some_and(|o| *o != ArgOrigin::Default)
    };
    if let Some(g) = gates.get(GATE).filter(|g| written(g.occurrence)) {
        let occ = &d.flags.occurrences[g.occurrence];
        if let Some(origin) = d.origins.get(occ.token) {
            let value = with_gate(d.flags.value_of(occ).unwrap_or(""), &d.flags, g.occurrence);
            put(obj, pend, origin, GATES_FLAG, &value);
            return;
        }
    }
    if kubelet && use_config(d, &[CONFIG_GATES, GATE]) {
        set_config(d, pend, &[CONFIG_GATES, GATE], json!(true));
        return;
    }
    match d.flags.last_index(GATES_FLAG) {
        Some(n) if written(n) => {
            let occ = &d.flags.occurrences[n];
            let value = with_gate(d.flags.value_of(occ).unwrap_or(""), &d.flags, n);
            if let Some(origin) = d.origins.get(occ.token) {
                put(obj, pend, origin, GATES_FLAG, &value);
            }
        }
        _ => new_flag(d, pend, GATES_FLAG, &format!("{GATE}=true")),
    }
}
