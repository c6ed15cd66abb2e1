//! The four report formats, from records written by hand: what each shows, its counts, that
//! JUnit parses back and SARIF obeys the SARIF 2.1.0 schema, and that records are written as
//! they arrive rather than after the last one.

use super::*;
use crate::engine::rules::{Component, RuleId, Status};
use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;

fn rec(source: &str, object: &str, rule: RuleId, status: Status, message: &str) -> Record {
    Record {
        source: source.into(),
        object: object.into(),
        kind: "Pod".into(),
        component: Some(rule.component()),
        location: if rule.component() == Component::Kubelet {
            String::new()
        } else {
            rule.component().as_str().into()
        },
        rule: Some(rule),
        controls: rule.controls().to_vec(),
        status,
        message: message.into(),
        remediation: (status == Status::Fail).then(|| format!("fix {message}")),
    }
}

/// Two files: the first with a pass, a fail, a warn and a skip; the second unreadable.
fn sample() -> Vec<Record> {
    vec![
        rec(
            "manifests/kube-apiserver.yaml",
            "kube-system/kube-apiserver",
            RuleId::ApiserverKubeletClientCert,
            Status::Pass,
            "client certificate & key set",
        ),
        rec(
            "manifests/kube-apiserver.yaml",
            "kube-system/kube-apiserver",
            RuleId::ApiserverKubeletCa,
            Status::Fail,
            "--kubelet-certificate-authority is not set <so the kubelet is not verified>",
        ),
        rec(
            "manifests/kube-apiserver.yaml",
            "kube-system/kube-apiserver",
            RuleId::KubeletRotateServerCert,
            Status::Warn,
            "gate absent \"cis\" profile",
        ),
        rec(
            "manifests/kube-apiserver.yaml",
            "kube-system/kube-apiserver",
            RuleId::KubeletServerTlsBootstrap,
            Status::Skip,
            "no kubelet in this object",
        ),
        Record::error(
            "/etc/my dir/#1.yaml",
            "-",
            "/etc/my dir/#1.yaml: not a regular file".into(),
        ),
    ]
}

fn output(format: Format, records: Vec<Record>, colour: bool) -> (String, Tally) {
    let mut out = Vec::new();
    let tally = write(format, records, colour, &mut out).expect("write to memory");
    (String::from_utf8(out).expect("UTF-8 report"), tally)
}

#[test]
fn tally_and_exit_code() {
    let t = Tally::of(&sample());
    assert_eq!(
        t,
        Tally {
            pass: 1,
            fail: 1,
            warn: 1,
            skip: 1,
            error: 1
        }
    );
    assert_eq!(t.total(), 5);
    assert_eq!(t.exit_code(), 2);
    assert_eq!(exit_code(&sample()[..3]), 1);
    assert_eq!(exit_code(&sample()[2..4]), 0);
    assert_eq!(exit_code(&[]), 0);
    for format in [Format::Text, Format::Json, Format::Junit, Format::Sarif] {
        assert_eq!(output(format, sample(), false).1, t, "{format:?}");
    }
}

#[test]
fn text_shows_each_file_once_hides_skips_and_counts() {
    let (text, _) = output(Format::Text, sample(), false);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "manifests/kube-apiserver.yaml", "{text}");
    assert_eq!(
        text.matches("manifests/kube-apiserver.yaml").count(),
        1,
        "{text}"
    );
    assert!(
        lines[1].starts_with("  PASS  apiserver-kubelet-client-cert ")
            && lines[1].ends_with("  kube-system/kube-apiserver [kube-apiserver]"),
        "{:?}",
        lines[1]
    );
    assert_eq!(lines[2], "        client certificate & key set");
    assert!(
        lines[3].starts_with("  FAIL  apiserver-kubelet-ca "),
        "{text}"
    );
    assert!(
        lines[5].starts_with("  WARN  kubelet-rotate-server-cert "),
        "{text}"
    );
    assert!(
        !text.contains("no kubelet in this object"),
        "a skip row shown:\n{text}"
    );
    assert!(!text.contains("SKIP"), "{text}");
    assert_eq!(lines[7], "/etc/my dir/#1.yaml");
    // A rule-less error says why on its status line, not "ERROR - -".
    assert_eq!(
        lines[8], "  ERROR /etc/my dir/#1.yaml: not a regular file",
        "{text}"
    );
    assert_eq!(
        *lines.last().unwrap_or(&""),
        "1 pass, 1 fail, 1 warn, 1 skip, 1 error"
    );
    // The rule column lines up across files and statuses.
    let col = |l: &str| l.find("kube-system").unwrap_or(0);
    assert_eq!(col(lines[1]), col(lines[3]), "{text}");
    assert!(!text.contains('\x1b'), "colour without a terminal");
    let (coloured, _) = output(Format::Text, sample(), true);
    assert!(coloured.contains("\x1b[31mFAIL \x1b[0m"), "{coloured}");
    assert!(coloured.contains("\x1b[32mPASS \x1b[0m"), "{coloured}");
}

#[test]
fn json_is_one_object_with_results_and_summary() {
    let (text, _) = output(Format::Json, sample(), false);
    let v: Value = serde_json::from_str(&text).expect("one JSON document");
    let obj = v.as_object().expect("an object");
    assert_eq!(obj.len(), 2, "{text}");
    let want: Vec<Value> = sample()
        .iter()
        .map(|r| serde_json::to_value(r).expect("record to JSON"))
        .collect();
    assert_eq!(v["results"], Value::Array(want));
    assert_eq!(
        v["summary"],
        serde_json::json!({"pass": 1, "fail": 1, "warn": 1, "skip": 1, "error": 1})
    );
    assert_eq!(v["results"][1]["rule"], "apiserver-kubelet-ca");
    assert_eq!(v["results"][1]["component"], "kube-apiserver");
    assert_eq!(v["results"][4]["rule"], Value::Null);
    let (empty, _) = output(Format::Json, Vec::new(), false);
    let v: Value = serde_json::from_str(&empty).expect("JSON");
    assert_eq!(v["results"], serde_json::json!([]));
    assert_eq!(v["summary"]["pass"], 0);
    assert!(empty.ends_with("}\n"), "{empty:?}");
}

#[test]
fn junit_parses_back_one_suite_per_file() {
    let (xml, _) = output(Format::Junit, sample(), false);
    let report = quick_junit::Report::deserialize_from_str(&xml)
        .unwrap_or_else(|e| panic!("not JUnit ({e}):\n{xml}"));
    assert_eq!(
        report.name.as_ref().map(|n| n.as_str()),
        Some("kubelet-tls-guard")
    );
    assert_eq!(
        (report.tests, report.failures, report.errors, report.skipped),
        (5, 1, 1, 1),
        "{xml}"
    );
    let suites = &report.test_suites;
    assert_eq!(suites.len(), 2, "{xml}");
    assert_eq!(suites[0].name.as_str(), "manifests/kube-apiserver.yaml");
    assert_eq!(
        (suites[0].tests, suites[0].failures, suites[0].skipped),
        (4, 1, 1)
    );
    assert_eq!((suites[1].tests, suites[1].errors), (1, 1));
    let cases = &suites[0].test_cases;
    assert_eq!(
        cases[1].name.as_str(),
        "apiserver-kubelet-ca kube-system/kube-apiserver [kube-apiserver]"
    );
    assert_eq!(
        cases[1].classname.as_ref().map(|c| c.as_str()),
        Some("apiserver-kubelet-ca")
    );
    match &cases[1].status {
        quick_junit::TestCaseStatus::NonSuccess {
            kind: quick_junit::NonSuccessKind::Failure,
            message,
            description,
            ..
        } => {
            assert_eq!(
                message.as_ref().map(|m| m.as_str()),
                Some("--kubelet-certificate-authority is not set <so the kubelet is not verified>")
            );
            assert!(
                description
                    .as_ref()
                    .is_some_and(|d| d.as_str().contains("remediation: fix")),
                "{description:?}"
            );
        }
        other => panic!("expected a failure: {other:?}"),
    }
    assert!(matches!(
        cases[3].status,
        quick_junit::TestCaseStatus::Skipped { .. }
    ));
    assert_eq!(
        cases[2].system_out.as_ref().map(|s| s.as_str()),
        Some("warn: gate absent \"cis\" profile")
    );
    assert!(matches!(
        suites[1].test_cases[0].status,
        quick_junit::TestCaseStatus::NonSuccess {
            kind: quick_junit::NonSuccessKind::Error,
            ..
        }
    ));
    // No records: an empty, valid report.
    let (xml, _) = output(Format::Junit, Vec::new(), false);
    let report = quick_junit::Report::deserialize_from_str(&xml).expect("empty JUnit parses");
    assert_eq!((report.tests, report.test_suites.len()), (0, 0));
}

/// The SARIF 2.1.0 schema (OASIS, errata 01), committed under tests/fixtures.
pub(crate) fn sarif_validator() -> jsonschema::Validator {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sarif/sarif-schema-2.1.0.json"
    );
    let text = std::fs::read_to_string(path).expect("read the SARIF schema");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

/// Schema errors, and artifact URIs that are not URI references. The schema says they must be
/// (`format: uri-reference`), but it is a draft-04 schema, a draft without that format, so a
/// draft-07 schema of just that format checks them.
fn schema_errors(v: &Value) -> Vec<String> {
    let mut errors: Vec<String> = sarif_validator()
        .iter_errors(v)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    let uri_reference = jsonschema::options()
        .should_validate_formats(true)
        .build(&serde_json::json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "string",
            "format": "uri-reference"
        }))
        .expect("the uri-reference schema compiles");
    for result in v["runs"][0]["results"].as_array().into_iter().flatten() {
        for location in result["locations"].as_array().into_iter().flatten() {
            let uri = &location["physicalLocation"]["artifactLocation"]["uri"];
            if let Err(e) = uri_reference.validate(uri) {
                errors.push(format!("artifact URI {uri}: {e}"));
            }
        }
    }
    errors
}

#[test]
fn sarif_obeys_the_schema_and_reports_fail_warn_error() {
    let (text, _) = output(Format::Sarif, sample(), false);
    let v: Value = serde_json::from_str(&text).expect("JSON");
    let errors = schema_errors(&v);
    assert!(errors.is_empty(), "{errors:#?}\n{text}");
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), RuleId::ALL.len());
    let results = run["results"].as_array().expect("results");
    let levels: Vec<(&str, &str)> = results
        .iter()
        .map(|r| {
            (
                r["ruleId"].as_str().unwrap_or(""),
                r["level"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        levels,
        [
            ("apiserver-kubelet-ca", "error"),
            ("kubelet-rotate-server-cert", "warning"),
            ("input-error", "error"),
        ]
    );
    // ruleIndex points at the rule's descriptor.
    let i = results[0]["ruleIndex"].as_u64().expect("ruleIndex") as usize;
    assert_eq!(rules[i]["id"], "apiserver-kubelet-ca");
    assert!(results[2].get("ruleIndex").is_none());
    assert!(
        results[0]["message"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Remediation: fix")),
        "{text}"
    );
    assert_eq!(
        results[0]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        "kube-system/kube-apiserver/kube-apiserver"
    );
    assert_eq!(
        results[2]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "file:///etc/my%20dir/%231.yaml"
    );
    // No findings: still a valid log, with an empty results array.
    let (text, _) = output(Format::Sarif, sample()[..1].to_vec(), false);
    let v: Value = serde_json::from_str(&text).expect("JSON");
    assert!(schema_errors(&v).is_empty());
    assert_eq!(v["runs"][0]["results"], serde_json::json!([]));
}

#[test]
fn the_schema_check_is_not_a_rubber_stamp() {
    let (text, _) = output(Format::Sarif, sample(), false);
    let mut v: Value = serde_json::from_str(&text).expect("JSON");
    v["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(
        !schema_errors(&v).is_empty(),
        "a bad level passed the schema"
    );
    let mut v: Value = serde_json::from_str(&text).expect("JSON");
    v["runs"][0]["results"][2]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] =
        "/etc/my dir/#1.yaml".into();
    assert!(!schema_errors(&v).is_empty(), "a raw path passed as a URI");
    let mut v: Value = serde_json::from_str(&text).expect("JSON");
    v["runs"][0]["results"][0]
        .as_object_mut()
        .map(|r| r.remove("message"));
    assert!(
        !schema_errors(&v).is_empty(),
        "a result without a message passed"
    );
}

#[test]
fn sarif_uris() {
    assert_eq!(
        sarif::uri("/etc/kubernetes/manifests/a.yaml"),
        "file:///etc/kubernetes/manifests/a.yaml"
    );
    assert_eq!(sarif::uri("manifests/a b.yaml"), "manifests/a%20b.yaml");
    assert_eq!(sarif::uri("c:foo/x.yaml"), "./c:foo/x.yaml");
    assert_eq!(sarif::uri("-"), "-");
    assert_eq!(sarif::uri("/é/100%.yaml"), "file:///%C3%A9/100%25.yaml");
}

/// A sink the record source can look into: what has been written so far.
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Text, JSON and SARIF write each record before the next one is asked for: `check` never
/// holds the records of all files (issue 8 item 8).
#[test]
fn records_are_written_as_they_arrive() {
    for format in [Format::Text, Format::Json, Format::Sarif] {
        let sink = Shared::default();
        let seen = sink.clone();
        let records = sample();
        let messages: Vec<String> = records.iter().map(|r| r.message.clone()).collect();
        let shown = move |i: usize| {
            // SARIF reports only fail, warn and error; text leaves out skip.
            let status = sample()[i].status;
            !(status == Status::Skip || (format == Format::Sarif && status == Status::Pass))
        };
        let mut checked = 0;
        let source = records.into_iter().enumerate().map(|(i, r)| {
            // Before record i is handed over, every earlier shown record is already out.
            let written = String::from_utf8_lossy(&seen.0.borrow()).into_owned();
            for (j, m) in messages.iter().enumerate().take(i) {
                if shown(j) {
                    let escaped = serde_json::to_string(m).unwrap_or_default();
                    let needle = if format == Format::Text {
                        m.as_str()
                    } else {
                        escaped.trim_matches('"')
                    };
                    assert!(
                        written.contains(needle),
                        "{format:?}: record {j} not written before record {i} was read"
                    );
                }
            }
            checked += 1;
            r
        });
        let mut out = sink.clone();
        write(format, source, false, &mut out).expect("write");
        assert!(checked == 5, "{format:?}: {checked}");
    }
}
