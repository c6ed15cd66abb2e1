//! Flags on a container's command line: set, flip a gate in place, or append where the
//! component's flags already are (a list item, or a word of a shell line).

use super::ops::{add, replace};
use super::volumes::{Added, mount_paths};
use super::{Remediation, note_fixed, wanted_flags};
use crate::engine::policy::Policy;
use crate::engine::read::component::{Insert, Invocation};
use crate::engine::read::flags::{Flags, Origin};
use crate::engine::read::shell;
use crate::engine::read::tree::Node;
use crate::engine::rules::{FLAG_GATE_FIX, GATE, GATES_FLAG, ROTATE_FLAG, RuleId};
use json_patch::PatchOperation;
use serde_json::json;
use std::collections::BTreeMap;

/// The operations that set the flags `rules` need on one container, with the mounts their
/// paths need (and the volumes, recorded in `added`).
pub(super) fn container<N: Node>(
    obj: &N,
    pointer: &str,
    invocation: &Invocation,
    rules: &[RuleId],
    policy: &Policy,
    added: &mut Added,
    out: &mut Remediation,
) -> Vec<PatchOperation> {
    let mut ops = Vec::new();
    let mut edits = FlagEdits::new(&invocation.flags);
    // Directories this plan already mounts: a second rule must not mount them again.
    let mut planned: Vec<String> = Vec::new();
    // `{spec}/containers/{i}` (`read::subjects`): split at its last `/`, which a byte search
    // finds; a string pattern sets up a two-way searcher.
    let spec = pointer
        .rsplit_once('/')
        .and_then(|(list, _)| list.strip_suffix("/containers"))
        .unwrap_or("");
    for rule in rules {
        let wanted = wanted_flags(*rule, policy);
        let paths: Vec<&str> = wanted
            .iter()
            .filter(|(_, v)| v.starts_with('/'))
            .map(|(_, v)| v.as_str())
            .collect();
        if matches!(
            rule,
            RuleId::ApiserverKubeletCa | RuleId::ApiserverKubeletClientCert
        ) {
            match mount_paths(obj, spec, pointer, &paths, policy, &mut planned, added) {
                Ok(mounts) => ops.extend(mounts),
                Err(reason) => {
                    out.not_remediable.push((*rule, reason));
                    continue;
                }
            }
        }
        for (flag, value) in wanted {
            match flag {
                GATES_FLAG => edits.gate(),
                ROTATE_FLAG => edits.set(flag, "true"),
                _ => {
                    // Keep a pair flag that is already set.
                    if invocation.flags.value(flag).is_none() {
                        edits.set(flag, &value)
                    }
                }
            }
        }
        note_fixed(*rule, out);
    }
    ops.extend(edits.into_ops(obj, pointer, &invocation.insert));
    ops
}

/// New text for a byte range of a string.
type SpanEdit = (std::ops::Range<usize>, String);

/// Edits to the words of one invocation, rendered as list or shell-line operations.
pub(super) struct FlagEdits<'a> {
    flags: &'a Flags<'a>,
    /// Token index → its new text.
    pub(super) replaced: BTreeMap<usize, String>,
    appended: Vec<String>,
}

impl<'a> FlagEdits<'a> {
    pub(super) fn new(flags: &'a Flags) -> Self {
        FlagEdits {
            flags,
            replaced: BTreeMap::new(),
            appended: Vec::new(),
        }
    }

    /// Give `flag` the value `value`: in place where it stands (empty or false), else appended.
    pub(super) fn set(&mut self, flag: &str, value: &str) {
        match self.flags.last(flag) {
            Some(o) => match o.value_token {
                Some(v) => {
                    self.replaced.insert(v, value.to_string());
                }
                None => {
                    self.replaced.insert(o.token, flag_word(flag, value));
                }
            },
            None => self.appended.push(flag_word(flag, value)),
        }
    }

    /// Turn the rotation gate on in `--feature-gates`, keeping the other gates.
    pub(super) fn gate(&mut self) {
        let gates = self.flags.feature_gates();
        let target = match gates.get(GATE) {
            Some(g) => Some(g.occurrence),
            None => self.flags.last_index(GATES_FLAG),
        };
        let Some(n) = target else {
            self.appended.push(FLAG_GATE_FIX.to_string());
            return;
        };
        let occ = &self.flags.occurrences[n];
        let value = with_gate(self.flags.value_of(occ).unwrap_or(""), self.flags, n);
        match occ.value_token {
            Some(v) => self.replaced.insert(v, value),
            None => self
                .replaced
                .insert(occ.token, format!("--feature-gates={value}")),
        };
    }

    pub(super) fn into_ops<N: Node>(
        self,
        obj: &N,
        container: &str,
        insert: &Insert,
    ) -> Vec<PatchOperation> {
        let mut ops = Vec::new();
        // Shell lines: every edit to one line becomes one replace of that line.
        let mut lines: BTreeMap<(&'static str, usize), Vec<SpanEdit>> = BTreeMap::new();
        for (i, text) in &self.replaced {
            match self.flags.tokens.get(*i).map(|t| &t.origin) {
                Some(Origin::Item { list, index }) => {
                    ops.push(replace(&item(container, list.key(), *index), json!(text)));
                }
                Some(Origin::ShellWord { list, index, span }) => lines
                    .entry((list.key(), *index))
                    .or_default()
                    .push((span.clone(), shell::quote(text))),
                _ => {}
            }
        }
        if !self.appended.is_empty() {
            match insert {
                Insert::Shell { list, index, at } => {
                    let words: Vec<String> =
                        self.appended.iter().map(|w| shell::quote(w)).collect();
                    lines
                        .entry((list.key(), *index))
                        .or_default()
                        .push((*at..*at, format!(" {}", words.join(" "))));
                }
                Insert::List {
                    list,
                    index,
                    at_end,
                } => {
                    let base = [container, "/", list.key()].concat();
                    if obj.at(&base).is_none() {
                        ops.push(add(&base, json!(self.appended)));
                    } else {
                        for (k, w) in self.appended.iter().enumerate() {
                            let pointer = if *at_end {
                                [base.as_str(), "/-"].concat()
                            } else {
                                item(container, list.key(), index + k)
                            };
                            ops.push(add(&pointer, json!(w)));
                        }
                    }
                }
            }
        }
        for ((list, index), mut edits) in lines {
            let pointer = item(container, list, index);
            let Some(mut line) = obj.at(&pointer).and_then(Node::text).map(str::to_string) else {
                continue;
            };
            // Apply from the end so earlier spans stay valid.
            edits.sort_by(|a, b| b.0.start.cmp(&a.0.start).then(b.0.end.cmp(&a.0.end)));
            for (span, text) in edits {
                if span.end <= line.len()
                    && line.is_char_boundary(span.start)
                    && line.is_char_boundary(span.end)
                {
                    line.replace_range(span, &text);
                }
            }
            ops.push(replace(&pointer, json!(line)));
        }
        ops
    }
}

/// `value` (a `--feature-gates` value) with the gate set to true: flipped where it is set, else appended.
pub(super) fn with_gate(value: &str, flags: &Flags, occurrence: usize) -> String {
    let gates = flags.feature_gates();
    match gates.get(GATE) {
        Some(g) if g.occurrence == occurrence => {
            let mut s = value.to_string();
            if g.span.end <= s.len() {
                s.replace_range(g.span.clone(), &format!("{GATE}=true"));
            }
            s
        }
        _ if value.trim().is_empty() => format!("{GATE}=true"),
        _ if value.trim_end().ends_with(',') => format!("{value}{GATE}=true"),
        _ => format!("{value},{GATE}=true"),
    }
}

/// `--{flag}={value}`, joined: this runs for each flag a patch sets.
fn flag_word(flag: &str, value: &str) -> String {
    ["--", flag, "=", value].concat()
}

/// `{container}/{list}/{index}`: the pointer to one word of a container's list.
fn item(container: &str, list: &str, index: usize) -> String {
    let mut i = itoa::Buffer::new();
    [container, "/", list, "/", i.format(index)].concat()
}
