use super::*;
use crate::engine::read::extract;
use crate::engine::read::subjects::Target;
use serde_json::{Value, json};

/// `None`: the lean read failed (the caller takes the full parse). A read that stopped at a
/// container that may run a component is "maybe".
fn lean(obj: &Value) -> Option<bool> {
    lean_text(&obj.to_string())
}

fn lean_text(text: &str) -> Option<bool> {
    match serde_json::from_str::<LeanObject<'_>>(text) {
        Ok(o) => Some(o.may_be_relevant()),
        Err(_) => take_stopped().then_some(true),
    }
}

#[test]
fn a_pod_read_stops_at_a_container_that_may_run_a_component() {
    // What follows the stop is not read: not even the broken container after it.
    let broken = r#"{"name":"late","command":[1]}]}}"#;
    for first in [
        r#"{"name":"a","image":"registry.k8s.io/kube-apiserver:v1.34.2"}"#,
        r#"{"name":"a","command":["kube-controller-manager","--v=2"]}"#,
        r#"{"name":"a","command":["/bin/sh","-c","exec kubelet"]}"#,
    ] {
        for kind in ["Pod", "Deployment"] {
            let spec = if kind == "Pod" {
                ""
            } else {
                r#"{"template":{"spec":"#
            };
            let text =
                format!(r#"{{"kind":"{kind}","spec":{spec}{{"containers":[{first},{broken}"#);
            assert_eq!(lean_text(&text), Some(true), "{text}");
            assert!(!take_stopped(), "the mark is cleared");
        }
    }
    // Not a pod (or not yet known to be one when the spec is read): read whole, and the broken
    // container fails the read as before; nor does `args` stop it, as `command` may follow.
    for text in [
        format!(r#"{{"kind":"Widget","spec":{{"containers":[{{"image":"kube-x"}},{broken}"#),
        format!(r#"{{"spec":{{"containers":[{{"image":"kube-x"}},{broken},"kind":"Pod"}}"#),
        format!(r#"{{"kind":"Pod","spec":{{"containers":[{{"args":["kube-x"]}},{broken}"#),
    ] {
        assert_eq!(lean_text(&text), None, "{text}");
    }
    // Outside a read of a pod spec, nothing stops.
    assert!(serde_json::from_str::<Container<'_>>(r#"{"image":"kube-x"}"#).is_ok());
}

#[test]
fn table() {
    let pod = |labels: Value, container: Value| {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "p", "namespace": "ns", "labels": labels},
               "spec": {"containers": [{"name": "c", "image": "nginx"}, container]}})
    };
    let cm = |name: &str, ns: Option<&str>| {
        let mut o = json!({"kind": "ConfigMap", "metadata": {"name": name}, "data": {"x": "y"}});
        if let Some(ns) = ns {
            o["metadata"]["namespace"] = json!(ns);
        }
        o
    };
    let cases = [
        (
            pod(json!({"app": "web"}), json!({"image": "nginx:1.27"})),
            false,
        ),
        (
            pod(
                json!({}),
                json!({"image": "registry.k8s.io/kube-apiserver:v1.34.2"}),
            ),
            true,
        ),
        (
            pod(json!({}), json!({"command": ["/bin/sh", "-c", "exec x"]})),
            true,
        ),
        (
            pod(json!({}), json!({"command": [], "args": ["kubelet"]})),
            true,
        ),
        (
            pod(json!({}), json!({"command": ["/hyperkube", "apiserver"]})),
            true,
        ),
        (
            pod(
                json!({"component": "kube-apiserver"}),
                json!({"command": ["/entry"]}),
            ),
            true,
        ),
        (cm("app-settings", Some("default")), false),
        (cm("kubelet-config", Some("default")), false),
        (cm("kubelet-config", Some("kube-system")), true),
        (cm("kubelet-config-1.30", None), true),
        (cm("kubeadm-config", None), true),
        (
            json!({"kind": "Secret", "metadata": {"name": "kubeadm-config"}}),
            false,
        ),
        (json!({"apiVersion": "v1", "metadata": {}}), true),
        (json!({"kind": "KubeletConfiguration"}), true),
        (json!({"kind": "TenantControlPlane"}), true),
        (
            json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec":
                {"containers": [{"image": "example/kube-controller-manager"}]}}}}}}),
            true,
        ),
        (
            json!({"kind": "Deployment", "spec": {"template": {
                "metadata": {"labels": {"component": "kube-apiserver"}},
                "spec": {"containers": [{"name": "kube-apiserver", "command": ["/w"]}]}}}}),
            true,
        ),
        (
            json!({"kind": "PodTemplate", "template": {"spec":
                {"containers": [{"image": "kube-apiserver"}]}}}),
            true,
        ),
    ];
    for (obj, want) in cases {
        assert_eq!(lean(&obj), Some(want), "{obj}");
        // The lean view never says "no" where the engine finds something.
        if extract(&obj).0 != Target::NotRelevant {
            assert!(want, "{obj}");
        }
    }
}

#[test]
fn unusual_shapes_fail_the_lean_parse() {
    for obj in [
        json!(["Pod"]),
        json!({"kind": "Pod", "spec": {"containers": [{"command": [1]}]}}),
        json!({"kind": 7}),
        json!({"kind": "ConfigMap", "metadata": {"name": ["kubelet-config"]}}),
    ] {
        assert_eq!(lean(&obj), None, "{obj}");
    }
    assert!(serde_json::from_str::<LeanObject<'_>>(r#"{"kind":"Pod","kind":"X"}"#).is_err());
}

/// Every object of the repository's fixtures the engine finds something in is "maybe relevant".
#[test]
fn never_no_for_a_fixture_the_engine_reads() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut relevant = 0;
    for entry in walkdir::WalkDir::new(root).into_iter().flatten() {
        let path = entry.path();
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let docs: Vec<Value> = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => serde_json::from_str(&text).into_iter().collect(),
            Some("yaml" | "yml") => crate::yaml::documents(&text)
                .map(|d| d.into_iter().flatten().collect())
                .unwrap_or_default(),
            _ => continue,
        };
        for doc in docs {
            let object = doc.pointer("/request/object").cloned();
            for obj in [Some(doc), object].into_iter().flatten() {
                if obj.is_object() && extract(&obj).0 != Target::NotRelevant {
                    relevant += 1;
                    assert_ne!(lean(&obj), Some(false), "{}: {obj}", path.display());
                }
            }
        }
    }
    assert!(relevant > 20, "only {relevant} relevant fixtures found");
}
