//! Re-read the serving certificate and key when their contents change.
//!
//! Polling, not inotify: a Secret volume updates by swapping the `..data` symlink, which file
//! watches on the old target never see. Contents are compared byte for byte (the files are small),
//! so an update within the same mtime second is not missed either. A pair that does not load
//! keeps the last good certificate in service and is reported once, not on every poll.

use super::metrics::Metrics;
use super::tls::{LoadedCert, ReloadingResolver, load_pem};
use rustls::crypto::CryptoProvider;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What one poll found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollResult {
    Unchanged,
    Reloaded,
    /// The files changed but could not be used; the reason.
    Failed(String),
}

pub struct CertReloader {
    cert_path: PathBuf,
    key_path: PathBuf,
    resolver: Arc<ReloadingResolver>,
    metrics: Arc<Metrics>,
    provider: Arc<CryptoProvider>,
    /// The bytes in service, and the last bytes that failed (not to report them twice).
    loaded: (Vec<u8>, Vec<u8>),
    last_failed: Option<(Vec<u8>, Vec<u8>)>,
}

impl CertReloader {
    /// Load the pair for the first time; an error here stops start-up.
    pub fn load(
        cert_path: PathBuf,
        key_path: PathBuf,
        metrics: Arc<Metrics>,
        provider: Arc<CryptoProvider>,
    ) -> Result<(CertReloader, Arc<ReloadingResolver>), String> {
        let read = |p: &PathBuf| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
        let cert = read(&cert_path)?;
        let key = read(&key_path)?;
        let loaded = load_pem(&cert, &key, &provider)
            .map_err(|e| format!("{} / {}: {e}", cert_path.display(), key_path.display()))?;
        record_expiry(&metrics, &loaded);
        let resolver = Arc::new(ReloadingResolver::new(loaded.key));
        Ok((
            CertReloader {
                cert_path,
                key_path,
                resolver: resolver.clone(),
                metrics,
                provider,
                loaded: (cert, key),
                last_failed: None,
            },
            resolver,
        ))
    }

    /// Check the files once.
    pub async fn poll(&mut self) -> PollResult {
        let cert = tokio::fs::read(&self.cert_path).await;
        let key = tokio::fs::read(&self.key_path).await;
        let (cert, key) = match (cert, key) {
            (Ok(c), Ok(k)) => (c, k),
            (Err(e), _) => return self.failed(None, format!("{}: {e}", self.cert_path.display())),
            (_, Err(e)) => return self.failed(None, format!("{}: {e}", self.key_path.display())),
        };
        if self.loaded.0 == cert && self.loaded.1 == key {
            self.last_failed = None;
            return PollResult::Unchanged;
        }
        if self
            .last_failed
            .as_ref()
            .is_some_and(|(c, k)| *c == cert && *k == key)
        {
            return PollResult::Unchanged;
        }
        match load_pem(&cert, &key, &self.provider) {
            Ok(loaded) => {
                self.resolver.set(loaded.key.clone());
                record_expiry(&self.metrics, &loaded);
                self.metrics.cert_reloads.inc();
                self.loaded = (cert, key);
                self.last_failed = None;
                tracing::info!(
                    cert = %self.cert_path.display(),
                    not_after = loaded.not_after.unwrap_or_default(),
                    "serving certificate reloaded"
                );
                PollResult::Reloaded
            }
            Err(e) => {
                let why = format!(
                    "{} / {}: {e}",
                    self.cert_path.display(),
                    self.key_path.display()
                );
                self.failed(Some((cert, key)), why)
            }
        }
    }

    fn failed(&mut self, contents: Option<(Vec<u8>, Vec<u8>)>, why: String) -> PollResult {
        // An unreadable file is reported once until it changes state again.
        let key = contents.unwrap_or_default();
        if self.last_failed.as_ref() == Some(&key) {
            return PollResult::Unchanged;
        }
        self.last_failed = Some(key);
        self.metrics.cert_reload_failures.inc();
        tracing::warn!(reason = %why, "new certificate files not loaded; still serving the previous certificate");
        PollResult::Failed(why)
    }

    /// Poll every `interval` until `stop` fires.
    pub async fn run(mut self, interval: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = ticker.tick() => { self.poll().await; }
                _ = stop.changed() => return,
            }
        }
    }
}

fn record_expiry(metrics: &Metrics, loaded: &LoadedCert) {
    if let Some(t) = loaded.not_after {
        metrics.cert_not_after.set(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::certs;

    #[tokio::test]
    async fn swaps_on_change_keeps_old_on_garbage_and_reports_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = certs::generate(&["localhost".into()], 2).unwrap();
        certs::write_bundle(dir.path(), &a, false).unwrap();
        let metrics = Arc::new(Metrics::new());
        let (mut r, resolver) = CertReloader::load(
            dir.path().join("tls.crt"),
            dir.path().join("tls.key"),
            metrics.clone(),
            super::super::tls::provider(),
        )
        .unwrap();
        let first = resolver.current();
        assert_eq!(r.poll().await, PollResult::Unchanged);

        std::fs::write(dir.path().join("tls.crt"), b"garbage").unwrap();
        assert!(matches!(r.poll().await, PollResult::Failed(_)));
        assert_eq!(
            r.poll().await,
            PollResult::Unchanged,
            "same garbage is reported once"
        );
        assert!(Arc::ptr_eq(&first, &resolver.current()));
        assert_eq!(metrics.cert_reload_failures.get(), 1);

        let b = certs::generate(&["localhost".into()], 3).unwrap();
        certs::write_bundle(dir.path(), &b, true).unwrap();
        assert_eq!(r.poll().await, PollResult::Reloaded);
        assert!(!Arc::ptr_eq(&first, &resolver.current()));
        assert_eq!(metrics.cert_reloads.get(), 1);

        std::fs::remove_file(dir.path().join("tls.key")).unwrap();
        assert!(matches!(r.poll().await, PollResult::Failed(_)));
        assert_eq!(r.poll().await, PollResult::Unchanged);
        assert_eq!(metrics.cert_reload_failures.get(), 2);
    }
}
