//! The `serve` command end to end (DESIGN.md section 6): started without a certificate in an
//! empty working directory, it generates certs/dev/ and prints a curl command; that command,
//! run as printed with the real curl, gets an AdmissionReview answer; SIGTERM ends it with exit
//! code 0. A second start in the same directory reuses the certificates.

#[path = "support/serve_process.rs"]
mod serve_process;
mod server_common;

use serde_json::Value;
use serve_process::*;
use server_common::*;

#[test]
fn serve_with_dev_certificates_prints_a_working_curl_command_and_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = free_port();
    let mut serve = Serve::start(dir.path(), metrics_port, &[]);
    let line = serve.curl_line();

    // Generated under certs/dev/ in the working directory, the key private to its owner.
    let dev = dir.path().join("certs").join("dev");
    for f in ["ca.crt", "tls.crt", "tls.key", "example-review.json"] {
        assert!(
            dev.join(f).is_file(),
            "certs/dev/{f} missing\n{}",
            serve.output()
        );
    }
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dev.join("tls.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "tls.key is readable by others: {mode:o}");
    }
    // The command names the port actually bound, not 0.
    let port: u16 = line
        .split("https://localhost:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no https://localhost:PORT/ in {line:?}"));
    assert_ne!(port, 0, "{line}");

    let health = get_ops(metrics_port, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let ready = get_ops(metrics_port, "/readyz");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");

    let ca_before = std::fs::read(dev.join("ca.crt")).unwrap();
    if have_curl() {
        let v = run_printed(dir.path(), &line);
        assert_eq!(v["apiVersion"], "admission.k8s.io/v1", "{v}");
        assert_eq!(v["kind"], "AdmissionReview", "{v}");
        let example: Value =
            serde_json::from_slice(&std::fs::read(dev.join("example-review.json")).unwrap())
                .unwrap();
        assert_eq!(v["response"]["uid"], example["request"]["uid"], "{v}");
        // The embedded default policy is dry-run: allowed, with the finding as a warning.
        assert_eq!(v["response"]["allowed"], true, "{v}");
        let warnings = v["response"]["warnings"].to_string();
        assert!(warnings.contains(CA), "{v}");
        let metrics = get_ops(metrics_port, "/metrics");
        assert!(
            metrics.contains("kubelet_tls_guard_admission_requests_total{endpoint=\"validate\""),
            "{metrics}"
        );
    }
    let code = serve.terminate();
    assert_eq!(code, 0, "exit code after SIGTERM\n{}", serve.output());
    // stderr is a pipe here: log lines carry no ANSI colour codes.
    assert!(!serve.output().contains('\u{1b}'), "{}", serve.output());
    assert!(serve.output().contains("INFO"), "{}", serve.output());

    // A second start in the same directory reuses the development certificates.
    let metrics_port = free_port();
    let mut again = Serve::start(dir.path(), metrics_port, &["--mode", "enforce"]);
    let line = again.curl_line();
    assert_eq!(std::fs::read(dev.join("ca.crt")).unwrap(), ca_before);
    if have_curl() {
        let v = run_printed(dir.path(), &line);
        // The example is a mirror pod: reported, not denied (mirrorPods: report).
        assert_eq!(v["response"]["allowed"], true, "{v}");
    }
    assert_eq!(again.terminate(), 0, "{}", again.output());
}

/// The decision's log line names the request, in both log formats. In the text format every
/// string field is quoted, as `endpoint` always was, so a uid or name is never read as part of
/// the next field.
#[test]
fn the_decision_log_line_names_the_request_in_json_and_in_text() {
    if !have_curl() {
        return;
    }
    let example: Value = serde_json::from_str(include_str!("../src/server/example-review.json"))
        .expect("the embedded example review");
    let request = &example["request"];
    let text_of = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let (uid, namespace, name, operation) = (
        text_of(&request["uid"]),
        text_of(&request["namespace"]),
        text_of(&request["name"]),
        text_of(&request["operation"]),
    );
    for format in ["json", "text"] {
        let dir = tempfile::tempdir().unwrap();
        let mut serve = Serve::start(dir.path(), free_port(), &["--log-format", format]);
        let line = serve.curl_line();
        let answer = run_printed(dir.path(), &line);
        assert_eq!(answer["response"]["uid"].as_str(), Some(uid.as_str()));
        assert_eq!(serve.terminate(), 0, "{}", serve.output());
        serve.output_until(true, |out| out.contains("admission decision"));
        let output = serve.output();
        let logged = output
            .lines()
            .find(|l| l.contains("admission decision"))
            .unwrap_or_default();
        if format == "json" {
            let logged: Value =
                serde_json::from_str(logged).unwrap_or_else(|e| panic!("not JSON ({e}): {logged}"));
            for (field, want) in [
                ("endpoint", "validate"),
                ("uid", uid.as_str()),
                ("kind", "Pod"),
                ("namespace", namespace.as_str()),
                ("name", name.as_str()),
                ("operation", operation.as_str()),
            ] {
                assert_eq!(logged[field].as_str(), Some(want), "{field}: {logged}");
            }
            let failed = logged["failed_rules"].as_str().unwrap_or_default();
            assert!(!failed.is_empty(), "the example fails a rule: {logged}");
        } else {
            for want in [
                "endpoint=\"validate\"".to_string(),
                format!("uid=\"{uid}\""),
                "kind=\"Pod\"".to_string(),
                format!("namespace=\"{namespace}\""),
                format!("name=\"{name}\""),
                format!("operation=\"{operation}\""),
                "failed_rules=\"".to_string(),
            ] {
                assert!(logged.contains(&want), "no {want} in: {logged}");
            }
        }
    }
}
