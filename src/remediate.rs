//! RFC 6902 patches that make a subject pass (DESIGN.md section 3): explicit operations on the
//! object as received, touching only what must change. Flags go where the component's flags
//! already are; a gate set to false is flipped in place; embedded YAML is edited as text.

use crate::checks::{CA_FLAG, CERT_FLAG, GATE, KEY_FLAG, ROTATE_FLAG};
use crate::component::Insert;
use crate::engine::Remediation;
use crate::flags::{Flags, Origin};
use crate::policy::Policy;
use crate::rules::{Finding, RuleId};
use crate::shell;
use crate::subjects::{KubeadmArgs, Settings, Subject};
use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, PatchOperation, ReplaceOperation};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The warning every patch that adds the kubelet CA flag carries (kept under 256 characters).
pub const CA_WARNING: &str = "adding --kubelet-certificate-authority breaks kubectl logs/exec/port-forward unless every kubelet serves a certificate signed by that CA (serverTLSBootstrap: true + approved kubelet-serving CSRs)";

fn ptr(s: &str) -> PointerBuf {
    PointerBuf::parse(s).unwrap_or_default()
}

fn add(path: &str, value: Value) -> PatchOperation {
    PatchOperation::Add(AddOperation {
        path: ptr(path),
        value,
    })
}

fn replace(path: &str, value: Value) -> PatchOperation {
    PatchOperation::Replace(ReplaceOperation {
        path: ptr(path),
        value,
    })
}

/// Escape one JSON pointer token.
fn esc(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Operations collected across subjects; edits to one embedded document are applied together.
#[derive(Default)]
pub struct Plan {
    ops: Vec<PatchOperation>,
    embedded: BTreeMap<String, (Value, Vec<PatchOperation>)>,
}

impl Plan {
    /// Turn the plan into operations on `obj`. Embedded YAML is edited in place as text
    /// (comments kept); where that is impossible it is re-serialised.
    pub fn finish(self, obj: &Value, out: &mut Remediation) {
        out.patch.extend(self.ops);
        for (pointer, (inner, ops)) in self.embedded {
            let Some(text) = obj.pointer(&pointer).and_then(Value::as_str) else {
                continue;
            };
            let new_text = match edit_text(text, &ops) {
                Ok(t) => t,
                Err(_) => {
                    let mut v = inner;
                    if json_patch::patch(&mut v, &ops).is_err() {
                        continue;
                    }
                    match serde_yaml_ng::to_string(&v) {
                        Ok(t) => t,
                        Err(_) => continue,
                    }
                }
            };
            out.patch.push(replace(&pointer, Value::String(new_text)));
        }
    }
}

/// Add to `plan` the operations that fix `due` (the violations of `subject` that are selected).
pub fn subject(
    obj: &Value,
    subject: &Subject,
    due: &[&Finding],
    policy: &Policy,
    plan: &mut Plan,
    out: &mut Remediation,
) {
    let rules: Vec<RuleId> = due.iter().map(|f| f.rule).collect();
    match &subject.settings {
        Settings::Container {
            pointer,
            invocation,
        } => {
            let mut edits = FlagEdits::new(&invocation.flags);
            // Directories this plan already mounts: a second rule must not mount them again.
            let mut planned: Vec<String> = Vec::new();
            let spec = pointer.rsplit_once("/containers/").map_or("", |(s, _)| s);
            for rule in &rules {
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
                    match mount_paths(obj, spec, pointer, &paths, policy, &mut planned) {
                        Ok(ops) => plan.ops.extend(ops),
                        Err(reason) => {
                            out.not_remediable.push((*rule, reason));
                            continue;
                        }
                    }
                }
                for (flag, value) in wanted {
                    match flag {
                        "feature-gates" => edits.gate(),
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
            plan.ops
                .extend(edits.into_ops(obj, pointer, &invocation.insert));
        }
        Settings::KubeletConfig {
            embedded,
            config: Ok(cfg),
        } => {
            let mut ops = Vec::new();
            for rule in &rules {
                match rule {
                    RuleId::KubeletRotateServerCert => match cfg.get("featureGates") {
                        Some(Value::Object(g)) if g.contains_key(GATE) => {
                            ops.push(replace(&format!("/featureGates/{GATE}"), json!(true)))
                        }
                        Some(Value::Object(_)) => {
                            ops.push(add(&format!("/featureGates/{GATE}"), json!(true)))
                        }
                        Some(_) => ops.push(replace("/featureGates", json!({GATE: true}))),
                        None => ops.push(add("/featureGates", json!({GATE: true}))),
                    },
                    RuleId::KubeletServerTlsBootstrap => match cfg.get("serverTLSBootstrap") {
                        Some(_) => ops.push(replace("/serverTLSBootstrap", json!(true))),
                        None => ops.push(add("/serverTLSBootstrap", json!(true))),
                    },
                    _ => continue,
                }
                note_fixed(*rule, out);
            }
            stage(plan, embedded.as_deref(), cfg, ops);
        }
        Settings::KubeletConfig { config: Err(_), .. } => {}
        Settings::Kubeadm(k) => {
            let mut ops = Vec::new();
            for rule in &rules {
                let wanted = wanted_flags(*rule, policy);
                let dir = k
                    .config
                    .get("certificatesDir")
                    .and_then(Value::as_str)
                    .unwrap_or("/etc/kubernetes/pki");
                if let Some((_, outside)) = wanted
                    .iter()
                    .find(|(f, v)| *f != "feature-gates" && !covered(v, &kubeadm_mounts(k, dir)))
                {
                    out.not_remediable.push((
                        *rule,
                        format!("{outside} is outside certificatesDir {dir} and apiServer.extraVolumes: change remediation paths or add an extraVolume"),
                    ));
                    continue;
                }
                for (flag, value) in wanted {
                    if flag == "feature-gates" {
                        // The gate is flipped in place only in the occurrence that sets it.
                        let last = k.flags.occurrences.iter().rposition(|o| o.name == flag);
                        let current = last.and_then(|i| k.flags.occurrences[i].value.clone());
                        let new = with_gate(
                            current.as_deref().unwrap_or(""),
                            &k.flags,
                            last.unwrap_or(usize::MAX),
                        );
                        kubeadm_set(k, flag, &new, &mut ops);
                    } else if k.flags.value(flag).is_none()
                        && !(k.flags.last(flag).is_none() && matches!(flag, CERT_FLAG | KEY_FLAG))
                    {
                        kubeadm_set(k, flag, &value, &mut ops);
                    }
                }
                note_fixed(*rule, out);
            }
            stage(plan, k.embedded.as_deref(), &k.config, ops);
        }
    }
}

fn note_fixed(rule: RuleId, out: &mut Remediation) {
    if !out.fixed.contains(&rule) {
        out.fixed.push(rule);
    }
    if rule == RuleId::ApiserverKubeletCa && !out.warnings.iter().any(|w| w == CA_WARNING) {
        out.warnings.push(CA_WARNING.to_string());
    }
}

fn stage(plan: &mut Plan, embedded: Option<&str>, cfg: &Value, ops: Vec<PatchOperation>) {
    if ops.is_empty() {
        return;
    }
    match embedded {
        None => plan.ops.extend(ops),
        Some(p) => plan
            .embedded
            .entry(p.to_string())
            .or_insert_with(|| (cfg.clone(), Vec::new()))
            .1
            .extend(ops),
    }
}

/// The flags (name, value) a rule needs.
fn wanted_flags(rule: RuleId, policy: &Policy) -> Vec<(&'static str, String)> {
    let r = &policy.remediation;
    match rule {
        RuleId::ApiserverKubeletCa => vec![(CA_FLAG, r.kubelet_certificate_authority.clone())],
        RuleId::ApiserverKubeletClientCert => vec![
            (CERT_FLAG, r.kubelet_client_certificate.clone()),
            (KEY_FLAG, r.kubelet_client_key.clone()),
        ],
        RuleId::ControllerManagerRotateKubeletServerCert | RuleId::KubeletRotateServerCert => {
            vec![("feature-gates", format!("{GATE}=true"))]
        }
        RuleId::KubeletServerTlsBootstrap => vec![(ROTATE_FLAG, "true".into())],
        // No flag makes a kubelet serve a verifiable certificate: CSR approval does.
        RuleId::KubeletServingCertVerified => Vec::new(),
    }
}

fn covered(path: &str, mounts: &[String]) -> bool {
    mounts.iter().any(|m| {
        let m = m.trim_end_matches('/');
        m.is_empty()
            || path == m
            || path
                .strip_prefix(m)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

fn kubeadm_mounts(k: &KubeadmArgs, dir: &str) -> Vec<String> {
    let mut mounts = vec![dir.to_string()];
    if let Some(vols) = k
        .config
        .pointer("/apiServer/extraVolumes")
        .and_then(Value::as_array)
    {
        mounts.extend(
            vols.iter()
                .filter_map(|v| v.get("mountPath")?.as_str().map(str::to_string)),
        );
    }
    mounts
}

/// Make sure the container can read `paths`: already mounted, or (if the policy allows) a
/// read-only hostPath volume of the parent directory is added. `planned` holds the directories
/// earlier calls for the same container mounted; it grows by the ones this call mounts.
fn mount_paths(
    obj: &Value,
    spec: &str,
    container: &str,
    paths: &[&str],
    policy: &Policy,
    planned: &mut Vec<String>,
) -> Result<Vec<PatchOperation>, String> {
    let mut mounts: Vec<String> = obj
        .pointer(&format!("{container}/volumeMounts"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|m| m.get("mountPath")?.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    mounts.extend(planned.iter().cloned());
    let missing: Vec<&str> = paths
        .iter()
        .copied()
        .filter(|p| !covered(p, &mounts))
        .collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    if !policy.remediation.add_host_path_volume {
        return Err(format!(
            "{} is not mounted into the container: mount it, or set remediation.addHostPathVolume: true",
            missing.join(", ")
        ));
    }
    let mut dirs: Vec<&str> = missing
        .iter()
        .map(|p| {
            p.rsplit_once('/')
                .map_or("/", |(d, _)| if d.is_empty() { "/" } else { d })
        })
        .collect();
    dirs.sort_unstable();
    dirs.dedup();
    let mut ops = Vec::new();
    // After an earlier call's `add` of the whole list, the list exists: append to it.
    let has_volumes = !planned.is_empty()
        || obj
            .pointer(&format!("{spec}/volumes"))
            .is_some_and(Value::is_array);
    let has_mounts = !planned.is_empty()
        || obj
            .pointer(&format!("{container}/volumeMounts"))
            .is_some_and(Value::is_array);
    let mut volumes = Vec::new();
    let mut vmounts = Vec::new();
    for (i, dir) in (planned.len()..).zip(dirs.iter()) {
        let name = if i == 0 {
            "kubelet-tls-guard-pki".to_string()
        } else {
            format!("kubelet-tls-guard-pki-{i}")
        };
        volumes.push(json!({"name": name, "hostPath": {"path": dir, "type": "Directory"}}));
        vmounts.push(json!({"name": name, "mountPath": dir, "readOnly": true}));
    }
    for (has, base, items) in [
        (has_volumes, format!("{spec}/volumes"), volumes),
        (has_mounts, format!("{container}/volumeMounts"), vmounts),
    ] {
        if has {
            ops.extend(items.into_iter().map(|v| add(&format!("{base}/-"), v)));
        } else {
            ops.push(add(&base, Value::Array(items)));
        }
    }
    planned.extend(dirs.iter().map(|d| d.to_string()));
    Ok(ops)
}

/// `value` (a `--feature-gates` value) with the gate set to true: flipped where it is set, else appended.
fn with_gate(value: &str, flags: &Flags, occurrence: usize) -> String {
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

fn kubeadm_set(k: &KubeadmArgs, flag: &str, value: &str, ops: &mut Vec<PatchOperation>) {
    let section = k.section;
    let args = k.config.get(section).and_then(|s| s.get("extraArgs"));
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
            .rposition(|i| i.get("name").and_then(Value::as_str) == Some(flag))
        {
            // An entry without `value` (kubeadm reads it as empty) gets one: `replace` needs it.
            Some(i) if items[i].get("value").is_none() => ops.push(add(
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
        None if k.config.get(section).is_some_and(Value::is_object) => {
            ops.push(add(&format!("/{section}/extraArgs"), entry()))
        }
        None => ops.push(add(&format!("/{section}"), json!({"extraArgs": entry()}))),
    }
}

/// Text edits (span → new text) that flip kubelet flags set to false in a flags file.
/// Only flags the file sets are touched: an absent flag is the config file's to decide.
pub fn flag_file_edits(flags: &Flags, due: &[&Finding]) -> Vec<(std::ops::Range<usize>, String)> {
    let mut edits = FlagEdits::new(flags);
    for f in due {
        match f.rule {
            RuleId::KubeletRotateServerCert if flags.feature_gates().get(GATE).is_some() => {
                edits.gate()
            }
            RuleId::KubeletServerTlsBootstrap if flags.last(ROTATE_FLAG).is_some() => {
                edits.set(ROTATE_FLAG, "true")
            }
            _ => {}
        }
    }
    edits
        .replaced
        .iter()
        .filter_map(|(i, text)| match &flags.tokens.get(*i)?.origin {
            Origin::Text { span } => Some((span.clone(), shell::quote(text))),
            _ => None,
        })
        .collect()
}

/// New text for a byte range of a string.
type SpanEdit = (std::ops::Range<usize>, String);

/// Edits to the words of one invocation, rendered as list or shell-line operations.
struct FlagEdits<'a> {
    flags: &'a Flags,
    /// Token index → its new text.
    replaced: BTreeMap<usize, String>,
    appended: Vec<String>,
}

impl<'a> FlagEdits<'a> {
    fn new(flags: &'a Flags) -> Self {
        FlagEdits {
            flags,
            replaced: BTreeMap::new(),
            appended: Vec::new(),
        }
    }

    /// Give `flag` the value `value`: in place where it stands (empty or false), else appended.
    fn set(&mut self, flag: &str, value: &str) {
        match self.flags.last(flag) {
            Some(o) => match o.value_token {
                Some(v) => {
                    self.replaced.insert(v, value.to_string());
                }
                None => {
                    self.replaced.insert(o.token, format!("--{flag}={value}"));
                }
            },
            None => self.appended.push(format!("--{flag}={value}")),
        }
    }

    /// Turn the rotation gate on in `--feature-gates`, keeping the other gates.
    fn gate(&mut self) {
        let gates = self.flags.feature_gates();
        let target = match gates.get(GATE) {
            Some(g) => Some(g.occurrence),
            None => self
                .flags
                .occurrences
                .iter()
                .rposition(|o| o.name == "feature-gates"),
        };
        let Some(n) = target else {
            self.appended.push(format!("--feature-gates={GATE}=true"));
            return;
        };
        let occ = &self.flags.occurrences[n];
        let value = with_gate(occ.value.as_deref().unwrap_or(""), self.flags, n);
        match occ.value_token {
            Some(v) => self.replaced.insert(v, value),
            None => self
                .replaced
                .insert(occ.token, format!("--feature-gates={value}")),
        };
    }

    fn into_ops(self, obj: &Value, container: &str, insert: &Insert) -> Vec<PatchOperation> {
        let mut ops = Vec::new();
        // Shell lines: every edit to one line becomes one replace of that line.
        let mut lines: BTreeMap<(&'static str, usize), Vec<SpanEdit>> = BTreeMap::new();
        for (i, text) in &self.replaced {
            match self.flags.tokens.get(*i).map(|t| &t.origin) {
                Some(Origin::Item { list, index }) => ops.push(replace(
                    &format!("{container}/{}/{index}", list.key()),
                    json!(text),
                )),
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
                    let base = format!("{container}/{}", list.key());
                    if obj.pointer(&base).is_none() {
                        ops.push(add(&base, json!(self.appended)));
                    } else {
                        for (k, w) in self.appended.iter().enumerate() {
                            let at = if *at_end {
                                "-".to_string()
                            } else {
                                (index + k).to_string()
                            };
                            ops.push(add(&format!("{base}/{at}"), json!(w)));
                        }
                    }
                }
            }
        }
        for ((list, index), mut edits) in lines {
            let pointer = format!("{container}/{list}/{index}");
            let Some(mut line) = obj
                .pointer(&pointer)
                .and_then(Value::as_str)
                .map(str::to_string)
            else {
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

/// Edit embedded YAML in place (comments and layout kept).
fn edit_text(text: &str, ops: &[PatchOperation]) -> Result<String, String> {
    edit_doc(text, 0, ops)
}

/// Apply `ops` to document `doc` of a YAML/JSON text, editing only the spans that change.
pub fn edit_doc(text: &str, doc: usize, ops: &[PatchOperation]) -> Result<String, String> {
    crate::yamledit::edit_doc(text, doc, ops)
}

#[cfg(test)]
mod tests {
    use crate::engine;
    use crate::policy::Policy;
    use serde_json::json;

    #[test]
    fn kubeadm_list_entry_without_value_gets_one_added() {
        // A v1beta4 extraArgs entry with a name but no `value`: `replace .../value` would not apply.
        let obj = json!({
            "apiVersion": "kubeadm.k8s.io/v1beta4",
            "kind": "ClusterConfiguration",
            "controllerManager": {"extraArgs": [{"name": "feature-gates"}]}
        });
        let policy = Policy::default();
        let rem = engine::remediate(&obj, &policy, &|_| true).unwrap();
        assert!(!rem.patch.is_empty());
        let mut patched = obj.clone();
        json_patch::patch(&mut patched, &rem.patch).unwrap();
        assert_eq!(
            patched["controllerManager"]["extraArgs"][0]["value"],
            "RotateKubeletServerCertificate=true"
        );
        let again = engine::remediate(&patched, &policy, &|_| true).unwrap();
        assert!(again.patch.is_empty(), "{:?}", again.patch);
    }
}
