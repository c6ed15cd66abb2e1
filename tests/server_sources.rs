//! The declared sources as admission targets (issue 13 point 4), through a real TLS server:
//! KubeadmControlPlane (v1beta1 map and v1beta2 list), KubeadmConfigTemplate, KubeadmConfig and
//! TenantControlPlane × {enforce, dry-run} × {/validate, /mutate}. Then the patch laws through
//! the server: the patch applies, the result is allowed in enforce mode, and /mutate on the
//! result returns no patch.

mod server_common;

use serde_json::{Value, json};
use server_common::*;

const CA: &str = "apiserver-kubelet-ca";
const CM: &str = "controller-manager-rotate-kubelet-server-cert";
const KROT: &str = "kubelet-rotate-server-cert";
const KBOOT: &str = "kubelet-server-tls-bootstrap";

fn yaml_fixture(rel: &str) -> Value {
    let path = crate_dir().join("tests/fixtures/sources").join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

/// An AdmissionReview of `obj` as the API server sends it for a custom resource.
fn review(obj: &Value, group: &str, version: &str, resource: &str) -> Value {
    let kind = obj["kind"].clone();
    let gvk = json!({"group": group, "version": version, "kind": kind});
    let gvr = json!({"group": group, "version": version, "resource": resource});
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "6f1c1a4e-0d6a-4c1e-9d8e-3d1f0b7c2a55",
            "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
            "name": obj["metadata"]["name"], "namespace": obj["metadata"].get("namespace").cloned().unwrap_or(json!("default")),
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:capi-system:capi-controller-manager"},
            "object": obj, "oldObject": null, "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
        }
    })
}

struct Case {
    label: &'static str,
    review: Value,
    /// The rules this object fails, and a substring of the fix each message must carry.
    failing: Vec<(&'static str, &'static str)>,
}

fn cases() -> Vec<Case> {
    let kcp1 = yaml_fixture("capi/hetzner-hcloud-kcp.v1beta1.yaml");
    let kcp2 = yaml_fixture("capi/hetzner-hcloud-kcp.v1beta2.yaml");
    let kct = yaml_fixture("capi/hetzner-kct-md-0.v1beta2.yaml");
    // A KubeadmConfig is what CAPI stamps out of a template for one machine.
    let mut kc = kct.clone();
    kc["kind"] = json!("KubeadmConfig");
    kc["metadata"]["name"] = json!("md-0-abcde");
    kc["spec"] = kct["spec"]["template"]["spec"].clone();
    let tcp = yaml_fixture("kamaji/tenantcontrolplane.sample.yaml");
    vec![
        Case {
            label: "KubeadmControlPlane v1beta1",
            review: review(
                &kcp1,
                "controlplane.cluster.x-k8s.io",
                "v1beta1",
                "kubeadmcontrolplanes",
            ),
            failing: vec![
                (CA, "kubelet-certificate-authority"),
                (CM, "RotateKubeletServerCertificate=true"),
                (KROT, "feature-gates"),
            ],
        },
        Case {
            label: "KubeadmControlPlane v1beta2",
            review: review(
                &kcp2,
                "controlplane.cluster.x-k8s.io",
                "v1beta2",
                "kubeadmcontrolplanes",
            ),
            failing: vec![
                (CA, "kubelet-certificate-authority"),
                (CM, "RotateKubeletServerCertificate=true"),
                (KROT, "feature-gates"),
                (KBOOT, "rotate-server-certificates"),
            ],
        },
        Case {
            label: "KubeadmConfigTemplate v1beta2",
            review: review(
                &kct,
                "bootstrap.cluster.x-k8s.io",
                "v1beta2",
                "kubeadmconfigtemplates",
            ),
            failing: vec![(KROT, "feature-gates")],
        },
        Case {
            label: "KubeadmConfig v1beta2",
            review: review(
                &kc,
                "bootstrap.cluster.x-k8s.io",
                "v1beta2",
                "kubeadmconfigs",
            ),
            failing: vec![(KROT, "feature-gates")],
        },
        Case {
            label: "TenantControlPlane",
            review: review(&tcp, "kamaji.clastix.io", "v1alpha1", "tenantcontrolplanes"),
            failing: vec![
                (
                    CA,
                    "--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt",
                ),
                (CM, "RotateKubeletServerCertificate=true"),
            ],
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforce_validate_denies_naming_each_rule_and_fix() {
    let s = TestServer::start(policy("mode: enforce\n")).await;
    for c in cases() {
        let r = s.post("/validate", &c.review).await.review();
        assert!(!r.allowed(), "{}: allowed", c.label);
        assert_eq!(r.status_code(), Some(403), "{}", c.label);
        for (rule, fix) in &c.failing {
            assert!(
                r.message().contains(rule),
                "{}: {rule} missing: {}",
                c.label,
                r.message()
            );
            assert!(
                r.message().contains(fix),
                "{}: fix {fix} missing: {}",
                c.label,
                r.message()
            );
        }
        for other in [CA, CM, KROT, KBOOT] {
            if !c.failing.iter().any(|(x, _)| *x == other) {
                assert!(
                    !r.message().contains(other),
                    "{}: {other} does not fail: {}",
                    c.label,
                    r.message()
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_validate_allows_with_warnings_and_audit() {
    let s = TestServer::start(policy("mode: dry-run\n")).await;
    for c in cases() {
        let r = s.post("/validate", &c.review).await.review();
        assert!(r.allowed(), "{}", c.label);
        let warnings = r.warnings().join("\n");
        let audit = r.audit_text();
        for (rule, _) in &c.failing {
            assert!(
                warnings.contains(rule),
                "{}: {rule} not warned: {warnings}",
                c.label
            );
            assert!(
                audit.contains(rule),
                "{}: {rule} not audited: {audit}",
                c.label
            );
        }
        assert!(r.warnings().iter().all(|w| w.len() < 256), "{}", c.label);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_mutate_shows_the_patch_without_applying_it() {
    let s = TestServer::start(policy("mode: dry-run\n")).await;
    for c in cases() {
        let r = s.post("/mutate", &c.review).await.review();
        assert!(r.allowed(), "{}", c.label);
        assert!(!r.has_patch(), "{}: dry-run patched", c.label);
        let said = format!("{}\n{}", r.warnings().join("\n"), r.audit_text());
        assert!(
            said.contains("/spec/"),
            "{}: would-be patch not shown: {said}",
            c.label
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforce_mutate_patches_in_the_source_form_and_obeys_the_laws() {
    let s = TestServer::start(policy("mode: enforce\n")).await;
    for c in cases() {
        let r = s.post("/mutate", &c.review).await.review();
        assert!(r.allowed(), "{}", c.label);
        let patch = r.patch().unwrap_or_else(|| panic!("{}: no patch", c.label));
        let obj = &c.review["request"]["object"];
        let fixed = apply_patch(obj, &patch).unwrap_or_else(|e| panic!("{}: {e}", c.label));
        // Form kept: v1beta2 adds {name, value} items, v1beta1 map keys, Kamaji --flag=value.
        let text = patch.to_string();
        match c.label {
            l if l.contains("v1beta2") => assert!(text.contains("\"name\":"), "{l}: {text}"),
            l if l.contains("v1beta1") => assert!(!text.contains("\"name\":"), "{l}: {text}"),
            l => assert!(
                text.contains("--kubelet-certificate-authority="),
                "{l}: {text}"
            ),
        }
        let again = with_object(&c.review, &fixed);
        let v = s.post("/validate", &again).await.review();
        assert!(
            v.allowed(),
            "{}: the patched object is still denied: {}",
            c.label,
            v.message()
        );
        let m = s.post("/mutate", &again).await.review();
        assert!(
            m.patch().is_none(),
            "{}: second mutate patched again",
            c.label
        );
    }
}
