use super::*;

#[test]
fn delete_connect_subresource_and_no_object_are_allowed_at_once() {
    let policy = Policy::default();
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}});
    for (op, sub, obj, why) in [
        ("DELETE", None, Some(pod.clone()), "operation"),
        ("CONNECT", None, Some(pod.clone()), "operation"),
        ("UPDATE", Some("status"), Some(pod.clone()), "subresource"),
        ("CREATE", None, None, "no object"),
    ] {
        let req = AdmissionRequest {
            uid: Some("u".into()),
            operation: Some(op.into()),
            sub_resource: sub.map(str::to_string),
            object: obj,
            ..Default::default()
        };
        for ep in [Endpoint::Validate, Endpoint::Mutate] {
            let out = decide(ep, &req, &policy);
            assert!(out.response.allowed);
            assert_eq!(out.skipped, Some(why));
            assert!(out.response.patch.is_none());
            assert!(out.response.warnings.is_empty());
        }
    }
}

/// A patched pod's warning, annotations and pointers read as written: appended to the command,
/// and a flag set empty replaced where it stands; in enforce and in dry-run.
#[test]
fn a_patch_is_reported_as_written() {
    let pod = |ca: Option<&str>| {
        let mut command = vec!["kube-apiserver", "--kubelet-client-certificate=/c"];
        command.extend(ca);
        command.push("--kubelet-client-key=/k");
        serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "api", "namespace": "kube-system"},
            "spec": {"containers": [{"name": "api", "command": command,
                "volumeMounts": [{"name": "pki", "mountPath": "/etc/kubernetes/pki"}]}]}})
    };
    let fix = "--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt";
    for (ca, op) in [
        (
            None,
            r#"{"op":"add","path":"/spec/containers/0/command/-","value":"#,
        ),
        (
            Some("--kubelet-certificate-authority="),
            r#"{"op":"replace","path":"/spec/containers/0/command/2","value":"#,
        ),
    ] {
        for (mode, dry_run) in [("enforce", false), ("dry-run", true)] {
            let policy = Policy::from_yaml(&format!("mode: {mode}\n"), "test").expect("policy");
            let req = AdmissionRequest {
                uid: Some("u".into()),
                operation: Some("CREATE".into()),
                object: Some(pod(ca)),
                ..Default::default()
            };
            let out = decide(Endpoint::Mutate, &req, &policy);
            let r = &out.response;
            let notes = &r.audit_annotations;
            let patch = notes.get(if dry_run { "would-patch" } else { "patch" });
            assert_eq!(patch, Some(&format!("[{op}\"{fix}\"}}]")), "{ca:?} {mode}");
            let note = notes.get("apiserver-kubelet-ca").map(String::as_str);
            if dry_run {
                assert_eq!(note, Some(&*format!("would patch (dry-run): set {fix}")));
                assert!(r.patch.is_none());
            } else {
                assert_eq!(note, Some(&*format!("patched: set {fix}")));
                let warning = format!(
                    "{WARNING_PREFIX}patched [apiserver-kubelet-ca] (CIS 1.2.5/1.2.6): set {fix}"
                );
                assert!(r.warnings.contains(&warning), "{:?}", r.warnings);
                assert_eq!(r.patch.as_deref(), patch.map(|p| p.as_bytes()));
            }
        }
    }
}
