//! `--format openreports` and `--apply-reports`: the results as `openreports.io/v1alpha1`
//! `Report` (namespaced objects) and `ClusterReport` (nodes, the control plane, scan errors)
//! documents, written with server-side apply under the field manager `kubelet-tls-guard`.

use crate::engine::rules::Status;
use crate::report::Record;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

pub const GROUP_VERSION: &str = "openreports.io/v1alpha1";
pub const FIELD_MANAGER: &str = "kubelet-tls-guard";

/// A DNS-1123 subdomain made from free text (object names may hold `/` or upper case).
fn dns_name(s: &str) -> String {
    let mut out: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    out.truncate(253);
    out.trim_matches(|c| c == '-' || c == '.').to_string()
}

/// Which report an object's results go to: (kind, namespace, name, scope).
fn placement(r: &Record) -> (&'static str, Option<String>, String, Option<Value>) {
    if let Some(node) = r.object.strip_prefix("node/") {
        return (
            "ClusterReport",
            None,
            dns_name(&format!("kubelet-tls-guard-node-{node}")),
            Some(json!({"apiVersion": "v1", "kind": "Node", "name": node})),
        );
    }
    match r.object.split_once('/') {
        Some((ns, name)) if !r.kind.is_empty() => (
            "Report",
            Some(ns.to_string()),
            dns_name(&format!("kubelet-tls-guard-{}-{name}", r.kind)),
            Some(json!({"apiVersion": "v1", "kind": r.kind, "namespace": ns, "name": name})),
        ),
        _ => (
            "ClusterReport",
            None,
            dns_name(&format!("kubelet-tls-guard-{}", r.object)),
            None,
        ),
    }
}

fn result(r: &Record, scope: Option<&Value>) -> Value {
    let mut props = Map::new();
    let evidence = if r.location.is_empty() {
        r.source.clone()
    } else {
        format!("{} {}", r.source, r.location)
    };
    props.insert("evidence".into(), json!(evidence));
    if let Some(c) = r.component {
        props.insert("component".into(), json!(c.as_str()));
    }
    if let Some(rem) = &r.remediation {
        props.insert("remediation".into(), json!(rem));
    }
    let mut out = json!({
        "source": "kubelet-tls-guard",
        "policy": r.rule.map_or("scan-input", |x| x.as_str()),
        "result": r.status.as_str(),
        "scored": !r.controls.is_empty() && r.status != Status::Warn,
        "category": "CIS Kubernetes Benchmark",
        "message": r.message,
        "properties": props,
    });
    if !r.controls.is_empty() {
        out["rule"] = json!(r.controls.join(", "));
    }
    if let Some(s) = scope {
        out["resources"] = json!([s]);
    }
    out
}

/// A report's identity: kind, namespace, name.
type Key = (&'static str, Option<String>, String);

/// One document per object, in the order objects first appear.
pub fn documents(records: &[Record]) -> Vec<Value> {
    let mut order: Vec<Key> = Vec::new();
    let mut docs: BTreeMap<Key, (Option<Value>, Vec<&Record>)> = BTreeMap::new();
    for r in records {
        let (kind, ns, name, scope) = placement(r);
        let key = (kind, ns, name);
        let entry = docs.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            (scope, Vec::new())
        });
        entry.1.push(r);
    }
    order
        .into_iter()
        .filter_map(|key| {
            let (scope, rs) = docs.remove(&key)?;
            let (kind, ns, name) = key;
            let count = |s: Status| rs.iter().filter(|r| r.status == s).count();
            let mut metadata = json!({
                "name": name,
                "labels": {"app.kubernetes.io/managed-by": "kubelet-tls-guard"},
            });
            if let Some(ns) = ns {
                metadata["namespace"] = json!(ns);
            }
            let mut doc = json!({
                "apiVersion": GROUP_VERSION,
                "kind": kind,
                "metadata": metadata,
                "source": "kubelet-tls-guard",
                "summary": {
                    "pass": count(Status::Pass),
                    "fail": count(Status::Fail),
                    "warn": count(Status::Warn),
                    "error": count(Status::Error),
                    "skip": count(Status::Skip),
                },
                "results": rs.iter().map(|r| result(r, scope.as_ref())).collect::<Vec<_>>(),
            });
            if let Some(s) = scope {
                doc["scope"] = s;
            }
            Some(doc)
        })
        .collect()
}

/// The documents as one YAML stream.
pub fn yaml(docs: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    for d in docs {
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(d).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

fn resource(kind: &str) -> ApiResource {
    let plural = if kind == "Report" {
        "reports"
    } else {
        "clusterreports"
    };
    ApiResource {
        group: "openreports.io".into(),
        version: "v1alpha1".into(),
        api_version: GROUP_VERSION.into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

/// Server-side apply every document. A missing CRD is one clear error before anything is sent;
/// otherwise each document is applied on its own and the failures are listed.
pub async fn apply(
    client: &kube::Client,
    docs: &[Value],
    timeout: Duration,
) -> Result<usize, Vec<String>> {
    let missing = "the OpenReports CRDs (reports.openreports.io, clusterreports.openreports.io, openreports.io/v1alpha1) are not installed: install them (github.com/openreports/reports-api, config/crd) before --apply-reports";
    match tokio::time::timeout(timeout, client.list_api_group_resources(GROUP_VERSION)).await {
        Err(_) => {
            return Err(vec![format!(
                "discovery of {GROUP_VERSION}: no answer within {}s",
                timeout.as_secs_f64()
            )]);
        }
        Ok(Err(kube::Error::Api(s))) if s.code == 404 => return Err(vec![missing.into()]),
        Ok(Err(e)) => return Err(vec![format!("discovery of {GROUP_VERSION}: {e}")]),
        Ok(Ok(list)) => {
            for plural in ["reports", "clusterreports"] {
                if !list.resources.iter().any(|r| r.name == plural) {
                    return Err(vec![missing.into()]);
                }
            }
        }
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut errors = Vec::new();
    let mut applied = 0;
    for d in docs {
        let kind = d
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("ClusterReport");
        let name = d
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let ar = resource(kind);
        let api: Api<DynamicObject> = match d.pointer("/metadata/namespace").and_then(Value::as_str)
        {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
            None => Api::all_with(client.clone(), &ar),
        };
        match tokio::time::timeout(timeout, api.patch(name, &params, &Patch::Apply(d))).await {
            Ok(Ok(_)) => applied += 1,
            Ok(Err(e)) => errors.push(format!(
                "apply {kind} {name}: {}",
                super::inventory::describe(
                    "",
                    "create/patch on openreports.io reports and clusterreports",
                    &e
                )
                .trim_start_matches(": ")
            )),
            Err(_) => errors.push(format!(
                "apply {kind} {name}: no answer within {}s",
                timeout.as_secs_f64()
            )),
        }
    }
    if errors.is_empty() {
        Ok(applied)
    } else {
        Err(errors)
    }
}
