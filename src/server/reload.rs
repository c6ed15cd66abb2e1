//! Re-read the serving certificate and key when their contents change.
//!
//! Polling, not inotify: a Secret volume updates by swapping the `..data` symlink, which file
//! watches on the old target never see. Contents are compared byte for byte (the files are small),
//! so an update within the same mtime second is not missed either. A pair that does not load
//! keeps the last good certificate in service and is reported once, not on every poll.
//!
//! The reloader never blocks and never grows: only regular files of at most
//! [`MAX_PEM_FILE`] bytes are read (a FIFO or `/dev/zero` is a reload failure), off the async
//! workers, with a time limit. A certificate that is expired or not yet valid is not loaded; one
//! that is not yet valid is tried again once its time has come.

use super::metrics::Metrics;
use super::tls::MAX_PEM_FILE;
use super::tls::{LoadedCert, ReloadingResolver, Validity, load_pem, unix_now};
use crate::fsio::read_regular;
use rustls::crypto::CryptoProvider;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The longest one poll waits for the files (a hung file system must not stall the reloader).
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// What one poll found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollResult {
    Unchanged,
    Reloaded,
    /// The files changed but could not be used; the reason.
    Failed(String),
}

type Pair = (Vec<u8>, Vec<u8>);

/// The last failure, so it is reported once and not on every poll.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LastFailure {
    /// The files could not be read; the reason.
    Read(String),
    /// These contents did not load. `retry_at`: not yet valid, try again from then on.
    Contents { pair: Pair, retry_at: Option<i64> },
}

pub struct CertReloader {
    cert_path: PathBuf,
    key_path: PathBuf,
    resolver: Arc<ReloadingResolver>,
    metrics: Arc<Metrics>,
    provider: Arc<CryptoProvider>,
    /// The bytes in service.
    loaded: Pair,
    /// `notAfter` of the certificate in service, and whether its expiry was already logged.
    not_after: Option<i64>,
    expiry_logged: bool,
    last_failed: Option<LastFailure>,
    /// A read that outlived [`READ_TIMEOUT`]; no second one starts while it hangs.
    pending: Option<JoinHandle<Result<Pair, String>>>,
}

fn read_pair(cert: &std::path::Path, key: &std::path::Path) -> Result<Pair, String> {
    let cert = read_regular(cert, MAX_PEM_FILE).map_err(|e| e.to_string())?;
    let key = read_regular(key, MAX_PEM_FILE).map_err(|e| e.to_string())?;
    Ok((cert, key))
}

impl CertReloader {
    /// Load the pair for the first time; an error here stops start-up.
    pub fn load(
        cert_path: PathBuf,
        key_path: PathBuf,
        metrics: Arc<Metrics>,
        provider: Arc<CryptoProvider>,
    ) -> Result<(CertReloader, Arc<ReloadingResolver>), String> {
        let (cert, key) = read_pair(&cert_path, &key_path)?;
        let shown = format!("{} / {}", cert_path.display(), key_path.display());
        let loaded = load_pem(&cert, &key, &provider).map_err(|e| format!("{shown}: {e}"))?;
        loaded
            .valid_at(unix_now())
            .map_err(|e| format!("{shown}: {e}"))?;
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
                not_after: loaded.not_after,
                expiry_logged: false,
                last_failed: None,
                pending: None,
            },
            resolver,
        ))
    }

    /// Read both files off the async workers. `None`: a previous read still hangs (reported
    /// when it started hanging).
    async fn read(&mut self) -> Option<Result<Pair, String>> {
        if self.pending.as_ref().is_some_and(|h| !h.is_finished()) {
            return None;
        }
        self.pending = None;
        let (c, k) = (self.cert_path.clone(), self.key_path.clone());
        let mut handle = tokio::task::spawn_blocking(move || read_pair(&c, &k));
        Some(
            match tokio::time::timeout(READ_TIMEOUT, &mut handle).await {
                Ok(Ok(read)) => read,
                Ok(Err(e)) => Err(format!("reading the certificate files failed: {e}")),
                Err(_) => {
                    self.pending = Some(handle);
                    Err(format!(
                        "reading {} / {} did not finish within {} s",
                        self.cert_path.display(),
                        self.key_path.display(),
                        READ_TIMEOUT.as_secs()
                    ))
                }
            },
        )
    }

    /// Check the files once.
    pub async fn poll(&mut self) -> PollResult {
        let now = unix_now();
        self.log_expiry(now);
        let (cert, key) = match self.read().await {
            None => return PollResult::Unchanged,
            Some(Ok(pair)) => pair,
            Some(Err(why)) => return self.failed(LastFailure::Read(why.clone()), why),
        };
        if self.loaded.0 == cert && self.loaded.1 == key {
            self.last_failed = None;
            return PollResult::Unchanged;
        }
        if let Some(LastFailure::Contents { pair, retry_at }) = &self.last_failed {
            let due = retry_at.is_some_and(|t| now >= t);
            if pair.0 == cert && pair.1 == key && !due {
                return PollResult::Unchanged;
            }
        }
        let shown = format!("{} / {}", self.cert_path.display(), self.key_path.display());
        let loaded = match load_pem(&cert, &key, &self.provider) {
            Ok(l) => l,
            Err(e) => {
                let failure = LastFailure::Contents {
                    pair: (cert, key),
                    retry_at: None,
                };
                return self.failed(failure, format!("{shown}: {e}"));
            }
        };
        if let Err(v) = loaded.valid_at(now) {
            let retry_at = match v {
                Validity::NotYetValid { not_before } => Some(not_before),
                Validity::Expired { .. } => None,
            };
            let failure = LastFailure::Contents {
                pair: (cert, key),
                retry_at,
            };
            return self.failed(failure, format!("{shown}: {v}"));
        }
        self.resolver.set(loaded.key.clone());
        record_expiry(&self.metrics, &loaded);
        self.metrics.cert_reloads.inc();
        self.loaded = (cert, key);
        self.not_after = loaded.not_after;
        self.expiry_logged = false;
        self.last_failed = None;
        tracing::info!(
            cert = %self.cert_path.display(),
            not_after = loaded.not_after.unwrap_or_default(),
            "serving certificate reloaded"
        );
        PollResult::Reloaded
    }

    fn failed(&mut self, failure: LastFailure, why: String) -> PollResult {
        // Reported once until the files change again. A not-yet-valid pair that is retried and
        // still fails is the same failure.
        let same = match (&self.last_failed, &failure) {
            (
                Some(LastFailure::Contents { pair: a, .. }),
                LastFailure::Contents { pair: b, .. },
            ) => a == b,
            (last, new) => last.as_ref() == Some(new),
        };
        self.last_failed = Some(failure);
        if same {
            return PollResult::Unchanged;
        }
        self.metrics.cert_reload_failures.inc();
        tracing::warn!(reason = %why, "new certificate files not loaded; still serving the previous certificate");
        PollResult::Failed(why)
    }

    /// The certificate in service has expired and nothing replaced it: say so once.
    fn log_expiry(&mut self, now: i64) {
        if let Some(t) = self.not_after.filter(|t| now > *t && !self.expiry_logged) {
            self.expiry_logged = true;
            tracing::warn!(
                cert = %self.cert_path.display(),
                not_after = t,
                "the serving certificate in use has expired; waiting for new files"
            );
        }
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
