use crate::engine;
use crate::engine::policy::Policy;
use serde_json::{Value, json};

fn mounting() -> Policy {
    let mut p = Policy::default();
    p.remediation.add_host_path_volume = true;
    p
}

/// A kube-apiserver container with none of the three flags, and no mounts.
fn apiserver(name: &str) -> Value {
    json!({"name": name, "image": "registry.k8s.io/kube-apiserver:v1.34.2",
        "command": ["kube-apiserver", "--v=2"]})
}

fn patched(obj: &Value) -> Value {
    let rem = engine::remediate(obj, &mounting(), &|_| true).unwrap();
    assert!(rem.not_remediable.is_empty(), "{:?}", rem.not_remediable);
    let mut out = obj.clone();
    json_patch::patch(&mut out, &rem.patch).unwrap();
    let again = engine::remediate(&out, &mounting(), &|_| true).unwrap();
    assert!(again.patch.is_empty(), "not idempotent: {:?}", again.patch);
    out
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .map(|a| a.iter().filter_map(|v| v["name"].as_str()).collect())
        .unwrap_or_default()
}

/// The mount the patch added to a container for `/etc/kubernetes/pki`: its volume's name.
fn pki_mount(container: &Value) -> &str {
    container["volumeMounts"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["mountPath"] == "/etc/kubernetes/pki"))
        .and_then(|m| m["name"].as_str())
        .unwrap_or_else(|| panic!("no mount of /etc/kubernetes/pki: {container}"))
}

/// A volume already named as the patch would name its own (an earlier patch's, kept when the
/// flag was removed) is not repeated: the API server rejects a pod whose volumes repeat a name.
#[test]
fn a_new_volume_takes_a_name_the_pod_has_not() {
    let mut container = apiserver("kube-apiserver");
    container["volumeMounts"] =
        json!([{"name": "kubelet-tls-guard-pki", "mountPath": "/var/lib/old"}]);
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "n"},
        "spec": {"containers": [container], "volumes": [
            {"name": "kubelet-tls-guard-pki", "emptyDir": {}},
            {"name": "kubelet-tls-guard-pki-1", "emptyDir": {}}]}});
    let out = patched(&pod);
    let volumes = names(&out["spec"]["volumes"]);
    assert_eq!(
        volumes,
        [
            "kubelet-tls-guard-pki",
            "kubelet-tls-guard-pki-1",
            "kubelet-tls-guard-pki-2"
        ]
    );
    assert_eq!(
        out["spec"]["volumes"][2]["hostPath"]["path"],
        "/etc/kubernetes/pki"
    );
    assert_eq!(
        pki_mount(&out["spec"]["containers"][0]),
        "kubelet-tls-guard-pki-2"
    );
}

/// Two containers of one pod that need the same directory mount one added volume, whether the
/// pod had a `volumes` list or not: a second `add` of the whole list replaced the first, and
/// a second append repeated its name.
#[test]
fn containers_of_one_pod_share_the_volume_the_patch_adds() {
    for volumes in [
        None,
        Some(json!([])),
        Some(json!([{"name": "logs", "emptyDir": {}}])),
    ] {
        let mut spec = json!({"containers": [
            apiserver("kube-apiserver"),
            {"name": "sidecar", "image": "busybox"},
            apiserver("kube-apiserver-canary")]});
        if let Some(v) = &volumes {
            spec["volumes"] = v.clone();
        }
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "a", "namespace": "n"},
            "spec": {"template": {"metadata": {}, "spec": spec}}});
        let out = patched(&deployment);
        let spec = &out["spec"]["template"]["spec"];
        let added: Vec<&Value> = spec["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["hostPath"]["path"] == "/etc/kubernetes/pki")
            .collect();
        assert_eq!(added.len(), 1, "one volume for the directory: {spec}");
        let name = added[0]["name"].as_str().unwrap();
        assert_eq!(pki_mount(&spec["containers"][0]), name, "{spec}");
        assert_eq!(pki_mount(&spec["containers"][2]), name, "{spec}");
        let all = names(&spec["volumes"]);
        let mut unique = all.clone();
        unique.sort_unstable();
        unique.dedup();
        unique.sort_by_key(|n| all.iter().position(|a| a == n));
        assert_eq!(all, unique, "{spec}");
        if volumes.as_ref().is_some_and(|v| v[0]["name"] == "logs") {
            assert_eq!(all[0], "logs", "the pod's own volume is kept: {spec}");
        }
    }
}
