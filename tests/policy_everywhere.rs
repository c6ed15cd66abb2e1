//! The policy is applied in one place (engine::verdict), so the webhook, `check` and `fix` agree:
//! a rule in mode `off` is not reported, denied or patched; an exempt object is neither denied
//! nor patched, and `check` reports its rules as `skip`, naming the exemption.

use kubelet_tls_guard::engine::policy::Policy;
use kubelet_tls_guard::node::check::audit_text;
use kubelet_tls_guard::node::fix::fix_text;
use kubelet_tls_guard::report::{Record, exit_code};
use kubelet_tls_guard::server::admission::AdmissionRequest;
use kubelet_tls_guard::server::decide::{Decision, Endpoint, decide};
use serde_json::Value;

const POLICY: &str = "
mode: enforce
rules:
  apiserver-kubelet-ca: {mode: off}
exemptions:
  - {namespace: tenant-*, name: '*'}
";

/// A kube-apiserver without the kubelet CA flag and without the client certificate pair.
fn apiserver(namespace: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata: {{name: kube-apiserver, namespace: {namespace}}}
spec:
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.34.2
    command: [kube-apiserver, --secure-port=6443]
    volumeMounts:
    - {{name: k8s-certs, mountPath: /etc/kubernetes/pki, readOnly: true}}
  volumes:
  - name: k8s-certs
    hostPath: {{path: /etc/kubernetes/pki}}
"
    )
}

fn policy() -> Policy {
    Policy::from_yaml(POLICY, "test").expect("policy parses")
}

fn rules(records: &[Record]) -> Vec<(String, String)> {
    records
        .iter()
        .filter_map(|r| Some((r.rule?.as_str().to_string(), r.status.as_str().to_string())))
        .collect()
}

fn request(text: &str) -> AdmissionRequest {
    let obj: Value = serde_yaml_ng::from_str(text).expect("yaml");
    AdmissionRequest {
        uid: Some("u".into()),
        operation: Some("CREATE".into()),
        object: Some(obj),
        ..Default::default()
    }
}

#[test]
fn check_does_not_report_an_off_rule() {
    let records = audit_text("p.yaml", &apiserver("kube-system"), &policy());
    let got = rules(&records);
    assert!(
        !got.iter().any(|(r, _)| r == "apiserver-kubelet-ca"),
        "{got:?}"
    );
    assert!(got.contains(&("apiserver-kubelet-client-cert".into(), "fail".into())));
    assert_eq!(exit_code(&records), 1);
    // Everything off: nothing to report, nothing fails.
    let off = Policy::from_yaml("mode: off", "test").expect("policy");
    let records = audit_text("p.yaml", &apiserver("kube-system"), &off);
    assert!(rules(&records).is_empty(), "{records:#?}");
    assert_eq!(exit_code(&records), 0);
}

#[test]
fn check_reports_an_exempt_object_as_skip_naming_the_exemption() {
    let records = audit_text("p.yaml", &apiserver("tenant-a"), &policy());
    assert!(!records.is_empty());
    for r in &records {
        assert_eq!(r.status.as_str(), "skip", "{r:?}");
        assert!(r.message.contains("exempt by policy"), "{r:?}");
        assert!(r.message.contains("tenant-*"), "{r:?}");
    }
    assert_eq!(exit_code(&records), 0);
}

#[test]
fn fix_leaves_off_rules_and_exempt_objects_alone() {
    let fixed = fix_text(&apiserver("kube-system"), &policy()).expect("fix");
    assert!(
        fixed.text.contains("--kubelet-client-certificate="),
        "{}",
        fixed.text
    );
    assert!(
        !fixed.text.contains("--kubelet-certificate-authority"),
        "an off rule was patched:\n{}",
        fixed.text
    );
    let exempt = fix_text(&apiserver("tenant-a"), &policy()).expect("fix");
    assert_eq!(exempt.text, apiserver("tenant-a"));
    assert!(exempt.notes.iter().any(|n| n.contains("exempt by policy")));
}

#[test]
fn the_webhook_agrees() {
    let p = policy();
    let out = decide(Endpoint::Validate, &request(&apiserver("kube-system")), &p);
    assert_eq!(out.decision, Decision::Denied);
    let message = &out.response.status.as_ref().expect("status").message;
    assert!(
        message.contains("apiserver-kubelet-client-cert"),
        "{message}"
    );
    assert!(!message.contains("[apiserver-kubelet-ca]"), "{message}");
    let patched = decide(Endpoint::Mutate, &request(&apiserver("kube-system")), &p);
    let patch = String::from_utf8(patched.response.patch.clone().expect("a patch")).expect("utf-8");
    assert!(patch.contains("--kubelet-client-certificate="), "{patch}");
    assert!(!patch.contains("kubelet-certificate-authority"), "{patch}");
    for ep in [Endpoint::Validate, Endpoint::Mutate] {
        let out = decide(ep, &request(&apiserver("tenant-a")), &p);
        assert_eq!(out.decision, Decision::Exempt);
        assert!(out.response.allowed && out.response.patch.is_none());
    }
}
