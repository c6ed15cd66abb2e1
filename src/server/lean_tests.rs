use super::Lean;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The stub for an object given as JSON text (no repeated keys).
fn irrelevant_stub(raw: &str) -> Option<Value> {
    let members: BTreeMap<String, &RawValue> = serde_json::from_str(raw).ok()?;
    let members: Vec<_> = members
        .into_iter()
        .map(|(k, v)| (Cow::Owned(k), v))
        .collect();
    super::irrelevant_stub(&members)
}

/// What the server keeps of `raw`, and what serde_json alone builds from it.
fn lean_and_built(raw: &str) -> (Value, Value) {
    let Ok(Lean(lean)) = serde_json::from_str(raw) else {
        panic!("lean: {raw}");
    };
    let Ok(built) = serde_json::from_str(raw) else {
        panic!("built: {raw}");
    };
    (lean, built)
}
use crate::engine::policy::Policy;
use crate::engine::{self, Target};
use serde_json::{Value, json};

/// The stub decision agrees with the engine: stubbed only when the full object is not relevant.
#[test]
fn stubs_exactly_the_objects_the_engine_finds_nothing_in() {
    let kubelet_yaml = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n";
    let pod = json!({"kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "kube-apiserver", "command": ["kube-apiserver"]}]}});
    let cases = [
        json!({"kind": "ConfigMap", "metadata": {"name": "app", "namespace": "default"},
            "data": {"kubelet": kubelet_yaml}}),
        json!({"kind": "ConfigMap", "metadata": {"name": "kubelet-config", "namespace": "default"},
            "data": {"kubelet": kubelet_yaml}}),
        json!({"kind": "ConfigMap", "metadata": {"name": "kubelet-config", "namespace": "kube-system"},
            "data": {"kubelet": kubelet_yaml}}),
        json!({"kind": "ConfigMap", "metadata": {"name": "kubelet-config-1.34"},
            "data": {"kubelet": kubelet_yaml}}),
        json!({"kind": "ConfigMap", "metadata": {"name": "kubeadm-config", "namespace": "kube-system"},
            "data": {"ClusterConfiguration": "kind: ClusterConfiguration\n"}}),
        json!({"kind": "Secret", "metadata": {"name": "kubelet-config", "namespace": "kube-system"}}),
        json!({"kind": "KubeletConfiguration"}),
        json!({"metadata": {"name": "x"}}),
        json!({"kind": "Service", "metadata": {"generateName": "svc-", "namespace": "a"}}),
        pod,
    ];
    let policy = Policy::default();
    for obj in cases {
        let raw = obj.to_string();
        let relevant = engine::evaluate(&obj, &policy)
            .map(|e| e.target != Target::NotRelevant)
            .unwrap_or(true);
        match irrelevant_stub(&raw) {
            Some(stub) => {
                assert!(!relevant, "stubbed a relevant object: {raw}");
                let eval = engine::evaluate(&stub, &policy).map(|e| e.target);
                assert_eq!(eval, Ok(Target::NotRelevant), "{raw}");
                assert_eq!(stub.get("kind"), obj.get("kind"), "{raw}");
                for f in ["name", "namespace", "generateName"] {
                    let m = |v: &Value| v.get("metadata").and_then(|m| m.get(f)).cloned();
                    assert_eq!(m(&stub), m(&obj), "{raw}: {f}");
                }
            }
            None => assert!(
                relevant || obj.get("kind").is_some_and(|k| k == "ConfigMap"),
                "built an object that cannot be relevant: {raw}"
            ),
        }
    }
}

#[test]
fn unusual_objects_are_built_as_before() {
    for raw in [
        r#"["ConfigMap", {"name": "x"}]"#,
        r#"{"kind": 5, "metadata": {"name": "x"}}"#,
        r#"{"kind": "Secret", "kind": "Pod", "spec": {"containers": [{"name": "kube-apiserver"}]}}"#,
        r#"{"kind": "Secret", "metadata": {"name": ["x"]}}"#,
        r#"{"kind": "Secret", "metadata": "x"}"#,
        r#"[1, "a", {"kind": "Secret"}]"#,
        r#""ConfigMap""#,
        "-3.5",
    ] {
        let (lean, built) = lean_and_built(raw);
        assert_eq!(lean, built, "{raw}");
    }
}

#[test]
fn relevant_objects_are_built_exactly_as_serde_json_builds_them() {
    let raw = r#"{"kind":"Pod","metadata":{"name":"kube-apiserver","annotations":{"a":"1e3"}},
        "spec":{"containers":[{"name":"kube-apiserver","command":["kube-apiserver"],"n":1.50}]},
        "z":1,"a":[true,null,-1]}"#;
    let (lean, built) = lean_and_built(raw);
    assert_eq!(lean, built);
    let keys = |v: &Value| v.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>());
    assert_eq!(keys(&lean), keys(&built), "member order");
}

#[test]
fn an_irrelevant_object_is_not_built() {
    // 1e999 is out of range for serde_json's Value; only a built object would fail on it.
    let raw = r#"{"kind":"ConfigMap","metadata":{"name":"app","namespace":"default"},"data":{"n":1e999}}"#;
    assert!(serde_json::from_str::<Value>(raw).is_err());
    let Ok(Lean(lean)) = serde_json::from_str(raw) else {
        panic!("the object was built");
    };
    assert_eq!(
        lean,
        json!({"kind": "ConfigMap", "metadata": {"name": "app", "namespace": "default"}})
    );
}

#[test]
fn escaped_identities_are_read_like_any_other() {
    let stub = irrelevant_stub(r#"{"kind":"Sec\u0072et","metadata":{"name":"a\"b"}}"#);
    assert_eq!(
        stub,
        Some(json!({"kind": "Secret", "metadata": {"name": "a\"b"}}))
    );
}
