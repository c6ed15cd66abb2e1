//! scripts/fuzz-smoke.sh (run by scripts/test.sh): says why it did not run, runs each target
//! from a scratch directory plus its committed seeds for 30 s, fails on a crash. Driven with stub
//! `rustup` and `cargo` commands, so the test needs neither nightly nor cargo-fuzz; the real run
//! is scripts/test.sh's. Every fuzz target has committed seeds.

use std::path::{Path, PathBuf};
use std::process::Command;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A directory of stub commands: `rustup` lists `toolchains`, `cargo` answers as `cargo_body`.
fn stubs(dir: &Path, toolchains: &str, cargo_body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    for (name, body) in [
        ("rustup", format!("#!/bin/sh\nprintf '{toolchains}'\n")),
        ("cargo", format!("#!/bin/sh\n{cargo_body}\n")),
    ] {
        let p = bin.join(name);
        std::fs::write(&p, body).expect("write stub");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    bin
}

fn smoke(bin: &Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new("bash");
    cmd.arg(crate_dir().join("scripts/fuzz-smoke.sh"))
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env_remove("KTG_FUZZ")
        .env_remove("KTG_FUZZ_SECONDS")
        .env_remove("CI");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run bash");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const NIGHTLY: &str =
    "stable-x86_64-unknown-linux-gnu (default)\\nnightly-x86_64-unknown-linux-gnu\\n";

#[test]
fn says_why_it_did_not_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let no_fuzz = "exit 1";
    let (code, out, _) = smoke(&stubs(tmp.path(), NIGHTLY, no_fuzz), &[("KTG_FUZZ", "0")]);
    assert_eq!((code, out.trim()), (0, "fuzz: not run (KTG_FUZZ=0)"));

    let tmp = tempfile::tempdir().expect("tempdir");
    let stable_only = "stable-x86_64-unknown-linux-gnu (default)\\n";
    let (code, out, _) = smoke(&stubs(tmp.path(), stable_only, no_fuzz), &[]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("fuzz: not run: no nightly toolchain"),
        "{out}"
    );

    let tmp = tempfile::tempdir().expect("tempdir");
    let (code, out, _) = smoke(&stubs(tmp.path(), NIGHTLY, no_fuzz), &[]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("fuzz: not run: cargo-fuzz is not installed (KTG_FUZZ=install"),
        "{out}"
    );

    let (code, _, err) = smoke(&stubs(tmp.path(), NIGHTLY, no_fuzz), &[("KTG_FUZZ", "yes")]);
    assert_eq!(code, 2, "{err}");
}

/// Under CI=true a missing cargo-fuzz is installed, not reported as not run.
#[test]
fn installs_cargo_fuzz_under_ci() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = tmp.path().join("cargo.log");
    // No cargo-fuzz, and its install fails: the run fails rather than saying it did not run.
    let cargo = format!("echo \"$*\" >> '{}'\nexit 1", log.display());
    let (code, out, _) = smoke(&stubs(tmp.path(), NIGHTLY, &cargo), &[("CI", "true")]);
    assert_ne!(code, 0, "{out}");
    assert!(!out.contains("not run"), "{out}");
    let calls = std::fs::read_to_string(&log).expect("cargo was called");
    assert!(
        calls.lines().any(|l| l == "install cargo-fuzz --locked"),
        "{calls}"
    );
}

/// A `cargo` that records its arguments and answers `fuzz list` with two targets; `fuzz run`
/// of `crashy` fails when `crash` is set.
fn fake_cargo(log: &Path, crash: bool) -> String {
    format!(
        "echo \"$*\" >> '{}'\ncase \"$*\" in\n  '+nightly fuzz --version') echo cargo-fuzz 0.13 ;;\n  '+nightly fuzz list') printf 'admission\\ncrashy\\n' ;;\n  '+nightly fuzz run crashy'*) {} ;;\n  '+nightly fuzz run'*) echo 'Done 4242 runs in 30 second(s)' ;;\nesac\nexit 0",
        log.display(),
        if crash {
            "echo '==1== ERROR: libFuzzer: deadly signal'; exit 77"
        } else {
            "echo 'Done 17 runs in 30 second(s)'"
        }
    )
}

#[test]
fn runs_each_target_from_scratch_plus_seeds_and_fails_on_a_crash() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = tmp.path().join("cargo.log");
    let bin = stubs(tmp.path(), NIGHTLY, &fake_cargo(&log, false));
    let (code, out, err) = smoke(&bin, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("fuzz: admission: 4242 runs in 30 s, no crash"),
        "{out}"
    );
    assert!(
        out.contains("fuzz: crashy: 17 runs in 30 s, no crash"),
        "{out}"
    );
    let calls = std::fs::read_to_string(&log).expect("cargo was called");
    let run = calls
        .lines()
        .find(|l| l.starts_with("+nightly fuzz run admission "))
        .unwrap_or_else(|| panic!("no run of admission: {calls}"));
    let words: Vec<&str> = run.split_whitespace().collect();
    // Scratch first (new inputs go there), the committed seeds second, 30 s.
    let seeds = crate_dir().join("fuzz/corpus/admission");
    assert_eq!(words.get(5), Some(&seeds.to_str().unwrap_or("?")), "{run}");
    assert!(!words[4].contains("fuzz/corpus"), "{run}");
    assert!(words.contains(&"-max_total_time=30"), "{run}");

    let log = tmp.path().join("cargo-crash.log");
    let bin = stubs(tmp.path(), NIGHTLY, &fake_cargo(&log, true));
    let (code, out, err) = smoke(&bin, &[("KTG_FUZZ_SECONDS", "5")]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("fuzz: crashy: FAILED"), "{out}");
    assert!(
        err.contains("deadly signal"),
        "the crash log is shown: {err}"
    );
    assert!(out.contains("fuzz: admission: 4242 runs in 5 s"), "{out}");
    // A crashy target does not leave a seeds directory behind in the repository.
    assert!(!crate_dir().join("fuzz/corpus/crashy").exists());
}

#[test]
fn every_fuzz_target_has_committed_seeds() {
    let manifest =
        std::fs::read_to_string(crate_dir().join("fuzz/Cargo.toml")).expect("fuzz/Cargo.toml");
    let targets: Vec<&str> = manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|b| {
            b.lines()
                .find_map(|l| l.trim().strip_prefix("name = "))
                .map(|n| n.trim_matches('"'))
        })
        .collect();
    assert!(targets.len() >= 3, "{targets:?}");
    for t in targets {
        let dir = crate_dir().join("fuzz/corpus").join(t);
        let n = std::fs::read_dir(&dir)
            .map(|d| d.flatten().count())
            .unwrap_or(0);
        assert!(n > 0, "no seeds in {}", dir.display());
    }
}

/// Fuzz targets that stopped compiling (an API they call changed) fail the run, saying so.
#[test]
fn targets_that_do_not_build_fail_the_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cargo = "case \"$*\" in\n  '+nightly fuzz --version') echo cargo-fuzz 0.13 ;;\n  '+nightly fuzz build') echo 'error[E0308]: mismatched types' >&2; exit 101 ;;\nesac\nexit 0";
    let (code, out, err) = smoke(&stubs(tmp.path(), NIGHTLY, cargo), &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("fuzz: FAILED: the fuzz targets do not build"),
        "{out}"
    );
    assert!(err.contains("mismatched types"), "{err}");
}
