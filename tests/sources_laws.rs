//! The patch laws (DESIGN.md section 3) over generated objects of every declared source: the
//! patch applies, the result passes the rules it fixed, a second remediation is empty, and the
//! source keeps its form (map stays map, list stays list, strings stay strings). For kind the
//! embedded documents are checked too: they still parse and keep their kind.

use kubelet_tls_guard::engine;
use kubelet_tls_guard::engine::policy::{Policy, Profile};
use kubelet_tls_guard::engine::rules::Status;
use proptest::prelude::*;
use serde_json::{Value, json};

fn policies() -> Vec<Policy> {
    let cis = Policy {
        profile: Profile::Cis,
        ..Policy::default()
    };
    vec![Policy::default(), cis]
}

fn check_laws(obj: &Value, policy: &Policy) -> Result<Value, String> {
    let rem = engine::remediate(obj, policy, &|_| true).map_err(|e| e.to_string())?;
    let mut patched = obj.clone();
    json_patch::patch(&mut patched, &rem.patch)
        .map_err(|e| format!("patch does not apply: {e}\n{:?}", rem.patch))?;
    let eval = engine::evaluate(&patched, policy).map_err(|e| e.to_string())?;
    for rule in &rem.fixed {
        if rem.not_remediable.iter().any(|(r, _)| r == rule) {
            continue;
        }
        for f in eval.findings.iter().filter(|f| f.rule == *rule) {
            if f.status != Status::Pass {
                return Err(format!(
                    "{rule} still {} after the patch: {}\npatched: {patched:#}",
                    f.status, f.message
                ));
            }
        }
    }
    let again = engine::remediate(&patched, policy, &|_| true).map_err(|e| e.to_string())?;
    if !again.patch.is_empty() {
        return Err(format!(
            "not idempotent: second patch {:?}\npatched: {patched:#}",
            again.patch
        ));
    }
    Ok(patched)
}

/// Every extraArgs-like container keeps the JSON type it had.
fn same_shape(before: &Value, after: &Value, pointers: &[&str]) -> Result<(), String> {
    for p in pointers {
        let kind = |v: Option<&Value>| {
            v.map(|v| match v {
                Value::Object(_) => "map",
                Value::Array(_) => "list",
                Value::String(_) => "string",
                _ => "other",
            })
        };
        let (b, a) = (kind(before.pointer(p)), kind(after.pointer(p)));
        if b.is_some() && b != a && b != Some("string") {
            return Err(format!("{p} was a {b:?}, is now a {a:?}"));
        }
    }
    Ok(())
}

// --- generators ---------------------------------------------------------------------------

fn gate() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        Just("RotateKubeletServerCertificate=true".to_string()),
        Just("RotateKubeletServerCertificate=false".to_string()),
        Just("KubeletTracing=true".to_string()),
        Just("KubeletTracing=true,RotateKubeletServerCertificate=false".to_string()),
        Just("RotateKubeletServerCertificate=yes".to_string()),
    ])
}

fn ca() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        Just("/etc/kubernetes/pki/ca.crt".to_string()),
        Just(String::new()),
    ])
}

fn rotate() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        Just("true".to_string()),
        Just("false".to_string()),
    ])
}

/// (name, value) pairs in order, with an unrelated flag first.
fn pairs(list: &[(&str, Option<String>)]) -> Vec<(String, String)> {
    let mut out = vec![("v".to_string(), "2".to_string())];
    for (n, v) in list {
        if let Some(v) = v {
            out.push((n.to_string(), v.clone()));
        }
    }
    out
}

fn args(pairs: &[(String, String)], list: bool) -> Value {
    if list {
        json!(
            pairs
                .iter()
                .map(|(n, v)| json!({"name": n, "value": v}))
                .collect::<Vec<_>>()
        )
    } else {
        Value::Object(pairs.iter().map(|(n, v)| (n.clone(), json!(v))).collect())
    }
}

prop_compose! {
    fn capi()(v2 in any::<bool>(), kind in 0usize..3, a in ca(), g in gate(), kg in gate(), r in rotate(),
              sections in any::<bool>(), join_only in any::<bool>()) -> Value {
        let api_args = pairs(&[("kubelet-certificate-authority", a)]);
        let cm_args = pairs(&[("feature-gates", g)]);
        let kubelet = pairs(&[("feature-gates", kg), ("rotate-server-certificates", r)]);
        let mut spec = json!({});
        if sections {
            spec["clusterConfiguration"] = json!({"apiServer": {"extraArgs": args(&api_args, v2)},
                                                  "controllerManager": {"extraArgs": args(&cm_args, v2)}});
        }
        spec["joinConfiguration"] = json!({"nodeRegistration": {"kubeletExtraArgs": args(&kubelet, v2)}});
        if !join_only {
            spec["initConfiguration"] = json!({"nodeRegistration": {"kubeletExtraArgs": args(&kubelet, v2)}});
        }
        let ver = if v2 { "v1beta2" } else { "v1beta1" };
        match kind {
            0 => json!({"apiVersion": format!("controlplane.cluster.x-k8s.io/{ver}"), "kind": "KubeadmControlPlane",
                        "metadata": {"name": "cp", "namespace": "default"}, "spec": {"kubeadmConfigSpec": spec}}),
            1 => json!({"apiVersion": format!("bootstrap.cluster.x-k8s.io/{ver}"), "kind": "KubeadmConfigTemplate",
                        "metadata": {"name": "md", "namespace": "default"}, "spec": {"template": {"spec": spec}}}),
            _ => json!({"apiVersion": format!("bootstrap.cluster.x-k8s.io/{ver}"), "kind": "KubeadmConfig",
                        "metadata": {"name": "m", "namespace": "default"}, "spec": spec}),
        }
    }
}

fn items(pairs: &[(String, String)], dashed: bool) -> Value {
    json!(
        pairs
            .iter()
            .map(|(n, v)| if dashed {
                format!("--{n}={v}")
            } else {
                format!("{n}={v}")
            })
            .collect::<Vec<_>>()
    )
}

prop_compose! {
    fn k3s()(a in ca(), g in gate(), g2 in gate(), kg in gate(), r in rotate(), single in any::<bool>(), plus in any::<bool>(),
             // k3s `GetArgs`: `name+=` after the distribution's value, `name-=` before it.
             sa in prop_oneof![Just(""), Just("+"), Just("-")], sg in prop_oneof![Just(""), Just("+"), Just("-")]) -> Value {
        let mut obj = json!({"write-kubeconfig-mode": "0644"});
        let api = pairs(&[(&format!("kubelet-certificate-authority{sa}"), a)]);
        obj["kube-apiserver-arg"] = items(&api, false);
        obj["kube-controller-manager-arg"] = items(&pairs(&[(&format!("feature-gates{sg}"), g), ("feature-gates", g2)]), false);
        let kubelet = pairs(&[("feature-gates", kg), ("rotate-server-certificates", r)]);
        let key = if plus { "kubelet-arg+" } else { "kubelet-arg" };
        obj[key] = if single { json!(format!("{}={}", kubelet[0].0, kubelet[0].1)) } else { items(&kubelet, false) };
        obj
    }
}

prop_compose! {
    fn kamaji()(a in ca(), g in gate(), present in any::<bool>()) -> Value {
        let mut obj = json!({"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": "TenantControlPlane",
                             "metadata": {"name": "t", "namespace": "tenants"},
                             "spec": {"controlPlane": {"deployment": {"replicas": 2}}, "kubernetes": {"version": "v1.33.0"}}});
        if present {
            obj["spec"]["controlPlane"]["deployment"]["extraArgs"] = json!({
                "apiServer": items(&pairs(&[("kubelet-certificate-authority", a)]), true),
                "controllerManager": items(&pairs(&[("feature-gates", g)]), true),
            });
        }
        obj
    }
}

prop_compose! {
    fn talos()(a in ca(), g in gate(), kg in gate(), r in rotate(), list in any::<bool>(),
               boot in proptest::option::of(any::<bool>()), cfg_gate in proptest::option::of(any::<bool>()),
               worker in any::<bool>(), bool_flag in any::<bool>()) -> Value {
        let map = |p: Vec<(String, String)>| -> Value {
            Value::Object(p.into_iter().map(|(n, v)| {
                let v = if list && n == "feature-gates" { json!([v]) }
                    else if bool_flag && (v == "true" || v == "false") { json!(v == "true") }
                    else { json!(v) };
                (n, v)
            }).collect())
        };
        let mut obj = json!({"version": "v1alpha1", "machine": {"type": if worker {"worker"} else {"controlplane"},
                              "kubelet": {"image": "ghcr.io/siderolabs/kubelet:v1.33.0"}},
                             "cluster": {"apiServer": {"image": "registry.k8s.io/kube-apiserver:v1.33.0"}}});
        let _ = a; // Talos' API server cannot read kubeadm's CA path: the CA rule stays open.
        obj["cluster"]["controllerManager"] = json!({"extraArgs": map(pairs(&[("feature-gates", g)]))});
        obj["machine"]["kubelet"]["extraArgs"] = map(pairs(&[("feature-gates", kg), ("rotate-server-certificates", r)]));
        let mut extra = json!({});
        if let Some(b) = boot { extra["serverTLSBootstrap"] = json!(b); }
        if let Some(g) = cfg_gate { extra["featureGates"] = json!({"RotateKubeletServerCertificate": g}); }
        if boot.is_some() || cfg_gate.is_some() { obj["machine"]["kubelet"]["extraConfig"] = extra; }
        obj
    }
}

prop_compose! {
    fn kind_cluster()(a in ca(), g in gate(), kg in proptest::option::of(any::<bool>()), boot in proptest::option::of(any::<bool>()),
                      top_gate in proptest::option::of(any::<bool>()), v4 in any::<bool>(), node_level in any::<bool>(),
                      r in rotate()) -> Value {
        let mut patches = Vec::new();
        let api = pairs(&[("kubelet-certificate-authority", a)]);
        let cm = pairs(&[("feature-gates", g)]);
        if api.len() > 1 || cm.len() > 1 {
            let head = if v4 { "apiVersion: kubeadm.k8s.io/v1beta4\n" } else { "" };
            let body = json!({"kind": "ClusterConfiguration",
                              "apiServer": {"extraArgs": args(&api, v4)},
                              "controllerManager": {"extraArgs": args(&cm, v4)}});
            patches.push(format!("{head}{}", serde_yaml_ng::to_string(&body).unwrap()));
        }
        if kg.is_some() || boot.is_some() {
            let mut k = json!({"kind": "KubeletConfiguration"});
            if let Some(b) = boot { k["serverTLSBootstrap"] = json!(b); }
            if let Some(g) = kg { k["featureGates"] = json!({"RotateKubeletServerCertificate": g}); }
            patches.push(format!("# kubelet settings\n{}", serde_yaml_ng::to_string(&k).unwrap()));
        }
        if let Some(r) = r {
            patches.push(format!("kind: JoinConfiguration\nnodeRegistration:\n  kubeletExtraArgs:\n    rotate-server-certificates: \"{r}\"\n"));
        }
        let mut obj = json!({"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4",
                             "nodes": [{"role": "control-plane"}, {"role": "worker"}]});
        if let Some(t) = top_gate { obj["featureGates"] = json!({"RotateKubeletServerCertificate": t}); }
        if !patches.is_empty() {
            if node_level { obj["nodes"][0]["kubeadmConfigPatches"] = json!(patches); }
            else { obj["kubeadmConfigPatches"] = json!(patches); }
        }
        obj
    }
}

const CAPI_ARGS: &[&str] = &[
    "/spec/kubeadmConfigSpec/clusterConfiguration/apiServer/extraArgs",
    "/spec/kubeadmConfigSpec/joinConfiguration/nodeRegistration/kubeletExtraArgs",
    "/spec/template/spec/joinConfiguration/nodeRegistration/kubeletExtraArgs",
    "/spec/joinConfiguration/nodeRegistration/kubeletExtraArgs",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn cluster_api(obj in capi(), p in 0usize..2) {
        let patched = check_laws(&obj, &policies()[p]).map_err(|e| TestCaseError::fail(format!("{e}\nobject: {obj:#}")))?;
        same_shape(&obj, &patched, CAPI_ARGS).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn k3s_config(obj in k3s(), p in 0usize..2) {
        let patched = check_laws(&obj, &policies()[p]).map_err(|e| TestCaseError::fail(format!("{e}\nobject: {obj:#}")))?;
        // Lists stay lists; items stay `name=value` strings.
        for key in ["kube-apiserver-arg", "kube-controller-manager-arg", "kubelet-arg", "kubelet-arg+"] {
            for item in patched.get(key).and_then(Value::as_array).into_iter().flatten() {
                let s = item.as_str().unwrap_or("");
                prop_assert!(s.contains('=') && !s.starts_with('-'), "{key}: {item}");
            }
        }
    }

    #[test]
    fn kamaji_tenant(obj in kamaji(), p in 0usize..2) {
        let patched = check_laws(&obj, &policies()[p]).map_err(|e| TestCaseError::fail(format!("{e}\nobject: {obj:#}")))?;
        for c in ["apiServer", "controllerManager"] {
            let p = format!("/spec/controlPlane/deployment/extraArgs/{c}");
            for item in patched.pointer(&p).and_then(Value::as_array).into_iter().flatten() {
                prop_assert!(item.as_str().is_some_and(|s| s.starts_with("--") && s.contains('=')), "{item}");
            }
        }
    }

    #[test]
    fn talos_config(obj in talos(), p in 0usize..2) {
        let patched = check_laws(&obj, &policies()[p]).map_err(|e| TestCaseError::fail(format!("{e}\nobject: {obj:#}")))?;
        same_shape(&obj, &patched, &["/machine/kubelet/extraArgs", "/cluster/controllerManager/extraArgs",
                                     "/machine/kubelet/extraArgs/feature-gates"]).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn kind_config(obj in kind_cluster(), p in 0usize..2) {
        let patched = check_laws(&obj, &policies()[p]).map_err(|e| TestCaseError::fail(format!("{e}\nobject: {obj:#}")))?;
        // Embedded documents still parse, keep their kind, and keep their comments.
        for at in ["/kubeadmConfigPatches", "/nodes/0/kubeadmConfigPatches"] {
            let list = |v: &Value| -> Vec<String> {
                v.pointer(at).and_then(Value::as_array).into_iter().flatten()
                    .map(|s| s.as_str().unwrap_or("").to_string()).collect()
            };
            let (before, after) = (list(&obj), list(&patched));
            prop_assert!(after.len() >= before.len());
            for (b, a) in before.iter().zip(&after) {
                let (bv, av): (Value, Value) = (serde_yaml_ng::from_str(b).unwrap(), serde_yaml_ng::from_str(a).unwrap());
                prop_assert_eq!(&bv["kind"], &av["kind"]);
                if b.starts_with("# kubelet settings") {
                    prop_assert!(a.starts_with("# kubelet settings"), "comment lost: {a}");
                }
            }
        }
    }
}
