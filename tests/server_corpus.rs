//! Every third-party AdmissionReview in ../shared/corpus/admission-reviews, sent as is to a real
//! TLS server in enforce mode with remediation on (so a wrong "control-plane" guess would show
//! as a denial or a patch). Expectations per file are written from the file and its entry in
//! ../shared/corpus/SOURCES.md; a file without an expectation fails the test, so the corpus
//! cannot grow silently.

mod server_common;

use serde_json::Value;
use server_common::*;

/// What the server must answer for one corpus file (both /validate and /mutate).
#[derive(Debug, Clone, Copy)]
enum Want {
    /// A well-formed AdmissionReview answer (HTTP 200).
    Review {
        api_version: &'static str,
        uid: &'static str,
        allowed: bool,
        patch: bool,
    },
    /// A 4xx with a one-line plain-text reason that contains `reason`.
    Reject { status: u16, reason: &'static str },
}

const V1: &str = "admission.k8s.io/v1";
const V1BETA1: &str = "admission.k8s.io/v1beta1";

const fn ok(api_version: &'static str, uid: &'static str) -> Want {
    Want::Review {
        api_version,
        uid,
        allowed: true,
        patch: false,
    }
}

/// The expectation for each file, and why.
fn expectation(name: &str) -> Option<Want> {
    Some(match name {
        // BARE.*: a bare AdmissionRequest (SOURCES.md: "no apiVersion/kind/request wrapper").
        // The API server never sends this; answering with an AdmissionReview would mean
        // inventing the apiVersion to echo. DESIGN.md section 5: "not an AdmissionReview, no
        // `request`" gets a 400 with a one-line reason, which should say what was sent and what
        // is expected.
        "BARE.kubewarden.deployment-delete.json"
        | "BARE.kubewarden.panic-pod-from-replicaset.json"
        | "BARE.pepr.configmap-create.json"
        | "BARE.pepr.pod-delete-name-mismatch.json" => Want::Reject {
            status: 400,
            reason: "bare AdmissionRequest",
        },
        // MALFORMED: {user, action, resource}: not an AdmissionReview at all → 400.
        "MALFORMED.kwctl.raw-not-k8s.json" => Want::Reject {
            status: 400,
            reason: "AdmissionReview",
        },
        // MALFORMED: {request: {user, action, resource}}: no apiVersion/kind, no uid to echo → 400.
        "MALFORMED.policy-server.raw-review.json" => Want::Reject {
            status: 400,
            reason: "AdmissionReview",
        },
        // MALFORMED for Kubernetes (a numeric annotation value) but a valid AdmissionReview
        // envelope around an nginx Pod. Schema validation is the API server's job; the object is
        // not control-plane related, so it is allowed at once (DESIGN.md section 4). Rejecting it
        // would turn an unrelated oddity into a webhook failure (failurePolicy decides then).
        "MALFORMED.policy-server.pod-numeric-annotation.v1.json" => {
            ok(V1, "1299d386-525b-4032-98ae-1949f69f9cfc")
        }
        // A CRD object (CronTab) UPDATE: not control-plane related.
        "cel-webhook.crontab-update.v1.json" => ok(V1, "705ab4f5-6393-11e8-b7cc-42010a800002"),
        // Underspecified (no kind/operation/namespace) but has uid and an nginx Pod.
        "image-warden.minimal-pod.v1.json" => ok(V1, "uidValue"),
        // Round-trip fixture: placeholders everywhere, a subResource, a CustomType object and
        // a response block in the request: sub-resource requests are allowed at once; the
        // response block of the input is ignored.
        "k8s-api-roundtrip.v1.AdmissionReview.json" => ok(V1, "uidValue"),
        // nginx Deployment with a non-UUID uid: the uid is echoed whatever its form.
        "kubewarden.image-cve-deployment.v1.json" => ok(V1, "12345-67890-abcdef"),
        // A privileged nginx Pod: not our business (only the kubelet TLS link is).
        "kwctl.privileged-pod.v1.json" => ok(V1, "1299d386-525b-4032-98ae-1949f69f9cfc"),
        // v1beta1 reviews: echoed as v1beta1.
        "policy-control.pod.v1beta1.json" => ok(V1BETA1, "14eb0990-4dd4-42b2-add3-f0ca607e78fd"),
        "resource-yamls.pod-create.v1beta1.json" => {
            ok(V1BETA1, "66105089-3471-46ff-b4c8-293546c2aa6c")
        }
        _ => return None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_admission_review() {
    let Some(corpus) = corpus_dir() else {
        return;
    };
    let dir = corpus.join("admission-reviews");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());

    let s = TestServer::start(policy("mode: enforce\nremediate: true\nmirrorPods: deny\n")).await;
    let client = s.h1();
    let mut problems = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(want) = expectation(&name) else {
            problems.push(format!(
                "{name}: no expectation written for this corpus file"
            ));
            continue;
        };
        let body = std::fs::read(path).unwrap();
        for endpoint in ["/validate", "/mutate"] {
            let label = format!("{name} {endpoint}");
            let a = post_bytes(&client, &s.url(endpoint), "application/json", body.clone()).await;
            problems.extend(check(&label, want, &a));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

fn check(label: &str, want: Want, a: &Answer) -> Vec<String> {
    let mut p = Vec::new();
    match want {
        Want::Reject { status, reason } => {
            if a.status != status {
                p.push(format!(
                    "{label}: HTTP {} (expected {status}): {}",
                    a.status, a.text
                ));
            }
            if !a.content_type.starts_with("text/plain") {
                p.push(format!("{label}: content type {:?}", a.content_type));
            }
            let line = a.text.strip_suffix('\n').unwrap_or(&a.text);
            if line.is_empty() || line.contains('\n') {
                p.push(format!("{label}: reason is not one line: {:?}", a.text));
            }
            if !line.contains(reason) {
                p.push(format!("{label}: reason {line:?} does not say {reason:?}"));
            }
            if serde_json::from_str::<Value>(&a.text).is_ok() {
                p.push(format!(
                    "{label}: a rejection must not look like a review: {}",
                    a.text
                ));
            }
        }
        Want::Review {
            api_version,
            uid,
            allowed,
            patch,
        } => {
            if a.status != 200 {
                p.push(format!(
                    "{label}: HTTP {} (expected 200): {}",
                    a.status, a.text
                ));
                return p;
            }
            let r = a.review();
            if r.0["kind"] != "AdmissionReview" {
                p.push(format!("{label}: kind {}", r.0["kind"]));
            }
            if r.api_version() != api_version {
                p.push(format!(
                    "{label}: apiVersion {} (expected {api_version})",
                    r.api_version()
                ));
            }
            if r.uid() != uid {
                p.push(format!("{label}: uid {:?} (expected {uid:?})", r.uid()));
            }
            if r.allowed() != allowed {
                p.push(format!(
                    "{label}: allowed {} (expected {allowed})",
                    r.allowed()
                ));
            }
            if r.has_patch() != patch {
                p.push(format!(
                    "{label}: patch present {} (expected {patch})",
                    r.has_patch()
                ));
            }
            // Not control-plane related: allowed at once, nothing to say.
            if !r.warnings().is_empty() {
                p.push(format!("{label}: unexpected warnings {:?}", r.warnings()));
            }
            if r.response()
                .get("status")
                .is_some_and(|s| s["code"].as_u64().unwrap_or(0) >= 400)
            {
                p.push(format!(
                    "{label}: an error status in an allowed answer: {}",
                    r.0
                ));
            }
        }
    }
    p
}
