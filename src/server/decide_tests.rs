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
