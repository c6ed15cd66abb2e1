//! `check` as a user runs it: `--config` (profile, per-rule modes, exemptions, bad files), and
//! the text, JUnit and SARIF reports, each held against the JSON report of the same run. JUnit is
//! read with a real XML parser (quick-xml), SARIF validated against the SARIF 2.1.0 schema.

mod common;
use common::*;
use quick_xml::events::Event;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A kube-apiserver static pod without `--kubelet-certificate-authority` (one fail, one pass).
const APISERVER: &str = "apiVersion: v1
kind: Pod
metadata: {name: kube-apiserver, namespace: kube-system}
spec:
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.34.2
    command:
    - kube-apiserver
    - --kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt
    - --kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key
";

/// A kubelet config that bootstraps its serving certificate but does not set the rotation gate:
/// `fail` under strict, `pass` under cis (DESIGN.md section 1).
const KUBELET: &str = "apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
serverTLSBootstrap: true
";

struct Inputs {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

fn inputs() -> Inputs {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("node files");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("kube-apiserver.yaml"), APISERVER).expect("write");
    std::fs::write(dir.join("kubelet-config.yaml"), KUBELET).expect("write");
    std::fs::write(dir.join("zz-broken.yaml"), "kind: Pod\nspec: [unclosed\n").expect("write");
    Inputs { _tmp: tmp, dir }
}

fn check(args: &[&str], dir: &Path) -> Run {
    let mut all: Vec<String> = vec!["check".into()];
    all.extend(args.iter().map(|s| s.to_string()));
    all.push(dir.to_string_lossy().into_owned());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    run(&refs, None)
}

fn policy_file(dir: &Path, yaml: &str) -> PathBuf {
    let p = dir.join("policy.yaml");
    std::fs::write(&p, yaml).expect("write policy");
    p
}

fn status_of(results: &[Res], rule: &str) -> Vec<String> {
    results
        .iter()
        .filter(|r| r.rule == rule)
        .map(|r| r.status.clone())
        .collect()
}

#[test]
fn config_profile_modes_and_exemptions_change_the_verdicts() {
    let inp = inputs();
    let cfg_dir = tempfile::tempdir().expect("tempdir");
    let file = inp.dir.join("kubelet-config.yaml");
    let kubelet = |args: &[&str]| check(args, &file);

    let strict = kubelet(&["--format", "json"]);
    assert_eq!(
        status_of(&strict.results(), KROT),
        [FAIL],
        "{}",
        strict.stdout
    );
    assert_eq!(strict.code, 1);

    let cis = policy_file(cfg_dir.path(), "profile: cis\n");
    let cis_run = kubelet(&["--format", "json", "--config", cis.to_str().unwrap_or("")]);
    assert_eq!(
        status_of(&cis_run.results(), KROT),
        [PASS],
        "{}",
        cis_run.stdout
    );
    assert_eq!(cis_run.code, 0, "{}", cis_run.stderr);
    // The command line overrides the file.
    let back = kubelet(&[
        "--format",
        "json",
        "--config",
        cis.to_str().unwrap_or(""),
        "--profile",
        "strict",
    ]);
    assert_eq!(status_of(&back.results(), KROT), [FAIL]);

    // A rule switched off is not reported at all; the others still are.
    let off = policy_file(
        cfg_dir.path(),
        "rules:\n  kubelet-rotate-server-cert: {mode: off}\n",
    );
    let run = kubelet(&["--format", "json", "--config", off.to_str().unwrap_or("")]);
    let results = run.results();
    assert!(status_of(&results, KROT).is_empty(), "{}", run.stdout);
    assert_eq!(status_of(&results, KBOOT), [PASS]);
    assert_eq!(run.code, 0);

    // An exempt object: every rule `skip`, naming the exemption; exit 0.
    let exempt = policy_file(
        cfg_dir.path(),
        "exemptions:\n  - {namespace: kube-*, name: kube-apiserver}\n",
    );
    let run = check(
        &[
            "--format",
            "json",
            "--config",
            exempt.to_str().unwrap_or(""),
        ],
        &inp.dir.join("kube-apiserver.yaml"),
    );
    let results = run.results();
    assert!(!results.is_empty());
    for r in &results {
        assert_eq!(r.status, "skip", "{r:?}");
        assert!(r.message.contains("exempt"), "{r:?}");
    }
    assert_eq!(run.code, 0);
}

#[test]
fn a_bad_config_is_exit_2_naming_key_and_line() {
    let inp = inputs();
    let cfg_dir = tempfile::tempdir().expect("tempdir");
    for (yaml, key, line) in [
        (
            "profile: strict\nmode: enforce\nrules:\n  no-such-rule: {}\n",
            "rules.no-such-rule",
            4,
        ),
        ("profile: lenient\n", "profile", 1),
        (
            "mode: off\nremediation:\n  kubeletClientKey: client.key\n",
            "remediation.kubeletClientKey",
            3,
        ),
        ("exemptions:\n- {namespace: x, nam: y}\n", "nam", 2),
    ] {
        let cfg = policy_file(cfg_dir.path(), yaml);
        let run = check(&["--config", cfg.to_str().unwrap_or("")], &inp.dir);
        assert_eq!(run.code, 2, "{yaml:?}: {}", run.stderr);
        assert!(
            run.stdout.is_empty(),
            "a report despite a bad policy: {}",
            run.stdout
        );
        let err = run.stderr.trim_end();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(cfg.to_str().unwrap_or("?")), "{err}");
        assert!(err.contains(key), "{yaml:?}: {err}");
        assert!(err.contains(&format!("line {line}")), "{yaml:?}: {err}");
    }
    let run = check(&["--config", "/nonexistent/policy.yaml"], &inp.dir);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("/nonexistent/policy.yaml"),
        "{}",
        run.stderr
    );
}

/// The same run as JSON: the reference every other format is held against.
fn reference(dir: &Path) -> Vec<Res> {
    let run = check(&["--format", "json"], dir);
    assert_eq!(run.code, 2, "the broken file makes it 2: {}", run.stderr);
    assert_no_problems("reference", &contract_problems(&run.json()));
    run.results()
}

#[test]
fn text_report_shows_every_verdict_of_the_json_report() {
    let inp = inputs();
    let results = reference(&inp.dir);
    let run = check(&["--format", "text"], &inp.dir);
    assert_eq!(run.code, 2);
    assert!(!run.stdout.contains('\x1b'), "colour into a pipe");
    let lines: Vec<&str> = run.stdout.lines().collect();
    let shown: Vec<&Res> = results.iter().filter(|r| r.status != "skip").collect();
    // Per verdict: a status line naming rule and object, then its message. A rule-less error
    // (the broken file) is one line that says why, not "ERROR - -".
    let mut rows = 0;
    for r in &shown {
        if r.rule.is_empty() {
            let want = format!("{} {}", r.status.to_uppercase(), r.message.trim());
            assert!(
                lines.iter().any(|l| l.trim() == want),
                "no line {want:?} in\n{}",
                run.stdout
            );
            rows += 1;
            continue;
        }
        let at = lines.iter().position(|l| {
            l.trim_start().starts_with(&r.status.to_uppercase())
                && l.contains(&r.rule)
                && l.contains(&r.object)
        });
        let Some(i) = at else {
            panic!("no line for {r:?} in\n{}", run.stdout);
        };
        assert_eq!(lines.get(i + 1).map(|l| l.trim()), Some(r.message.trim()));
        rows += 2;
    }
    assert!(
        shown
            .iter()
            .any(|r| r.rule.is_empty() && r.status == "error"),
        "the broken file gives a rule-less error"
    );
    assert!(!run.stdout.contains("ERROR -"), "{}", run.stdout);
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("  ")).count(),
        rows,
        "{}",
        run.stdout
    );
    // Said once: the text report holds the reason, so stderr does not repeat it ...
    for r in shown.iter().filter(|r| r.status == "error") {
        assert!(!run.stderr.contains(r.message.trim()), "{}", run.stderr);
    }
    // ... while a JSON report piped to a file still shows it on stderr.
    let json = check(&["--format", "json"], &inp.dir);
    for r in shown.iter().filter(|r| r.status == "error") {
        assert!(json.stderr.contains(r.message.trim()), "{}", json.stderr);
    }
    let count = |s: &str| results.iter().filter(|r| r.status == s).count();
    assert_eq!(
        lines.last().copied().unwrap_or(""),
        format!(
            "{} pass, {} fail, {} warn, {} skip, {} error",
            count("pass"),
            count("fail"),
            count("warn"),
            count("skip"),
            count("error")
        )
    );
}

/// What the JUnit report holds, read by quick-xml.
#[derive(Default, Debug)]
struct Junit {
    totals: BTreeMap<String, String>,
    /// Per suite: its attributes and its cases' outcomes (`pass`, `failure`, `error`, `skipped`).
    suites: Vec<(BTreeMap<String, String>, Vec<String>)>,
}

fn attributes(e: &quick_xml::events::BytesStart<'_>) -> BTreeMap<String, String> {
    e.attributes()
        .map(|a| {
            let a = a.expect("well-formed attribute");
            (
                String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                a.normalized_value(quick_xml::XmlVersion::Explicit1_0)
                    .expect("escaped value")
                    .into_owned(),
            )
        })
        .collect()
}

fn read_junit(xml: &str) -> Junit {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = Junit::default();
    let mut depth = 0usize;
    let mut roots = 0;
    loop {
        match reader.read_event() {
            Err(e) => panic!(
                "not well-formed XML at {}: {e}\n{xml}",
                reader.buffer_position()
            ),
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) => {
                depth += 1;
                element(&e, depth, &mut out, &mut roots);
            }
            Ok(Event::Empty(e)) => element(&e, depth + 1, &mut out, &mut roots),
            Ok(Event::End(_)) => depth -= 1,
            Ok(_) => {}
        }
    }
    assert_eq!(depth, 0);
    assert_eq!(roots, 1, "one <testsuites> root");
    out
}

fn element(
    e: &quick_xml::events::BytesStart<'_>,
    depth: usize,
    out: &mut Junit,
    roots: &mut usize,
) {
    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
    match (depth, name.as_str()) {
        (1, "testsuites") => {
            *roots += 1;
            out.totals = attributes(e);
        }
        (2, "testsuite") => out.suites.push((attributes(e), Vec::new())),
        (3, "testcase") => {
            if let Some(s) = out.suites.last_mut() {
                s.1.push("pass".into());
            }
        }
        (4, "failure" | "error" | "skipped") => {
            if let Some(last) = out.suites.last_mut().and_then(|s| s.1.last_mut()) {
                *last = name;
            }
        }
        (4, "system-out") => {}
        (d, n) => panic!("unexpected <{n}> at depth {d}"),
    }
}

#[test]
fn junit_report_parses_and_matches_the_json_report() {
    let inp = inputs();
    let results = reference(&inp.dir);
    let run = check(&["--format", "junit"], &inp.dir);
    assert_eq!(run.code, 2);
    let junit = read_junit(&run.stdout);
    let count = |s: &str| results.iter().filter(|r| r.status == s).count().to_string();
    assert_eq!(junit.totals.get("tests"), Some(&results.len().to_string()));
    assert_eq!(junit.totals.get("failures"), Some(&count("fail")));
    assert_eq!(junit.totals.get("errors"), Some(&count("error")));
    assert_eq!(junit.totals.get("skipped"), Some(&count("skip")));
    // One suite per file, in the JSON report's order, with its own counts.
    let mut sources: Vec<&str> = results.iter().map(|r| r.source.as_str()).collect();
    sources.dedup();
    let names: Vec<&str> = junit
        .suites
        .iter()
        .map(|(a, _)| a.get("name").map_or("", String::as_str))
        .collect();
    assert_eq!(names, sources);
    for (attrs, cases) in &junit.suites {
        let source = attrs.get("name").map_or("", String::as_str);
        let want: Vec<&str> = results
            .iter()
            .filter(|r| r.source == source)
            .map(|r| match r.status.as_str() {
                "fail" => "failure",
                "skip" => "skipped",
                "error" => "error",
                _ => "pass",
            })
            .collect();
        assert_eq!(cases, &want, "{source}");
        assert_eq!(
            attrs.get("tests"),
            Some(&cases.len().to_string()),
            "{source}"
        );
    }
}

fn sarif_validator() -> jsonschema::Validator {
    let path = fixtures_dir().join("sarif/sarif-schema-2.1.0.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read schema")).expect("JSON");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles")
}

#[test]
fn sarif_report_is_valid_and_matches_the_json_report() {
    let inp = inputs();
    let results = reference(&inp.dir);
    let run = check(&["--format", "sarif"], &inp.dir);
    assert_eq!(run.code, 2);
    let log: Value = serde_json::from_str(&run.stdout).expect("SARIF is JSON");
    let errors: Vec<String> = sarif_validator()
        .iter_errors(&log)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // A draft-04 schema has no `uri-reference` format; a draft-07 schema of it checks the URIs.
    let uri_reference = jsonschema::options()
        .should_validate_formats(true)
        .build(&serde_json::json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "string",
            "format": "uri-reference"
        }))
        .expect("the uri-reference schema compiles");
    for r in log["runs"][0]["results"].as_array().into_iter().flatten() {
        let uri = &r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
        assert!(
            uri_reference.validate(uri).is_ok(),
            "not a URI reference: {uri}"
        );
    }
    let got: Vec<(String, String)> = log["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["ruleId"].as_str().unwrap_or("").to_string(),
                r["level"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = results
        .iter()
        .filter_map(|r| {
            let level = match r.status.as_str() {
                "fail" | "error" => "error",
                "warn" => "warning",
                _ => return None,
            };
            let rule = if r.rule.is_empty() {
                "input-error"
            } else {
                r.rule.as_str()
            };
            Some((rule.to_string(), level.to_string()))
        })
        .collect();
    assert_eq!(got, want);
    // The directory name has a space: the artifact URI is percent-encoded, absolute.
    let uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
        ["uri"]
        .as_str()
        .unwrap_or("");
    assert!(
        uri.starts_with("file:///") && uri.contains("node%20files/"),
        "{uri}"
    );
}

/// Many files in one run: the JSON report stays one object whose counts add up (the records are
/// written as they come, the summary last).
#[test]
fn many_files_stream_into_one_report() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for i in 0..300 {
        let body = if i % 2 == 0 { APISERVER } else { KUBELET };
        std::fs::write(tmp.path().join(format!("{i:03}.yaml")), body).expect("write");
    }
    let run = check(&["--format", "json"], tmp.path());
    let report = run.json();
    assert_no_problems("300 files", &contract_problems(&report));
    let results = parse_results(&report);
    assert_eq!(results.len(), 300 * 5);
    let keys: Vec<&String> = report
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(
        report["summary"]["fail"], 300,
        "150 CA fails + 150 gate fails"
    );
    // In name order, as the directory listing sorts them.
    let sources: Vec<&str> = results.iter().map(|r| r.source.as_str()).collect();
    let mut sorted = sources.clone();
    sorted.sort();
    assert_eq!(sources, sorted);
}
