//! kubeadm ClusterConfiguration extraArgs, in the form the document already uses (v1beta3 map,
//! v1beta4 list of `{name, value}`).

use super::argv::with_gate;
use super::ops::{add, esc, replace};
use super::volumes::{covered, kubeadm_mounts};
use super::{Remediation, note_fixed, wanted_flags};
use crate::engine::policy::Policy;
use crate::engine::read::at::At;
use crate::engine::read::subjects::KubeadmArgs;
use crate::engine::rules::{CERT_FLAG, GATES_FLAG, KEY_FLAG, RuleId};
use json_patch::PatchOperation;
use serde_json::{Value, json};

/// The operations on the ClusterConfiguration that make `rules` pass for one component.
pub(super) fn extra_args(
    k: &KubeadmArgs,
    rules: &[RuleId],
    policy: &Policy,
    out: &mut Remediation,
) -> Vec<PatchOperation> {
    let mut ops = Vec::new();
    for rule in rules {
        let wanted = wanted_flags(*rule, policy);
        let dir = k
            .config
            .member("certificatesDir")
            .and_then(Value::as_str)
            .unwrap_or("/etc/kubernetes/pki");
        if let Some((_, outside)) = wanted
            .iter()
            .find(|(f, v)| *f != GATES_FLAG && !covered(v, &kubeadm_mounts(k, dir)))
        {
            out.not_remediable.push((
                *rule,
                format!("{outside} is outside certificatesDir {dir} and apiServer.extraVolumes: change remediation paths or add an extraVolume"),
            ));
            continue;
        }
        for (flag, value) in wanted {
            if flag == GATES_FLAG {
                // The gate is flipped in place only in the occurrence that sets it.
                let last = k.flags.last_index(flag);
                let current = last.and_then(|i| k.flags.value_of(&k.flags.occurrences[i]));
                let new = with_gate(current.unwrap_or(""), &k.flags, last.unwrap_or(usize::MAX));
                set(k, flag, &new, &mut ops);
            } else if k.flags.value(flag).is_none()
                && !(k.flags.last(flag).is_none() && matches!(flag, CERT_FLAG | KEY_FLAG))
            {
                set(k, flag, &value, &mut ops);
            }
        }
        note_fixed(*rule, out);
    }
    ops
}

fn set(k: &KubeadmArgs, flag: &str, value: &str, ops: &mut Vec<PatchOperation>) {
    let section = k.section;
    let args = k.config.member(section).and_then(|s| s.member("extraArgs"));
    let entry = || {
        if k.list_form {
            json!([{"name": flag, "value": value}])
        } else {
            json!({flag: value})
        }
    };
    match args {
        Some(Value::Array(items)) => match items
            .iter()
            .rposition(|i| i.member("name").and_then(Value::as_str) == Some(flag))
        {
            // An entry without `value` (kubeadm reads it as empty) gets one: `replace` needs it.
            Some(i) if items[i].member("value").is_none() => ops.push(add(
                &format!("/{section}/extraArgs/{i}/value"),
                json!(value),
            )),
            Some(i) => ops.push(replace(
                &format!("/{section}/extraArgs/{i}/value"),
                json!(value),
            )),
            None => ops.push(add(
                &format!("/{section}/extraArgs/-"),
                json!({"name": flag, "value": value}),
            )),
        },
        Some(Value::Object(m)) if m.contains_key(flag) => ops.push(replace(
            &format!("/{section}/extraArgs/{}", esc(flag)),
            json!(value),
        )),
        Some(Value::Object(_)) => ops.push(add(
            &format!("/{section}/extraArgs/{}", esc(flag)),
            json!(value),
        )),
        Some(_) => ops.push(replace(&format!("/{section}/extraArgs"), entry())),
        None if k.config.member(section).is_some_and(Value::is_object) => {
            ops.push(add(&format!("/{section}/extraArgs"), entry()))
        }
        None => ops.push(add(&format!("/{section}"), json!({"extraArgs": entry()}))),
    }
}
