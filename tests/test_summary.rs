//! The closing summary of scripts/test.sh (scripts/test-summary.sh): from cargo's output and the
//! skip log it counts ignored tests and recorded skips as skipped, takes recorded skips out of
//! `passed`, names every skip, and keeps cargo's exit status (non-zero under CI=true when a test
//! recorded a skip).

#[path = "support/skip.rs"]
mod skip;

use std::path::PathBuf;
use std::process::Command;

const CARGO_LOG: &str = "\
     Running unittests src/lib.rs (target/debug/deps/kubelet_tls_guard-0123abcd4567ef89)

running 2 tests
test report::tests::a ... ok
test report::tests::b ... ok

test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s

     Running tests/install.rs (target/debug/deps/install-9f8e7d6c5b4a3210)

running 5 tests
test curl_check ... ok
test e2e_against_a_cluster ... ignored, needs TLSG_E2E_KUBECONFIG / KUBECONFIG to a real cluster
test openssl_check ... ok
test broken ... FAILED
test plain_ignored ... ignored

failures:

---- broken stdout ----
test result: FAILED. 2 passed; 1 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.20s

     Running tests/corpus.rs (target/debug/deps/corpus-00112233aabbccdd)

running 1 test
test every_corpus_file ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s
";

/// Two skips of one test (counted once), one in another binary, one of a test that then failed
/// (a failure, not a skip).
const SKIP_LOG: &str = "\
install::curl_check: curl not installed; certs: /validate over TLS not checked
install::curl_check: curl not installed; gen-openssl.sh: /validate over TLS not checked
corpus::every_corpus_file: corpus directory ../shared/corpus is absent; corpus tests not run
install::broken: openssl not installed
";

fn summary(status: &str, skips: &str, ci: bool) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("cargo.log");
    let skip_log = dir.path().join("skips.log");
    std::fs::write(&log, CARGO_LOG).expect("write log");
    std::fs::write(&skip_log, skips).expect("write skip log");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/test-summary.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(script).arg(status).arg(&log).arg(&skip_log);
    cmd.env_remove("CI");
    if ci {
        cmd.env("CI", "true");
    }
    let out = cmd.output().expect("run bash");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn counts_and_names_every_skip() {
    let (code, out) = summary("0", SKIP_LOG, false);
    let lines: Vec<&str> = out.lines().collect();
    // 5 passed by libtest, minus 2 tests that recorded a skip; 2 ignored + 2 recorded skipped.
    assert_eq!(
        lines.first().copied(),
        Some("3 passed, 1 failed, 4 skipped"),
        "{out}"
    );
    for needle in [
        "install::e2e_against_a_cluster: ignored: needs TLSG_E2E_KUBECONFIG / KUBECONFIG to a real cluster",
        "install::plain_ignored: ignored",
        "install::curl_check: curl not installed; certs: /validate over TLS not checked",
        "install::curl_check: curl not installed; gen-openssl.sh: /validate over TLS not checked",
        "corpus::every_corpus_file: corpus directory ../shared/corpus is absent",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("  skipped: ") && l.contains(needle)),
            "{needle:?} not named:\n{out}"
        );
    }
    assert!(
        !out.contains("install::broken"),
        "a failed test named as skipped:\n{out}"
    );
    assert_eq!(code, 0, "cargo's status is kept");
}

#[test]
fn exit_status_is_cargos_and_ci_fails_on_recorded_skips() {
    assert_eq!(summary("101", "", false).0, 101);
    assert_eq!(summary("101", SKIP_LOG, true).0, 101);
    assert_eq!(
        summary("0", SKIP_LOG, true).0,
        1,
        "CI=true with a recorded skip"
    );
    // Ignored tests alone are named but do not fail CI: they need what CI never has.
    let (code, out) = summary("0", "", true);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().next(), Some("5 passed, 1 failed, 2 skipped"));
}

#[test]
fn no_skip_log_is_no_recorded_skip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("cargo.log");
    std::fs::write(&log, CARGO_LOG).expect("write log");
    let out = Command::new("bash")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/test-summary.sh"))
        .arg("0")
        .arg(&log)
        .arg(dir.path().join("never-written.log"))
        .env_remove("CI")
        .output()
        .expect("run bash");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().next(),
        Some("5 passed, 1 failed, 2 skipped"),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(0));
}

/// Tests skip at the same time, from threads and binaries: every line reaches the log whole.
#[test]
fn concurrent_skips_never_interleave() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("skips.log");
    std::thread::scope(|s| {
        for t in 0..8 {
            let log = &log;
            s.spawn(move || {
                for i in 0..300 {
                    skip::append_line(
                        log,
                        &format!("bin::test_{t}_{i}: tool {t} missing; part {i}"),
                    );
                }
            });
        }
    });
    let text = std::fs::read_to_string(&log).expect("read the log");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 8 * 300);
    for l in lines {
        let whole = l
            .strip_prefix("bin::test_")
            .and_then(|r| r.split_once(": tool "))
            .is_some_and(|(id, rest)| {
                let (t, i) = id.split_once('_').unwrap_or(("", ""));
                rest == format!("{t} missing; part {i}")
            });
        assert!(whole, "interleaved line: {l:?}");
    }
}
