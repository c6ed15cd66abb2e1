//! Files → records: the `check` pipeline (read, detect, evaluate) shared by `check`, `fix`
//! and the benchmark. One record per rule per object, so every object shows all five rules.

use crate::engine::policy::Policy;
use crate::engine::rules::{RuleId, Status};
use crate::engine::verdict::{self, Verdict};
use crate::engine::{self, Target};
pub use crate::node::inputs::object_name;
use crate::node::inputs::{self, Item, Parsed};
use crate::node::k3s;
use crate::node::walk;
use crate::report::Record;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A file found under the paths given, or a problem reaching one.
#[derive(Debug)]
pub enum Input {
    File(PathBuf),
    Stdin,
    Unreachable {
        path: PathBuf,
        reason: String,
    },
    /// A k3s/RKE2 `config.yaml` with its `config.yaml.d/` drop-ins, judged merged.
    K3sGroup(k3s::Group),
}

/// File names worth reading inside a directory (node config lives in these).
fn interesting(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    matches!(ext, "yaml" | "yml" | "json" | "conf" | "env" | "service") || name == "kubelet"
}

/// Expand the command-line paths: files as given, directories recursively, `-` for stdin.
pub fn expand(paths: &[PathBuf]) -> Vec<Input> {
    inputs(paths).collect()
}

/// [`expand`], lazily: each directory is walked as the inputs are taken, so `check` holds one
/// directory's sorted listing at a time, not every path.
pub fn inputs(paths: &[PathBuf]) -> impl Iterator<Item = Input> + '_ {
    let mut seen: Vec<PathBuf> = Vec::new();
    paths
        .iter()
        .flat_map(|p| -> Box<dyn Iterator<Item = Input>> {
            if p.as_os_str() == "-" {
                Box::new(std::iter::once(Input::Stdin))
            } else if p.is_dir() {
                Box::new(walk::files(p, interesting).map(|found| match found {
                    Ok(path) => Input::File(path),
                    Err(walk::Unreachable { path, reason }) => Input::Unreachable { path, reason },
                }))
            } else {
                Box::new(std::iter::once(Input::File(p.clone())))
            }
        })
        .filter_map(move |i| group_k3s(i, &mut seen))
}

/// k3s/RKE2 files that merge with drop-ins become one input (once, however many were named).
fn group_k3s(input: Input, seen: &mut Vec<PathBuf>) -> Option<Input> {
    match input {
        Input::File(p) => match k3s::group_of(&p).filter(k3s::is_k3s) {
            Some(g) if seen.contains(&g.main) => None,
            Some(g) => {
                seen.push(g.main.clone());
                Some(Input::K3sGroup(g))
            }
            None => Some(Input::File(p)),
        },
        other => Some(other),
    }
}

/// Audit one input: read errors become one `error` record naming the file.
pub fn audit_input(input: &Input, policy: &Policy) -> Vec<Record> {
    match input {
        Input::Unreachable { path, reason } => {
            let s = path.display().to_string();
            vec![Record::error(&s, "-", format!("{s}: {reason}"))]
        }
        Input::Stdin => {
            use std::io::Read;
            let mut bytes = Vec::new();
            let limit = inputs::MAX_FILE_BYTES + 1;
            let read = std::io::stdin().lock().take(limit).read_to_end(&mut bytes);
            match read
                .map_err(|e| inputs::InputError(format!("cannot read: {e}")))
                .and_then(|_| inputs::decode(bytes))
            {
                Ok(text) => audit_text("-", &text, policy),
                Err(e) => vec![Record::error("-", "-", format!("-: {e}"))],
            }
        }
        Input::K3sGroup(g) => {
            let source = k3s::source_name(g);
            match k3s::parsed_group(g) {
                Ok(parsed) => audit_parsed(&source, &parsed, policy),
                Err(e) => vec![Record::error(&source, "-", e)],
            }
        }
        Input::File(path) => {
            let s = path.display().to_string();
            match inputs::read(path) {
                Ok(text) => audit_text(&s, &text, policy),
                Err(e) => vec![Record::error(&s, "-", format!("{s}: {e}"))],
            }
        }
    }
}

/// Audit already-read text.
pub fn audit_text(source: &str, text: &str, policy: &Policy) -> Vec<Record> {
    let parsed = match inputs::parse(text) {
        Ok(p) => p,
        Err(e) => return vec![Record::error(source, "-", format!("{source}: {e}"))],
    };
    audit_parsed(source, &parsed, policy)
}

pub fn audit_parsed(source: &str, parsed: &Parsed, policy: &Policy) -> Vec<Record> {
    let mut out = Vec::new();
    for item in &parsed.items {
        match item {
            Item::Invalid { doc, reason } => out.push(Record::error(
                source,
                "-",
                format!("{source}: document {}: {reason}", doc + 1),
            )),
            Item::Object { doc, value, .. } => {
                let object = object_name(value);
                let kind = value
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                match engine::evaluate(value, policy) {
                    Ok(eval) => {
                        let why = match eval.target {
                            Target::NotRelevant => {
                                "no kube-apiserver, kube-controller-manager or kubelet settings in this object"
                            }
                            _ => "",
                        };
                        let (ns, name) = namespace_name(value);
                        let v = verdict::judge(policy, &eval, ns, name);
                        let row = Row {
                            source,
                            object: &object,
                            kind: &kind,
                        };
                        records(&row, &v, policy, why, &mut out)
                    }
                    Err(e) => out.push(Record::error(
                        source,
                        &object,
                        format!("{source}: document {}: {e}", doc + 1),
                    )),
                }
            }
            Item::KubeletFlags(f) => {
                let findings = engine::evaluate_flags(&f.flags, &f.location, policy);
                let v = verdict::judge_findings(policy, &findings, false, "", "");
                let row = Row {
                    source,
                    object: "kubelet",
                    kind: "KubeletFlags",
                };
                records(&row, &v, policy, "", &mut out);
            }
        }
    }
    if parsed.items.is_empty() {
        let row = Row {
            source,
            object: "-",
            kind: "",
        };
        let none = verdict::judge_findings(policy, &[], false, "", "");
        records(
            &row,
            &none,
            policy,
            "no Kubernetes object or kubelet flags found",
            &mut out,
        );
    }
    out
}

/// Where a group of records comes from.
struct Row<'a> {
    source: &'a str,
    object: &'a str,
    kind: &'a str,
}

fn namespace_name(v: &Value) -> (&str, &str) {
    let at = |p| v.pointer(p).and_then(Value::as_str).unwrap_or("");
    (at("/metadata/namespace"), at("/metadata/name"))
}

/// The verdict as records: rules switched `off` are not reported; an exempt object's rules are
/// `skip`, naming the exemption; every other rule the object has nothing for is a `skip` too.
fn records(row: &Row<'_>, v: &Verdict<'_>, policy: &Policy, why: &str, out: &mut Vec<Record>) {
    let exempt = v.exempt.map(verdict::exemption_text);
    for j in &v.judged {
        let f = j.finding;
        let (status, message) = match &exempt {
            Some(ex) => (
                Status::Skip,
                format!("{ex}; otherwise {}: {}", f.status, f.message),
            ),
            None => (f.status, f.message.clone()),
        };
        out.push(Record {
            source: row.source.to_string(),
            object: row.object.to_string(),
            kind: row.kind.to_string(),
            component: Some(f.component),
            location: f.location.clone(),
            rule: Some(f.rule),
            controls: f.rule.controls().to_vec(),
            status,
            message,
            remediation: f.remediation.clone(),
        });
    }
    for rule in RuleId::ALL {
        if !verdict::reported(policy, rule) || v.judged.iter().any(|j| j.finding.rule == rule) {
            continue;
        }
        let message = match (&exempt, why) {
            (Some(ex), _) => ex.clone(),
            (None, "") => format!("no {} in this object", rule.component()),
            (None, why) => why.to_string(),
        };
        out.push(Record {
            source: row.source.to_string(),
            object: row.object.to_string(),
            kind: row.kind.to_string(),
            component: Some(rule.component()),
            location: String::new(),
            rule: Some(rule),
            controls: rule.controls().to_vec(),
            status: Status::Skip,
            message,
            remediation: None,
        });
    }
}
