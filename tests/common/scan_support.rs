//! Helpers for the `scan` tests: run the binary off the async runtime (the fake servers keep
//! serving meanwhile), find results, load control-plane pods from the fixtures.
#![allow(dead_code)]

use serde_json::Value;
use std::time::{Duration, Instant};

/// Run `kubelet-tls-guard ARGS` on a blocking thread; returns the run and its wall time.
pub async fn run(args: Vec<String>) -> (super::Run, Duration) {
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let t = Instant::now();
        let r = super::run(&refs, None);
        (r, t.elapsed())
    })
    .await
    .expect("run the binary")
}

/// `scan --kubeconfig K --format F --timeout T` plus `extra`.
pub fn args(
    kubeconfig: &std::path::Path,
    format: &str,
    timeout: &str,
    extra: &[&str],
) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "scan".into(),
        "--kubeconfig".into(),
        kubeconfig.display().to_string(),
        "--format".into(),
        format.into(),
        "--timeout".into(),
        timeout.into(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// The one result for (object, rule); panics with the report when there is not exactly one.
pub fn result<'a>(report: &'a Value, object: &str, rule: &str) -> &'a Value {
    let hits: Vec<&Value> = report["results"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|r| r["object"] == object && r["rule"] == rule)
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        hits.len(),
        1,
        "expected one result for {object} {rule}, got {}:\n{}",
        hits.len(),
        serde_json::to_string_pretty(&report["results"]).unwrap_or_default()
    );
    hits[0]
}

pub fn status_of(report: &Value, object: &str, rule: &str) -> String {
    result(report, object, rule)["status"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

pub fn message_of(report: &Value, object: &str, rule: &str) -> String {
    result(report, object, rule)["message"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// The Pod inside an AdmissionReview fixture (tests/fixtures/admission/NAME.json).
pub fn fixture_pod(name: &str) -> Value {
    let path = super::fixtures_dir()
        .join("admission")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).expect("fixture");
    let v: Value = serde_json::from_str(&text).expect("fixture json");
    v["request"]["object"].clone()
}

/// The same Pod with every `--FLAG...` argument removed from its containers.
pub fn without_flag(mut pod: Value, flag: &str) -> Value {
    if let Some(cs) = pod["spec"]["containers"].as_array_mut() {
        for c in cs {
            for key in ["command", "args"] {
                if let Some(list) = c[key].as_array_mut() {
                    list.retain(|a| !a.as_str().is_some_and(|s| s.starts_with(flag)));
                }
            }
        }
    }
    pod
}
