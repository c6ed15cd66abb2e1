//! Opt-in: `scan` against a real cluster given by KUBECONFIG. It only reads (no
//! --apply-reports) and asserts the contract, not verdicts: those depend on the cluster.

mod common;

use serde_json::Value;

#[test]
#[ignore = "needs KUBECONFIG to a real cluster"]
fn scan_a_real_cluster() {
    let Some(kc) = std::env::var_os("KUBECONFIG") else {
        panic!("set KUBECONFIG to run this test");
    };
    let kc = kc.to_string_lossy().into_owned();
    let run = common::run(
        &[
            "scan",
            "--kubeconfig",
            &kc,
            "--format",
            "json",
            "--timeout",
            "10s",
        ],
        None,
    );
    let report = run.json();
    assert!(
        (0..=2).contains(&run.code),
        "exit {}: {}",
        run.code,
        run.stderr
    );
    let results = report["results"].as_array().expect("results");
    let nodes = report["readiness"]["kubeletCertificateAuthority"]["nodes"]
        .as_u64()
        .expect("readiness.nodes");
    // One serving-certificate verdict per node, each on a node/NAME object from cluster:URL.
    let serving: Vec<&Value> = results
        .iter()
        .filter(|r| r["rule"] == "kubelet-serving-cert-verified")
        .collect();
    assert_eq!(serving.len() as u64, nodes);
    assert!(
        serving
            .iter()
            .all(|r| r["object"].as_str().is_some_and(|o| o.starts_with("node/")))
    );
    assert!(results.iter().all(|r| {
        r["source"]
            .as_str()
            .is_some_and(|s| s.starts_with("cluster:https://"))
    }));
    let verified = report["readiness"]["kubeletCertificateAuthority"]["verified"].as_u64();
    let passes = serving.iter().filter(|r| r["status"] == "pass").count() as u64;
    assert_eq!(verified, Some(passes));
}
