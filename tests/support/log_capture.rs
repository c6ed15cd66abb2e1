//! What a tracing subscriber logs while a closure runs, as text: for tests that check that a
//! failure is logged, or that nothing is.
//!
//! Include it with `#[path = "…/tests/support/log_capture.rs"] mod log_capture;`.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

/// A writer the test can read back.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// What has been written so far.
    pub fn text(&self) -> String {
        self.0
            .lock()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Run `f` with a plain-text subscriber; what it returned, and what was logged.
pub fn logged<T>(f: impl FnOnce() -> T) -> (T, String) {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    (out, log.text())
}
