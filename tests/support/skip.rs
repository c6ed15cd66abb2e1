//! Visible skips. A test that cannot run (a tool, the shared corpus or Go is missing) calls
//! `skip(reason)` and returns. libtest would count it as passed, so the reason is appended to
//! `$KTG_SKIP_LOG`, which `scripts/test.sh` totals and names in its closing summary. With
//! `CI=true` a skip is a failure: CI must run everything.
//!
//! Include it with `#[path = "../support/skip.rs"] pub mod skip;` from a shared test module.
#![allow(dead_code)]

use std::io::Write;

/// Record that the current test skipped, and why. Panics under `CI=true`.
pub fn skip(reason: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("unnamed test");
    // `BINARY::TEST`: scripts/test.sh matches it against cargo's per-binary results.
    let line = format!("{}::{test}: {reason}", test_binary());
    eprintln!("SKIP: {line}");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("skipped in CI, where every tool must be present: {line}");
    }
    if let Ok(path) = std::env::var("KTG_SKIP_LOG") {
        append_line(std::path::Path::new(&path), &line);
    }
}

/// Append `line` to the skip log as one write with O_APPEND, so that concurrent tests (threads
/// and test binaries) never interleave (`writeln!` would write the line and its newline
/// separately).
pub fn append_line(path: &std::path::Path, line: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(format!("{}\n", line.replace('\n', " ")).as_bytes());
    }
}

/// The test binary's name without cargo's hash (`target/debug/deps/install-0a1b…` → `install`).
fn test_binary() -> String {
    let exe = std::env::current_exe().ok();
    let stem = exe
        .as_deref()
        .and_then(|p| p.file_stem())
        .and_then(|s| s.to_str())
        .unwrap_or("unknown");
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_string(),
        _ => stem.to_string(),
    }
}

/// Skip unless `tool` is on PATH; returns whether it is.
pub fn require_tool(tool: &str, what: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()));
    if !found {
        skip(&format!("{tool} is not installed; {what} not run"));
    }
    found
}
