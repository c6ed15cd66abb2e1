//! Variants of the admission fixtures for the lean-versus-full answer test (`server_lean.rs`):
//! each object renamed, moved, re-kinded, stripped of its CA flag, with sidecars, and the
//! ConfigMaps the engine reads in odd shapes.

use serde_json::{Value, json};

/// The variants of `bodies` (name, AdmissionReview bytes), and of two ConfigMaps.
pub fn variants(bodies: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    let mut variants = Vec::new();
    for (name, body) in bodies {
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            continue;
        };
        if v.pointer("/request/object").is_none_or(|o| !o.is_object()) {
            continue;
        }
        for (field, value) in [
            ("/request/object/metadata/namespace", json!("default")),
            ("/request/object/metadata/name", json!("kubeadm-config")),
            ("/request/object/kind", json!("ConfigMap")),
            ("/request/object/kind", json!("Secret")),
        ] {
            let mut w = v.clone();
            if let Some(slot) = w.pointer_mut(field) {
                *slot = value.clone();
                variants.push((
                    format!("{name} {field}={value}"),
                    w.to_string().into_bytes(),
                ));
            }
        }
        // The request names kubelet-config, whatever the object is: the ConfigMap pass must
        // not prune another kind's object as a ConfigMap.
        let mut w = v.clone();
        if let Some(Value::Object(r)) = w.get_mut("request") {
            r.insert(
                "kind".into(),
                json!({"group": "", "version": "v1", "kind": "ConfigMap"}),
            );
            r.insert("name".into(), json!("kubelet-config"));
            r.insert("namespace".into(), json!("kube-system"));
            variants.push((
                format!("{name} named as kubelet-config"),
                w.to_string().into_bytes(),
            ));
        }
        // The object says ConfigMap first and its own kind after: the last is its kind.
        if let Some(object) = v.pointer("/request/object") {
            let text = object.to_string();
            let twice = format!("{{\"kind\":\"ConfigMap\",{}", &text[1..]);
            for request_kind in [
                json!({"group": "", "version": "v1", "kind": "ConfigMap"}),
                Value::Null,
            ] {
                let mut w = v.clone();
                w["request"]["object"] = json!("OBJECT");
                w["request"]["kind"] = request_kind.clone();
                w["request"]["name"] = json!("kubelet-config");
                let body = w.to_string().replace("\"OBJECT\"", &twice);
                variants.push((
                    format!("{name} kind twice, {request_kind}"),
                    body.into_bytes(),
                ));
            }
        }
        // A mirror pod known by its Node owner alone: the pod pass keeps each owner's kind.
        let mut w = v.clone();
        if let Some(Value::Object(a)) = w.pointer_mut("/request/object/metadata/annotations")
            && a.remove("kubernetes.io/config.mirror").is_some()
        {
            variants.push((
                format!("{name} owned by its Node"),
                w.to_string().into_bytes(),
            ));
        }
        // A pod or workload that a patch fixes (no CA flag, not a mirror), with its volumes and
        // mounts as fixtures write them, absent, and of another type: a patch reads the mounts'
        // paths and whether the volumes are a list, which is all the pruned pod keeps of them.
        let mut w = v.clone();
        if let Some(Value::Object(meta)) = w.pointer_mut("/request/object/metadata") {
            meta.remove("ownerReferences");
            if let Some(Value::Object(a)) = meta.get_mut("annotations") {
                a.remove("kubernetes.io/config.mirror");
            }
        }
        let mut unfixed = false;
        for spec in ["/request/object/spec", "/request/object/spec/template/spec"] {
            let Some(Value::Array(list)) = w.pointer_mut(&format!("{spec}/containers")) else {
                continue;
            };
            for c in list.iter_mut() {
                for key in ["command", "args"] {
                    if let Some(Value::Array(words)) = c.get_mut(key) {
                        let before = words.len();
                        words.retain(|a| {
                            !a.as_str()
                                .is_some_and(|s| s.starts_with("--kubelet-certificate-authority"))
                        });
                        unfixed |= words.len() < before;
                    }
                }
            }
            if !unfixed {
                continue;
            }
            // `None`: the member removed.
            for (at, value) in [
                ("volumes", None),
                ("volumes", Some(json!({}))),
                ("containers/0/volumeMounts", None),
                ("containers/0/volumeMounts", Some(json!("odd"))),
            ] {
                let mut odd = w.clone();
                let pointer = format!("{spec}/{at}");
                let (parent, key) = pointer.rsplit_once('/').unwrap_or_default();
                let Some(Value::Object(members)) = odd.pointer_mut(parent) else {
                    continue;
                };
                match &value {
                    None => members.shift_remove(key),
                    Some(v) => members.insert(key.to_string(), v.clone()),
                };
                variants.push((
                    format!("{name} unfixed, {at} {value:?}"),
                    odd.to_string().into_bytes(),
                ));
            }
            // A volume has the name a patch's own takes first: the patch takes another,
            // which it reads from the names the pruned pod keeps.
            let mut named = w.clone();
            if let Some(Value::Array(volumes)) = named.pointer_mut(&format!("{spec}/volumes")) {
                volumes.push(json!({"name": "kubelet-tls-guard-pki", "emptyDir": {}}));
                variants.push((
                    format!("{name} unfixed, a volume named as a patch's"),
                    named.to_string().into_bytes(),
                ));
            }
        }
        if unfixed {
            variants.push((format!("{name} unfixed"), w.to_string().into_bytes()));
        }
        // Sidecars around a pod's containers: the quick pod pass leaves those after the first
        // unbuilt, and every pointer into the list must still be the full parse's.
        let mut w = v.clone();
        if let Some(Value::Array(list)) = [
            "/request/object/spec/containers",
            "/request/object/spec/template/spec/containers",
            "/request/object/spec/jobTemplate/spec/template/spec/containers",
        ]
        .into_iter()
        .find(|p| w.pointer(p).is_some())
        .and_then(|p| w.pointer_mut(p))
        {
            let sidecar = |n: u32| {
                json!({"name": format!("sidecar-{n}"), "image": "registry.example/sidecar:1.0",
                    "args": ["--port", format!("{}", 9000 + n)], "resources": {},
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}]})
            };
            list.insert(0, sidecar(1));
            list.insert(0, sidecar(0));
            list.push(sidecar(2));
            variants.push((format!("{name} with sidecars"), w.to_string().into_bytes()));
        }
    }
    // A ConfigMap the engine reads is built with its identity and read keys alone: around them,
    // other data, metadata the engine never reads, and odd shapes of what it does read.
    let config_maps = ["kubelet-config", "kubeadm-config"].map(|name| {
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "u", "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
            "name": name, "namespace": "kube-system", "operation": "UPDATE",
            "object": {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "kube-system", "labels": {"a": "b"},
                    "managedFields": [{"manager": "kubeadm", "fieldsV1": {"f:data": {}}}]},
                "data": {"ClusterStatus": "apiEndpoints: {}\n", "other": "x: 1\n",
                    "kubelet": "kind: KubeletConfiguration\nserverTLSBootstrap: false\n",
                    "ClusterConfiguration": "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\ncontrollerManager: {}\n"},
                "binaryData": {"blob": "AAAA"}}}})
    });
    for (i, v) in config_maps.into_iter().enumerate() {
        for (field, value) in [
            ("", Value::Null),
            ("/request/object/data", json!(["not", "a", "mapping"])),
            ("/request/object/data/kubelet", json!(7)),
            ("/request/object/data/ClusterConfiguration", json!({"a": 1})),
            ("/request/object/metadata/name", json!(["x"])),
            ("/request/object/metadata/namespace", json!("default")),
            ("/request/object/kind", json!("Secret")),
            ("/request/uid", Value::Null),
        ] {
            let mut w = v.clone();
            if let Some(slot) = w.pointer_mut(field).filter(|_| !field.is_empty()) {
                *slot = value.clone();
            }
            // A field after the object, as the first pass does not see it.
            if field == "/request/uid"
                && let Some(Value::Object(r)) = w.get_mut("request")
            {
                r.shift_remove("uid");
                r.insert("uid".into(), json!("after"));
            }
            variants.push((
                format!("ConfigMap {i} {field}={value}"),
                w.to_string().into_bytes(),
            ));
        }
    }
    variants
}
