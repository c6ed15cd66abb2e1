//! AdmissionReview fixtures shared by the in-process webhook tests (`tests/fixtures/admission/`).

use serde_json::Value;

/// One review from `tests/fixtures/admission/`.
fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/admission/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect("read fixture")).expect("JSON")
}

/// The kube-apiserver Pod fixture without `--kubelet-certificate-authority` (denied, patched).
pub fn violating_pod() -> Value {
    let mut v = fixture("kube-apiserver.pod.json");
    let args = v
        .pointer_mut("/request/object/spec/containers/0/command")
        .and_then(Value::as_array_mut)
        .expect("command");
    let before = args.len();
    args.retain(|a| {
        !a.as_str()
            .is_some_and(|s| s.starts_with("--kubelet-certificate-authority"))
    });
    assert_eq!(args.len(), before - 1, "the fixture sets the CA flag once");
    v
}
