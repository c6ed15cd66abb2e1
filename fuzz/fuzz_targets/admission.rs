//! AdmissionReview bodies → parse → decide (validate and mutate, two policies) → render.
//!
//! Invariants: no panic; every warning is under 256 bytes; a patch is valid JSON, applies to
//! the request object, and mutating the patched object again gives no patch; a mirror pod is
//! never patched; the rendered answer is JSON echoing the uid. The webhook's own parse (a lean
//! first pass that leaves irrelevant objects unbuilt) gives the same verdicts and patches as the
//! full parse.

#![no_main]

use kubelet_tls_guard::engine::policy::Policy;
use kubelet_tls_guard::server::admission::{self, AdmissionRequest};
use kubelet_tls_guard::server::decide::{Endpoint, decide};
use kubelet_tls_guard::server::lean;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::LazyLock;

const ENFORCE: &str = "mode: enforce\nremediation:\n  addHostPathVolume: true\n";

static POLICIES: LazyLock<[Policy; 2]> = LazyLock::new(|| {
    [
        Policy::default(),
        Policy::from_yaml(ENFORCE, "<fuzz enforce>").expect("the enforce policy parses"),
    ]
});

fn is_mirror_pod(obj: &Value) -> bool {
    obj.get("kind").and_then(Value::as_str) == Some("Pod")
        && obj
            .pointer("/metadata/annotations")
            .and_then(|a| a.get("kubernetes.io/config.mirror"))
            .is_some()
}

fn check_patch(req: &AdmissionRequest, patch: &[u8], policy: &Policy) {
    let ops: json_patch::Patch = serde_json::from_slice(patch).unwrap_or_else(|e| {
        panic!(
            "patch is not a JSON Patch: {e}\n{}",
            String::from_utf8_lossy(patch)
        )
    });
    let mut patched = req.object.clone().expect("a patch implies an object");
    json_patch::patch(&mut patched, &ops).unwrap_or_else(|e| {
        panic!(
            "patch does not apply: {e}\n{}",
            String::from_utf8_lossy(patch)
        )
    });
    let again = AdmissionRequest {
        object: Some(patched),
        ..req.clone()
    };
    let second = decide(Endpoint::Mutate, &again, policy);
    assert!(
        second.response.patch.is_none(),
        "mutating the patched object patches again:\nfirst: {}\nsecond: {}",
        String::from_utf8_lossy(patch),
        String::from_utf8_lossy(second.response.patch.as_deref().unwrap_or_default())
    );
}

fuzz_target!(|data: &[u8]| {
    let endpoints = [Endpoint::Validate, Endpoint::Mutate];
    let Ok(review) = admission::parse_review(data) else {
        return;
    };
    for endpoint in endpoints {
        for policy in POLICIES.iter() {
            // What the lean pass builds depends on the policy (a pod's volumes).
            let Ok(lean) = lean::parse(data, endpoint, policy) else {
                continue;
            };
            let full = decide(endpoint, &review.request, policy).response;
            let quick = decide(endpoint, &lean.request, policy).response;
            assert_eq!(
                (full.allowed, &full.patch),
                (quick.allowed, &quick.patch),
                "the lean parse changed the answer"
            );
        }
    }
    let req = &review.request;
    let mirror = req.object.as_ref().is_some_and(is_mirror_pod);
    for policy in POLICIES.iter() {
        for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
            let out = decide(endpoint, req, policy);
            let r = &out.response;
            for w in &r.warnings {
                assert!(w.len() < 256, "warning of {} bytes: {w}", w.len());
            }
            if let Some(patch) = &r.patch {
                assert_eq!(endpoint, Endpoint::Mutate, "validate answered with a patch");
                assert!(!mirror, "a mirror pod was patched");
                check_patch(req, patch, policy);
            }
            let body = admission::render(review.api_version, req.uid(), r)
                .expect("every decision renders");
            let v: Value = serde_json::from_slice(&body).expect("the answer is JSON");
            assert_eq!(v["response"]["uid"].as_str(), Some(req.uid()));
        }
    }
});
