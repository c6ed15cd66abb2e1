//! The real API server judges our matchConditions (issue 9): tests/manifests.rs evaluates them
//! with a CEL crate as a fast unit test; here Kubernetes' own CEL decides. Every object of the
//! fixtures and the shared corpus that the engine judges must reach the webhook, and plainly
//! unrelated objects must not.
//!
//! Probe: `serve` (dry-run, so nothing is refused by us) behind the mutating configuration with
//! failurePolicy Fail (so a CEL evaluation error shows as a refusal, not as a silent skip). The
//! mutating webhook runs before schema validation, so even partial fixtures reach it. Each
//! object is sent with `kubectl create --dry-run=server`, one at a time, and counted as called
//! when serve logged one more /mutate decision.

mod common;

use common::apiserver::webhook::{Installed, Serve, yaml_docs};
use common::apiserver::{self, ApiServer, webhook};
use kubelet_tls_guard::engine::policy::Policy;
use kubelet_tls_guard::engine::{self, Target};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;

const KINDS: [&str; 8] = [
    "Pod",
    "ConfigMap",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
];

/// Objects under `dir` (YAML streams, JSON objects, the objects of AdmissionReviews).
fn objects_in(dir: &Path) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).into_iter().flatten() {
        let path = entry.path();
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let docs = match ext {
            "json" => match serde_json::from_str::<Value>(&text) {
                Ok(v) if v["request"]["object"].is_object() => vec![v["request"]["object"].clone()],
                Ok(v) => vec![v],
                Err(_) => continue,
            },
            "yaml" | "yml" => std::panic::catch_unwind(|| yaml_docs(&text)).unwrap_or_default(),
            _ => continue,
        };
        for doc in docs {
            if KINDS.contains(&doc["kind"].as_str().unwrap_or("")) {
                out.push((path.display().to_string(), doc));
            }
        }
    }
    out
}

/// The object as a client would create it: no server-set metadata, a namespace that exists.
fn creatable(s: &ApiServer, obj: &Value, namespaces: &mut BTreeSet<String>) -> Value {
    let mut obj = obj.clone();
    if let Some(meta) = obj["metadata"].as_object_mut() {
        for field in [
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
            "managedFields",
        ] {
            meta.remove(field);
        }
    }
    // Where the engine's callers see it too (tests/manifests.rs evaluates it there).
    let ns = obj["metadata"]["namespace"]
        .as_str()
        .unwrap_or("kube-system")
        .to_string();
    obj["metadata"]["namespace"] = Value::from(ns.clone());
    if obj["metadata"]["name"].as_str().unwrap_or("").is_empty() {
        obj["metadata"]["name"] = Value::from("unnamed");
    }
    if namespaces.insert(ns.clone()) {
        s.ensure_namespace(&ns);
    }
    obj
}

/// Requests `/mutate` has answered, from its counter: counted before the answer is sent, where
/// the log line is written by another thread and may come later.
fn decisions(serve: &Serve) -> usize {
    serve
        .ops_get("/metrics")
        .lines()
        .filter(|l| {
            l.starts_with("kubelet_tls_guard_admission_requests_total{")
                && l.contains(r#"endpoint="mutate""#)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as usize
}

/// Sends `obj`; Ok(whether serve was called) or Err(the API server's refusal).
fn called(s: &ApiServer, serve: &Serve, obj: &Value) -> Result<bool, String> {
    let before = decisions(serve);
    let args = [
        "create",
        "--dry-run=server",
        "--validate=false",
        "-o",
        "name",
        "-f",
        "-",
    ];
    let result = s.kubectl_stdin(&args, &obj.to_string());
    let after = decisions(serve);
    match result {
        Err(e) if e.contains("failed calling webhook") || e.contains("matchCondition") => Err(e),
        _ => Ok(after > before),
    }
}

#[test]
fn every_object_the_engine_judges_reaches_the_webhook_and_unrelated_ones_do_not() {
    let Some(s) = apiserver::shared() else { return };
    let _lock = webhook::webhook_lock();
    let serve = Serve::start(&["--mode", "dry-run", "--log-format", "json"]);
    let yaml = serve.webhook_config(&["--mode", "enforce", "--remediate"]);
    let mutating: Vec<Value> = yaml_docs(&yaml)
        .into_iter()
        .filter(|d| d["kind"] == "MutatingWebhookConfiguration")
        .collect();
    let config = mutating
        .first()
        .expect("a MutatingWebhookConfiguration")
        .to_string();
    let _installed = Installed::apply(s, "kubelet-tls-guard", &config).expect("install");

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut inputs = objects_in(&root.join("tests/fixtures"));
    let corpus = root.join("../shared/corpus");
    if corpus.is_dir() {
        inputs.extend(objects_in(&corpus));
    } else {
        // The fixtures still run; the skip records the corpus part that did not.
        common::skip::skip(&format!(
            "corpus {} absent; only the fixtures routed",
            corpus.display()
        ));
    }
    let policy = Policy::default();
    let mut namespaces = BTreeSet::new();
    let (mut judged, mut problems) = (0, Vec::new());
    let mut first = true;
    for (source, obj) in &inputs {
        let relevant =
            engine::evaluate(obj, &policy).is_ok_and(|e| e.target != Target::NotRelevant);
        if !relevant {
            continue;
        }
        let obj = creatable(s, obj, &mut namespaces);
        // The configuration reaches the admission chain through an informer: wait for the
        // first call rather than count a miss.
        let got = if first {
            first = false;
            webhook::eventually(std::time::Duration::from_secs(20), || {
                called(s, &serve, &obj).ok().filter(|c| *c).map(Ok)
            })
            .unwrap_or_else(|| called(s, &serve, &obj))
        } else {
            called(s, &serve, &obj)
        };
        judged += 1;
        let what = format!(
            "{source}: {} {}/{}",
            obj["kind"], obj["metadata"]["namespace"], obj["metadata"]["name"]
        );
        match got {
            Ok(true) => {}
            Ok(false) => problems.push(format!(
                "{what}: judged by the engine, never reached the webhook"
            )),
            Err(e) => problems.push(format!("{what}: refused ({e})")),
        }
    }

    // Controls: the narrowing works in the real API server, and a miss can be seen.
    let container = json!([{"name": "web", "image": "nginx:1.27", "command": ["nginx"]}]);
    let unrelated = [
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coredns", "namespace": "kube-system"}, "data": {"Corefile": "."}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kubeadm-config", "namespace": "default"}, "data": {}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"}, "spec": {"containers": container}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
               "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": container}}}}),
    ];
    for obj in &unrelated {
        if called(s, &serve, obj) != Ok(false) {
            problems.push(format!(
                "unrelated {} {} reached the webhook",
                obj["kind"], obj["metadata"]["name"]
            ));
        }
    }
    assert!(
        judged >= 20,
        "only {judged} judged objects among {} inputs",
        inputs.len()
    );
    assert!(
        problems.is_empty(),
        "{} of {judged} judged objects (and 4 controls):\n  {}\nserve log tail:\n{}",
        problems.len(),
        problems.join("\n  "),
        common::apiserver::webhook::tail(&serve.log(), 5)
    );
    eprintln!("{judged} judged objects all reached the webhook; 4 unrelated ones did not");
}
