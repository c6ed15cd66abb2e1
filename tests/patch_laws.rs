//! The laws every patch obeys (DESIGN.md section 3), over generated objects and every corpus
//! file: it applies cleanly with `json-patch`; the result passes the rules it remediated;
//! remediating the result again yields an empty patch.

#[path = "support/skip.rs"]
mod skip;

use kubelet_tls_guard::engine::policy::{Policy, Profile};
use kubelet_tls_guard::engine::rules::Status;
use kubelet_tls_guard::engine::{self, Target};
use kubelet_tls_guard::node::inputs::{self, Item};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::path::PathBuf;

fn check_laws(obj: &Value, policy: &Policy) -> Result<(), String> {
    let all = |_| true;
    let rem = engine::remediate(obj, policy, &all).map_err(|e| e.to_string())?;
    let mut patched = obj.clone();
    json_patch::patch(&mut patched, &rem.patch)
        .map_err(|e| format!("patch does not apply: {e}\n{:?}", rem.patch))?;
    let eval = engine::evaluate(&patched, policy).map_err(|e| e.to_string())?;
    for rule in &rem.fixed {
        // A rule that some other subject could not fix may still fail there; only the ones
        // reported fixed everywhere must pass everywhere.
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
    sound_volumes(obj, &patched)?;
    let again = engine::remediate(&patched, policy, &all).map_err(|e| e.to_string())?;
    if !again.patch.is_empty() {
        return Err(format!("not idempotent: second patch {:?}", again.patch));
    }
    if matches!(eval.target, Target::Pod { mirror: true }) && !rem.patch.is_empty() {
        return Err("a mirror pod was patched".into());
    }
    Ok(())
}

/// The API server rejects a pod spec whose volumes, or a container's mounts, repeat a name, or
/// whose mount names no volume: a patch makes neither (a mount that named none before may).
fn sound_volumes(before: &Value, obj: &Value) -> Result<(), String> {
    fn names(list: Option<&Value>) -> Vec<&str> {
        list.and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v["name"].as_str()).collect())
            .unwrap_or_default()
    }
    fn repeats(list: Option<&Value>, what: &str) -> Result<(), String> {
        let names = names(list);
        let set: std::collections::BTreeSet<&str> = names.iter().copied().collect();
        if set.len() == names.len() {
            Ok(())
        } else {
            Err(format!("{what} repeat a name: {names:?}"))
        }
    }
    /// The names of a container's mounts that no volume of its pod spec has.
    fn dangling<'v>(c: &'v Value, spec: Option<&Value>) -> Vec<&'v str> {
        let volumes = names(spec.and_then(|s| s.get("volumes")));
        let mounts = names(c.get("volumeMounts"));
        mounts
            .into_iter()
            .filter(|m| !volumes.contains(m))
            .collect()
    }
    for at in [
        "/spec",
        "/spec/template/spec",
        "/spec/jobTemplate/spec/template/spec",
    ] {
        let Some(spec) = obj.pointer(at) else {
            continue;
        };
        repeats(spec.get("volumes"), "volumes")?;
        for (i, c) in spec["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            repeats(c.get("volumeMounts"), "volumeMounts")?;
            let dangling_before = before
                .pointer(&format!("{at}/containers/{i}"))
                .map(|c| dangling(c, before.pointer(at)))
                .unwrap_or_default();
            if let Some(m) = dangling(c, Some(spec))
                .into_iter()
                .find(|m| !dangling_before.contains(m))
            {
                return Err(format!(
                    "the patch mounts a volume the pod lacks: {m}\n{spec:#}"
                ));
            }
        }
    }
    Ok(())
}

fn policies() -> Vec<Policy> {
    let cis = Policy {
        profile: Profile::Cis,
        ..Policy::default()
    };
    let mut host = Policy::default();
    host.remediation.add_host_path_volume = true;
    vec![Policy::default(), cis, host]
}

// --- generators --------------------------------------------------------------------------

fn gate_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("true".to_string()),
        Just("false".to_string()),
        Just("True".to_string()),
        Just("0".to_string()),
        Just("yes".to_string()),
        Just(" false ".to_string()),
    ]
}

/// A `--feature-gates` value with or without the rotation gate, among others.
fn gates() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(
        (
            proptest::option::of(gate_value()),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(rot, a, b)| {
                let mut parts = Vec::new();
                if a {
                    parts.push("APIServerTracing=true".to_string());
                }
                if let Some(v) = rot {
                    parts.push(format!("RotateKubeletServerCertificate={v}"));
                }
                if b {
                    parts.push(" KubeletTracing = false".to_string());
                }
                parts.join(",")
            }),
    )
}

#[derive(Debug, Clone, Copy)]
enum Form {
    Inline,
    Split,
    Empty,
    Absent,
}

fn form() -> impl Strategy<Value = Form> {
    prop_oneof![
        Just(Form::Inline),
        Just(Form::Split),
        Just(Form::Empty),
        Just(Form::Absent)
    ]
}

fn push_flag(words: &mut Vec<String>, name: &str, value: &str, f: Form) {
    match f {
        Form::Inline => words.push(format!("--{name}={value}")),
        Form::Split => {
            words.push(format!("--{name}"));
            words.push(value.to_string());
        }
        Form::Empty => words.push(format!("--{name}=")),
        Form::Absent => {}
    }
}

#[derive(Debug, Clone)]
struct PodShape {
    component: usize,
    ca: Form,
    cert: Form,
    key: Form,
    gates: Option<String>,
    gates_twice: Option<String>,
    layout: usize,
    terminator: bool,
    /// 0: no volumes; 1: the pki directory mounted; 2: only an unrelated volume mounted;
    /// 3: an unrelated volume mounted, with the name a patch's own volume takes first.
    mounts: usize,
    kind: usize,
    mirror: bool,
    /// A second container, a copy of the first, after the sidecar.
    twin: bool,
}

fn pod_shape() -> impl Strategy<Value = PodShape> {
    (
        (0usize..3, form(), form(), form()),
        (gates(), gates(), 0usize..4, any::<bool>()),
        (0usize..4, 0usize..4, any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(
                (component, ca, cert, key),
                (gates, gates_twice, layout, terminator),
                (mounts, kind, mirror, twin),
            )| PodShape {
                component,
                ca,
                cert,
                key,
                gates,
                gates_twice,
                layout,
                terminator,
                mounts,
                kind,
                mirror,
                twin,
            },
        )
}

fn build_pod(s: &PodShape) -> Value {
    let exe = ["kube-apiserver", "kube-controller-manager", "kubelet"][s.component];
    let mut flags = vec!["--v=2".to_string()];
    if s.component == 0 {
        push_flag(
            &mut flags,
            "kubelet-certificate-authority",
            "/etc/kubernetes/pki/ca.crt",
            s.ca,
        );
        push_flag(
            &mut flags,
            "kubelet-client-certificate",
            "/etc/kubernetes/pki/c.crt",
            s.cert,
        );
        push_flag(
            &mut flags,
            "kubelet-client-key",
            "/etc/kubernetes/pki/c.key",
            s.key,
        );
    } else {
        if let Some(g) = &s.gates {
            flags.push(format!("--feature-gates={g}"));
        }
        if let Some(g) = &s.gates_twice {
            flags.push("--feature-gates".into());
            flags.push(g.clone());
        }
        if s.component == 2 {
            push_flag(&mut flags, "rotate-server-certificates", "false", s.ca);
        }
    }
    if s.terminator {
        flags.push("--".into());
        flags.push("--kubelet-client-key=/ignored".into());
    }
    let mut container = json!({"name": exe, "image": format!("registry.k8s.io/{exe}:v1.34.2")});
    match s.layout {
        0 => {
            let mut cmd = vec![exe.to_string()];
            cmd.extend(flags);
            container["command"] = json!(cmd);
        }
        1 => {
            container["command"] = json!([exe]);
            container["args"] = json!(flags);
        }
        2 => container["args"] = json!(flags),
        _ => {
            let line = format!(
                "exec /usr/local/bin/{exe} {} 2>&1 | tee /var/log/x.log",
                flags
                    .iter()
                    .map(|f| if f.is_empty() {
                        "''".to_string()
                    } else {
                        f.clone()
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            container["command"] = json!(["/bin/sh", "-c", line]);
        }
    }
    let mut spec = json!({"containers": [{"name": "sidecar", "image": "busybox"}]});
    match s.mounts {
        1 => {
            container["volumeMounts"] =
                json!([{"name": "pki", "mountPath": "/etc/kubernetes/pki", "readOnly": true}]);
        }
        2 => {
            container["volumeMounts"] = json!([{"name": "logs", "mountPath": "/var/log/kube"}]);
            spec["volumes"] = json!([{"name": "logs", "emptyDir": {}}]);
        }
        3 => {
            container["volumeMounts"] =
                json!([{"name": "kubelet-tls-guard-pki", "mountPath": "/var/lib/old"}]);
            spec["volumes"] = json!([{"name": "kubelet-tls-guard-pki", "emptyDir": {}}]);
        }
        _ => {}
    }
    let containers = spec["containers"].as_array_mut().unwrap();
    containers.push(container.clone());
    if s.twin {
        container["name"] = json!(format!("{exe}-twin"));
        containers.push(container);
    }
    let mut meta = json!({"name": exe, "namespace": "kube-system", "labels": {"component": exe}});
    if s.mirror {
        meta["annotations"] = json!({"kubernetes.io/config.mirror": "abc"});
    }
    match s.kind {
        0 => json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}),
        1 => {
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {"template": {"metadata": {"labels": {}}, "spec": spec}}})
        }
        2 => {
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta, "spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}})
        }
        _ => {
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta, "spec": {"template": {"spec": spec}}})
        }
    }
}

fn kubelet_config() -> impl Strategy<Value = Value> {
    (
        proptest::option::of(proptest::option::of(any::<bool>())),
        proptest::option::of(any::<bool>()),
        any::<bool>(),
    )
        .prop_map(|(gates, bootstrap, as_configmap)| {
            let mut cfg = json!({"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration", "rotateCertificates": true});
            match gates {
                Some(Some(v)) => cfg["featureGates"] = json!({"KubeletTracing": true, "RotateKubeletServerCertificate": v}),
                Some(None) => cfg["featureGates"] = json!({"KubeletTracing": true}),
                None => {}
            }
            if let Some(b) = bootstrap {
                cfg["serverTLSBootstrap"] = json!(b);
            }
            if as_configmap {
                let text = serde_yaml_ng::to_string(&cfg).unwrap_or_default();
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kubelet-config", "namespace": "kube-system"}, "data": {"kubelet": text}})
            } else {
                cfg
            }
        })
}

fn kubeadm_config() -> impl Strategy<Value = Value> {
    (any::<bool>(), form(), gates(), any::<bool>(), any::<bool>()).prop_map(|(v4, ca, gates, as_configmap, sections)| {
        let mut api = Vec::new();
        let mut cm = Vec::new();
        match ca {
            Form::Inline | Form::Split => api.push(("kubelet-certificate-authority", "/etc/kubernetes/pki/ca.crt".to_string())),
            Form::Empty => api.push(("kubelet-certificate-authority", String::new())),
            Form::Absent => {}
        }
        api.push(("authorization-mode", "Node,RBAC".to_string()));
        if let Some(g) = gates {
            cm.push(("feature-gates", g));
        }
        let args = |pairs: &[(&str, String)]| -> Value {
            if v4 {
                json!(pairs.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>())
            } else {
                Value::Object(pairs.iter().map(|(n, v)| (n.to_string(), json!(v))).collect())
            }
        };
        let version = if v4 { "kubeadm.k8s.io/v1beta4" } else { "kubeadm.k8s.io/v1beta3" };
        let mut cfg = json!({"apiVersion": version, "kind": "ClusterConfiguration", "kubernetesVersion": "v1.34.2"});
        if sections {
            cfg["apiServer"] = json!({"extraArgs": args(&api)});
            cfg["controllerManager"] = json!({"extraArgs": args(&cm)});
        }
        if as_configmap {
            let text = serde_yaml_ng::to_string(&cfg).unwrap_or_default();
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kubeadm-config", "namespace": "kube-system"}, "data": {"ClusterConfiguration": text}})
        } else {
            cfg
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn pods_and_templates(shape in pod_shape(), p in 0usize..3) {
        let obj = build_pod(&shape);
        let policy = &policies()[p];
        if let Err(e) = check_laws(&obj, policy) {
            return Err(TestCaseError::fail(format!("{e}\nobject: {obj:#}")));
        }
    }

    #[test]
    fn kubelet_configs(obj in kubelet_config(), p in 0usize..3) {
        if let Err(e) = check_laws(&obj, &policies()[p]) {
            return Err(TestCaseError::fail(format!("{e}\nobject: {obj:#}")));
        }
    }

    #[test]
    fn kubeadm_configs(obj in kubeadm_config(), p in 0usize..3) {
        if let Err(e) = check_laws(&obj, &policies()[p]) {
            return Err(TestCaseError::fail(format!("{e}\nobject: {obj:#}")));
        }
    }
}

/// A remediation that reports a rule fixed must actually change something for it.
#[test]
fn failing_apiserver_gets_a_patch_with_the_ca_warning() {
    let shape = PodShape {
        component: 0,
        ca: Form::Absent,
        cert: Form::Inline,
        key: Form::Inline,
        gates: None,
        gates_twice: None,
        layout: 0,
        terminator: false,
        mounts: 1,
        kind: 0,
        mirror: false,
        twin: false,
    };
    let obj = build_pod(&shape);
    let rem = engine::remediate(&obj, &Policy::default(), &|_| true).unwrap();
    assert_eq!(rem.patch.len(), 1, "{:?}", rem.patch);
    let op = serde_json::to_value(&rem.patch[0]).unwrap();
    assert_eq!(op["op"], "add");
    assert_eq!(op["path"], "/spec/containers/1/command/-");
    assert_eq!(
        op["value"],
        "--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt"
    );
    assert!(
        rem.warnings
            .iter()
            .any(|w| w.contains("serverTLSBootstrap") && w.len() < 256)
    );
}

#[test]
fn unmounted_path_is_reported_not_patched() {
    let shape = PodShape {
        component: 0,
        ca: Form::Absent,
        cert: Form::Inline,
        key: Form::Inline,
        gates: None,
        gates_twice: None,
        layout: 1,
        terminator: false,
        mounts: 0,
        kind: 1,
        mirror: false,
        twin: false,
    };
    let obj = build_pod(&shape);
    let rem = engine::remediate(&obj, &Policy::default(), &|_| true).unwrap();
    assert!(rem.patch.is_empty(), "{:?}", rem.patch);
    assert!(
        rem.not_remediable
            .iter()
            .any(|(_, why)| why.contains("not mounted")),
        "{:?}",
        rem.not_remediable
    );
}

#[test]
fn every_corpus_object_obeys_the_laws() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if !root.is_dir() {
        skip::skip(&format!(
            "{} is absent; the corpus law test needs the shared corpus",
            root.display()
        ));
        return;
    }
    let mut checked = 0;
    for dir in ["static-pods", "kubelet-config"] {
        let mut entries: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            let text = std::fs::read_to_string(&path).unwrap();
            let Ok(parsed) = inputs::parse(&text) else {
                continue;
            };
            for item in parsed.items {
                if let Item::Object { value, .. } = item {
                    for policy in policies() {
                        check_laws(&value, &policy)
                            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 30, "only {checked} corpus objects checked");
}
