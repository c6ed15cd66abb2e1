//! The quick pruned read builds the `Value` the serde one builds, or is not sure.

use super::*;
use serde_json::json;

fn serde_pruned(text: &str, patch: bool) -> Value {
    let mut de = serde_json::Deserializer::from_str(text);
    super::super::pod_object(&mut de, patch).expect("serde reads it")
}

fn quick_pruned(text: &str, patch: bool) -> Read<Value> {
    let mut c = Cursor::new(text);
    let v = pod_object(&mut c, patch)?;
    c.finish()?;
    Ok(v)
}

/// Every fixture's object, and objects with what the engine reads in odd forms.
fn objects() -> Vec<String> {
    let dir = format!("{}/tests/fixtures/admission", env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|t| serde_json::from_str::<Value>(&t).ok())
        .map(|v| v["request"]["object"].to_string())
        .collect();
    out.sort();
    assert!(out.len() >= 10);
    let odd = json!({
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"component": "kube-apiserver", "n": 1.5},
            "annotations": {"kubernetes.io/config.mirror": "x", "other": "y"},
            "ownerReferences": [{"kind": "Node", "controller": true, "n": -3}]},
        "spec": {
            "containers": [
                {"name": "a", "command": ["kube-apiserver", "--token=\"q\"\u{e9}", null, 7],
                 "args": "not a list", "volumeMounts": [{"name": "v", "readOnly": true}]},
                "not a container",
            ],
            "volumes": {"not": "a list"},
            "template": [1, 2],
        },
        "status": {"phase": "Running"},
    });
    out.push(odd.to_string());
    out.push(serde_json::to_string_pretty(&odd).expect("json"));
    // A repeated member replaces the earlier value, in its place.
    out.push(
        r#"{"kind":"Pod","metadata":{"name":"a"},"kind":"Job","metadata":{"name":"b"}}"#.into(),
    );
    out
}

#[test]
fn it_builds_what_serde_builds() {
    for text in objects() {
        for patch in [false, true] {
            let quick = quick_pruned(&text, patch).unwrap_or_else(|_| panic!("not sure of {text}"));
            let serde = serde_pruned(&text, patch);
            assert_eq!(quick, serde, "{text}");
            // The same member order, too.
            assert_eq!(quick.to_string(), serde.to_string(), "{text}");
        }
    }
}

#[test]
fn what_it_is_not_sure_of_is_left_to_serde() {
    for text in [
        // A member's name with an escape.
        r#"{"kind":"Pod","metad\u0061ta":{"name":"a"}}"#,
        // A number with an exponent, kept.
        r#"{"kind":"Pod","metadata":{"labels":{"n":1e3}}}"#,
        // Not JSON.
        r#"{"kind":"Pod","metadata":}"#,
        r#"{"kind":"Pod""#,
    ] {
        assert_eq!(quick_pruned(text, true), Err(Unsure), "{text}");
    }
    // A skipped member's escapes are only checked.
    let text = r#"{"kind":"Pod","status":{"m\u0061p":"\u00e9"},"metadata":{"name":"a\u00e9"}}"#;
    assert_eq!(
        quick_pruned(text, false).ok(),
        Some(serde_pruned(text, false))
    );
}
