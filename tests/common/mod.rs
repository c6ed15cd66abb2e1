//! Shared helpers for the black-box tests: run the real binary, parse the `check --format json`
//! contract (DESIGN.md section 6) and compare verdicts against hand-written tables.
//!
//! Expectations are written from DESIGN.md and the input files, never from the engine's code.
#![allow(dead_code)] // each test binary uses a different subset

pub mod apiserver;
pub mod approver;
pub mod csr_fixtures;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const CLIENT: &str = "apiserver-kubelet-client-cert";
pub const CA: &str = "apiserver-kubelet-ca";
pub const CM: &str = "controller-manager-rotate-kubelet-server-cert";
pub const KROT: &str = "kubelet-rotate-server-cert";
pub const KBOOT: &str = "kubelet-server-tls-bootstrap";
pub const ALL_RULES: [&str; 5] = [CLIENT, CA, CM, KROT, KBOOT];

pub const PASS: &str = "pass";
pub const FAIL: &str = "fail";
pub const WARN: &str = "warn";

/// Matches any object name or location: used where DESIGN leaves the naming open
/// (a standalone KubeletConfiguration, a flags file).
pub const ANY: &str = "*";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kubelet-tls-guard")
}

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures_dir() -> PathBuf {
    crate_dir().join("tests").join("fixtures")
}

/// `../shared/corpus`, or `None` (after a recorded skip) when it is absent.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = crate_dir().join("..").join("shared").join("corpus");
    if dir.is_dir() {
        Some(dir)
    } else {
        skip::skip(&format!(
            "corpus directory {} is absent; corpus tests not run",
            dir.display()
        ));
        None
    }
}

/// The outcome of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The parsed JSON report; panics with the whole output when stdout is not one JSON object.
    pub fn json(&self) -> Value {
        match serde_json::from_str::<Value>(&self.stdout) {
            Ok(v) if v.is_object() => v,
            _ => panic!(
                "stdout is not one JSON object (exit {})\n--- stdout ---\n{}\n--- stderr ---\n{}",
                self.code, self.stdout, self.stderr
            ),
        }
    }

    /// Like `json` but reports a problem as a string instead of panicking.
    pub fn try_json(&self) -> Result<Value, String> {
        match serde_json::from_str::<Value>(&self.stdout) {
            Ok(v) if v.is_object() => Ok(v),
            _ => Err(format!(
                "stdout is not one JSON object (exit {}); stdout starts {:?}; stderr {:?}",
                self.code,
                self.stdout.chars().take(300).collect::<String>(),
                self.stderr.chars().take(300).collect::<String>()
            )),
        }
    }

    pub fn results(&self) -> Vec<Res> {
        parse_results(&self.json())
    }
}

/// Run the binary with `args`, feeding `stdin` when given.
pub fn run(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = cmd.spawn().expect("spawn kubelet-tls-guard");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        // The child may exit before reading everything (e.g. on a parse error): ignore EPIPE.
        let _ = pipe.write_all(input);
    }
    let out = child
        .wait_with_output()
        .expect("wait for kubelet-tls-guard");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `check --format json [--profile P] PATHS...`
pub fn check_paths(profile: Option<&str>, paths: &[&Path]) -> Run {
    let mut args: Vec<String> = vec!["check".into(), "--format".into(), "json".into()];
    if let Some(p) = profile {
        args.push("--profile".into());
        args.push(p.into());
    }
    for p in paths {
        args.push(p.to_string_lossy().into_owned());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&refs, None)
}

/// `check --format json [--profile P] -` with `input` on stdin.
pub fn check_stdin(profile: Option<&str>, input: &str) -> Run {
    let mut args = vec!["check", "--format", "json"];
    if let Some(p) = profile {
        args.push("--profile");
        args.push(p);
    }
    args.push("-");
    run(&args, Some(input.as_bytes()))
}

/// One entry of `results`.
#[derive(Debug, Clone)]
pub struct Res {
    pub source: String,
    pub object: String,
    pub kind: String,
    pub component: String,
    pub location: String,
    pub rule: String,
    pub controls: Vec<String>,
    pub status: String,
    pub message: String,
    pub remediation: String,
}

impl Res {
    fn line(&self) -> String {
        format!(
            "{} | {} | {} | {} | {}: {}",
            self.object, self.location, self.rule, self.status, self.kind, self.message
        )
    }
}

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

pub fn parse_results(report: &Value) -> Vec<Res> {
    let Some(list) = report.get("results").and_then(Value::as_array) else {
        panic!("report has no `results` array: {report}");
    };
    list.iter()
        .map(|r| Res {
            source: s(r, "source"),
            object: s(r, "object"),
            kind: s(r, "kind"),
            component: s(r, "component"),
            location: s(r, "location"),
            rule: s(r, "rule"),
            controls: r
                .get("controls")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            status: s(r, "status"),
            message: s(r, "message"),
            remediation: s(r, "remediation"),
        })
        .collect()
}

/// The component a rule belongs to (DESIGN.md section 1).
pub fn component_of(rule: &str) -> &'static str {
    match rule {
        CLIENT | CA => "kube-apiserver",
        CM => "kube-controller-manager",
        _ => "kubelet",
    }
}

/// Contract checks that hold for every report, whatever the input. Returns the problems found.
pub fn contract_problems(report: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let results = parse_results(report);
    let statuses = ["pass", "fail", "warn", "skip", "error"];
    let Some(summary) = report.get("summary") else {
        return vec!["report has no `summary`".into()];
    };
    for st in statuses {
        let want = results.iter().filter(|r| r.status == st).count() as u64;
        match summary.get(st).and_then(Value::as_u64) {
            Some(got) if got == want => {}
            got => out.push(format!(
                "summary.{st} is {got:?} but results hold {want} with that status"
            )),
        }
    }
    let mut by_object: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut errored: BTreeSet<(String, String)> = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for r in &results {
        if !statuses.contains(&r.status.as_str()) {
            out.push(format!("unknown status {:?} in {}", r.status, r.line()));
        }
        if r.status == "error" {
            errored.insert((r.source.clone(), r.object.clone()));
            continue;
        }
        if !ALL_RULES.contains(&r.rule.as_str()) {
            out.push(format!("unknown rule id {:?} in {}", r.rule, r.line()));
            continue;
        }
        by_object
            .entry((r.source.clone(), r.object.clone()))
            .or_default()
            .insert(r.rule.clone());
        if r.status != "skip" {
            if r.component != component_of(&r.rule) {
                out.push(format!(
                    "component {:?} should be {:?} in {}",
                    r.component,
                    component_of(&r.rule),
                    r.line()
                ));
            }
            let key = (
                r.source.clone(),
                r.object.clone(),
                r.location.clone(),
                r.rule.clone(),
            );
            if !seen.insert(key) {
                out.push(format!("duplicate verdict for {}", r.line()));
            }
            if r.message.trim().is_empty() {
                out.push(format!("empty message in {}", r.line()));
            }
            if r.status == "fail" && r.remediation.trim().is_empty() {
                out.push(format!("fail without remediation text in {}", r.line()));
            }
            let want_control = match r.rule.as_str() {
                CLIENT => Some(["1.2.4", "1.2.5"]),
                CA => Some(["1.2.5", "1.2.6"]),
                CM => Some(["1.3.6", "1.3.6"]),
                KROT => Some(["4.2.11", "4.2.12"]),
                _ => None,
            };
            if let Some(ids) = want_control {
                for id in ids {
                    if !r.controls.iter().any(|c| c.contains(id)) {
                        out.push(format!(
                            "controls {:?} lack CIS {id} in {}",
                            r.controls,
                            r.line()
                        ));
                    }
                }
            }
        }
    }
    for (key, rules) in &by_object {
        if errored.contains(key) {
            continue;
        }
        let missing: Vec<&str> = ALL_RULES
            .iter()
            .copied()
            .filter(|r| !rules.contains(*r))
            .collect();
        if !missing.is_empty() {
            out.push(format!(
                "object {:?} in {:?} lacks results for rules {missing:?}",
                key.1, key.0
            ));
        }
    }
    out
}

/// One expected non-skip verdict. `object`/`location` may be `ANY`.
#[derive(Debug, Clone, Copy)]
pub struct Exp {
    pub object: &'static str,
    pub location: &'static str,
    pub rule: &'static str,
    pub status: &'static str,
}

pub const fn e(
    object: &'static str,
    location: &'static str,
    rule: &'static str,
    status: &'static str,
) -> Exp {
    Exp {
        object,
        location,
        rule,
        status,
    }
}

fn matches(pat: &str, got: &str) -> bool {
    pat == ANY || pat == got
}

/// Compare the non-skip results against `expected` exactly (no missing, no extra), and the
/// `error` results against `errors`: each needle must be named by at least one error result
/// (its object or its message), and every error result must be accounted for by a needle
/// (`ANY` accounts for all). Returns the problems found.
pub fn verdict_problems(results: &[Res], expected: &[Exp], errors: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let (errs, verdicts): (Vec<&Res>, Vec<&Res>) = results
        .iter()
        .filter(|r| r.status != "skip")
        .partition(|r| r.status == "error");
    let mut used = vec![false; verdicts.len()];
    for x in expected {
        let hit = verdicts.iter().enumerate().find(|(i, r)| {
            !used[*i]
                && matches(x.object, &r.object)
                && matches(x.location, &r.location)
                && x.rule == r.rule
        });
        match hit {
            Some((i, r)) => {
                used[i] = true;
                if r.status != x.status {
                    out.push(format!(
                        "{} / {} / {}: expected {}, got {} ({})",
                        x.object, x.location, x.rule, x.status, r.status, r.message
                    ));
                }
            }
            None => {
                let skipped = results.iter().find(|r| {
                    r.status == "skip"
                        && matches(x.object, &r.object)
                        && matches(x.location, &r.location)
                        && x.rule == r.rule
                });
                out.push(match skipped {
                    Some(r) => format!(
                        "{} / {} / {}: expected {}, got skip ({})",
                        x.object, x.location, x.rule, x.status, r.message
                    ),
                    None => format!(
                        "{} / {} / {}: expected {}, no such result",
                        x.object, x.location, x.rule, x.status
                    ),
                });
            }
        }
    }
    for (i, r) in verdicts.iter().enumerate() {
        if !used[i] {
            out.push(format!("unexpected verdict: {}", r.line()));
        }
    }
    for needle in errors {
        let named = errs.iter().any(|r| {
            *needle == ANY
                || r.object == *needle
                || r.object.ends_with(&format!("/{needle}"))
                || r.message.contains(needle)
        });
        if !named {
            out.push(format!("expected an error result naming {needle:?}; none"));
        }
    }
    for r in &errs {
        let accounted = errors.iter().any(|n| {
            *n == ANY
                || r.object == *n
                || r.object.ends_with(&format!("/{n}"))
                || r.message.contains(n)
        });
        if !accounted {
            out.push(format!("unexpected error result: {}", r.line()));
        }
    }
    out
}

/// The exit code DESIGN.md section 6 demands for these verdicts.
pub fn expected_exit(expected: &[Exp], errors: &[&str]) -> i32 {
    if !errors.is_empty() {
        2
    } else if expected.iter().any(|x| x.status == FAIL) {
        1
    } else {
        0
    }
}

/// Run `check` on one input and compare everything; returns the problems, prefixed by `label`.
pub fn check_case(label: &str, run: &Run, expected: &[Exp], errors: &[&str]) -> Vec<String> {
    let report = match run.try_json() {
        Ok(v) => v,
        Err(e) => return vec![format!("{label}: {e}")],
    };
    let mut probs = contract_problems(&report);
    probs.extend(verdict_problems(&parse_results(&report), expected, errors));
    let want = expected_exit(expected, errors);
    if run.code != want {
        probs.push(format!("exit code {} (expected {want})", run.code));
    }
    probs.into_iter().map(|p| format!("{label}: {p}")).collect()
}

/// Panic with every problem at once, so one run shows all disagreements.
pub fn assert_no_problems(what: &str, problems: &[String]) {
    if !problems.is_empty() {
        panic!(
            "{what}: {} problem(s)\n  {}",
            problems.len(),
            problems.join("\n  ")
        );
    }
}
pub mod nodefs;
#[path = "../support/skip.rs"]
pub mod skip;

pub mod fake_apiserver;
pub mod fake_kubelet;
pub mod scan_support;
