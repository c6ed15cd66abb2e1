//! The quick first pass reads what the serde reader reads, or says it is not sure.

use super::super::read as serde_read;
use super::*;
use serde_json::{Value, json};

use crate::skip;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/admission/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fixtures() -> Vec<(String, String)> {
    let dir = format!("{}/tests/fixtures/admission", env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("fixture dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .map(|n| (n.clone(), fixture(&n)))
        .collect();
    out.sort();
    assert!(out.len() >= 10, "fixtures: {}", out.len());
    out
}

/// Everything a first read hands on, as text.
fn describe(r: &FirstRead<'_>) -> String {
    let q = &r.request;
    let object = match &q.object {
        Object::Read(o) => format!("read {o:?} relevant={}", o.may_be_relevant()),
        Object::NotRead => "not read".into(),
        Object::Component(rest) => format!("component {rest:?}"),
        Object::Whole(rest) => format!("whole {:?}", rest.map(|r| (r.object_at, r.seen))),
    };
    format!(
        "{} {} uid={:?} kind={:?} sub={:?} name={:?} ns={:?} op={:?} dry={:?} {object}",
        r.api_version,
        r.kind,
        q.uid,
        q.kind,
        q.sub_resource,
        q.name,
        q.namespace,
        q.operation,
        q.dry_run
    )
}

fn serde(text: &str) -> Option<String> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_read(&mut de, text.as_bytes(), false).map(|r| describe(&r))
}

/// The quick read of `text`, checked against the serde reader's when it is sure.
fn quick(text: &str) -> Option<String> {
    let q = read(text).map(|r| describe(&r));
    if let Some(q) = &q {
        assert_eq!(Some(q), serde(text).as_ref(), "{text}");
    }
    q
}

/// Each fixture as written, compact and pretty-printed, reads as the serde reader reads it,
/// and the quick read is sure of every one.
#[test]
fn every_fixture_reads_as_with_serde() {
    for (name, text) in fixtures() {
        let v: Value = serde_json::from_str(&text).expect("fixture");
        let compact = serde_json::to_string(&v).expect("json");
        let pretty = serde_json::to_string_pretty(&v).expect("json");
        for body in [&text, &compact, &pretty] {
            assert!(quick(body).is_some(), "{name}: not sure of\n{body}");
        }
    }
}

fn review(request: Value) -> String {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})
        .to_string()
}

fn pod(containers: Value) -> Value {
    json!({
        "uid": "u-1",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "name": "web",
        "namespace": "shop",
        "operation": "CREATE",
        "userInfo": {"username": "admin"},
        "object": {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {"containers": containers},
        },
        "oldObject": null,
        "dryRun": false,
    })
}

#[test]
fn a_pod_stops_where_the_serde_reader_stops() {
    let runs = |c: Value| quick(&review(pod(json!([c])))).expect("sure");
    let plain = runs(json!({"name": "web", "image": "nginx:1.27", "args": ["-g", "daemon off;"]}));
    assert!(plain.contains("relevant=false"), "{plain}");
    for c in [
        json!({"image": "registry.k8s.io/kube-apiserver:v1.33.0"}),
        json!({"image": "busybox", "command": ["kube-scheduler", "--v=2"]}),
        json!({"image": "busybox", "command": ["/bin/sh", "-c", "exec kubelet"]}),
    ] {
        let d = runs(c.clone());
        assert!(d.contains("component Some(Rest"), "{c}: {d}");
    }
    // `args` alone never stops the read: the serde reader reads the pod whole.
    let d = runs(json!({"image": "busybox", "args": ["kube-proxy"]}));
    assert!(d.contains("relevant=true"), "{d}");
}

/// A pod or workload whose name holds `kube` most likely runs a component: both readers stop
/// at its object, which the pod pass then reads once, whatever its containers run. Any other
/// name is read for relevance as before.
#[test]
fn a_pod_named_kube_is_read_once() {
    let named = |kind: &str, name: &str| {
        let mut r = pod(json!([{"name": "web", "image": "nginx:1.27"}]));
        r["kind"]["kind"] = json!(kind);
        r["object"]["kind"] = json!(kind);
        r["name"] = json!(name);
        quick(&review(r)).expect("sure")
    };
    for (kind, name) in [
        ("Pod", "kube-proxy-x7k2p"),
        ("Deployment", "kube-apiserver"),
    ] {
        let d = named(kind, name);
        assert!(d.contains("component Some(Rest { object_at: "), "{d}");
    }
    // Not a pod kind, or not named `kube…`: the object is read.
    assert!(named("Pod", "web").contains("relevant=false"));
    assert!(named("Service", "kube-dns").contains("read "));
    // Where the pod pass picks up: the object's opening brace.
    let mut r = pod(json!([{"name": "web", "image": "nginx"}]));
    r["name"] = json!("kube-proxy-x7k2p");
    let text = review(r);
    let first = read(&text).expect("sure");
    let Object::Component(Some(rest)) = first.request.object else {
        panic!("not stopped at the object");
    };
    assert_eq!(text.get(rest.object_at..rest.object_at + 1), Some("{"));
    assert!(text[..rest.object_at].ends_with("\"object\":"), "{text}");
}

#[test]
fn what_it_is_not_sure_of_is_left_to_serde() {
    // Renamed in the request, so that the first pass reads its object: a pod whose name holds
    // `kube` is left to the pod pass from the object's start (`a_pod_named_kube_is_read_once`).
    let mirror = fixture("kube-apiserver.mirror-pod.json").replacen(
        "\"name\": \"kube-apiserver-cp-1\"",
        "\"name\": \"apiserver-cp-1\"",
        1,
    );
    assert!(serde(&mirror).is_some_and(|d| d.contains("component Some(Rest")));
    let unsure = [
        // A duplicate of a member read, at each level.
        mirror.replacen("\"uid\":", "\"uid\": \"x\", \"uid\":", 1),
        mirror.replacen("\"metadata\":", "\"kind\": \"Pod\", \"metadata\":", 1),
        // A kept string with an escape; a null where a value is read.
        review(pod(json!([{"image": "ngin\u{0078}\"x"}]))),
        mirror.replacen("\"namespace\":", "\"namespace\": null, \"x\":", 1),
        // The object's key written with an escape.
        mirror.replacen("\"object\":", "\"obj\\u0065ct\":", 1),
        // Not JSON after a review read to its end.
        format!("{} x", review(pod(json!([{"image": "nginx"}])))),
        "{\"apiVersion\": 1}".to_string(),
    ];
    for body in &unsure {
        assert_eq!(quick(body), None, "{body}");
    }
    // The serde reader still reads them as before (the escaped key, here).
    assert!(serde(&unsure[4]).is_some());
}

#[test]
fn an_object_nested_without_end_is_left_to_serde() {
    let mut spec = json!({"containers": [{"image": "nginx"}]});
    for _ in 0..40 {
        spec = json!({"template": {"spec": spec}});
    }
    let mut r = pod(json!([]));
    r["object"]["kind"] = json!("Deployment");
    r["object"]["spec"] = spec;
    assert_eq!(quick(&review(r)), None);
}

/// The corpus of real reviews (`../shared/corpus`), where present: the quick read agrees with the
/// serde reader on each review it is sure of, malformed ones included (`tests/server_lean.rs`
/// compares the answers, and reports the corpus missing).
#[test]
fn corpus_reviews_read_as_with_serde() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/admission-reviews");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        skip::skip("../shared/corpus/admission-reviews is absent");
        return;
    };
    let mut sure = 0;
    for entry in entries.flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        sure += usize::from(quick(&text).is_some());
    }
    assert!(sure > 0, "the quick read is sure of no corpus review");
}
