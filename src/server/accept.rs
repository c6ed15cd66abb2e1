//! Accepting connections under a limit, and backing off when accepting fails.
//!
//! At the limit, no more connections are accepted until one closes: new ones wait in the
//! kernel's backlog instead of taking file descriptors. An accept error (typically EMFILE: out of
//! file descriptors) is retried with a growing pause instead of a busy loop, and logged once when
//! a run of errors starts, at most once a minute while it lasts, and once when it ends.

use super::metrics::Metrics;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tokio::time::Instant;

const FIRST_PAUSE: Duration = Duration::from_millis(5);
const MAX_PAUSE: Duration = Duration::from_secs(1);
const REMINDER: Duration = Duration::from_secs(60);

pub struct Acceptor {
    listener: TcpListener,
    slots: Arc<Semaphore>,
    max: usize,
    metrics: Arc<Metrics>,
    /// The limit was reached and not yet left (logged once per stretch).
    at_limit: bool,
    /// The current run of accept errors: how many, since when, last logged when.
    errors: u64,
    errors_since: Option<Instant>,
    logged_at: Option<Instant>,
    pause: Duration,
}

impl Acceptor {
    pub fn new(listener: TcpListener, max_connections: usize, metrics: Arc<Metrics>) -> Self {
        let max = max_connections.max(1);
        Acceptor {
            listener,
            slots: Arc::new(Semaphore::new(max)),
            max,
            metrics,
            at_limit: false,
            errors: 0,
            errors_since: None,
            logged_at: None,
            pause: FIRST_PAUSE,
        }
    }

    /// The next connection, with its slot under the limit. Cancel-safe: dropping the future
    /// loses no connection.
    pub async fn next(&mut self) -> (TcpStream, SocketAddr, OwnedSemaphorePermit) {
        let slot = match self.slots.clone().try_acquire_owned() {
            Ok(s) => {
                if self.at_limit {
                    self.at_limit = false;
                    tracing::info!("below the connection limit again");
                }
                s
            }
            Err(TryAcquireError::NoPermits) | Err(TryAcquireError::Closed) => {
                self.metrics.connection_limit_reached.inc();
                if !self.at_limit {
                    // Once per stretch at the limit, not once per waiting connection.
                    self.at_limit = true;
                    tracing::warn!(
                        max_connections = self.max,
                        "connection limit reached; new connections wait until one closes"
                    );
                }
                // Never closed: waiting is all that can happen.
                match self.slots.clone().acquire_owned().await {
                    Ok(s) => s,
                    Err(_) => return std::future::pending().await,
                }
            }
        };
        loop {
            match self.listener.accept().await {
                Ok((tcp, peer)) => {
                    self.recovered();
                    return (tcp, peer, slot);
                }
                Err(e) => {
                    self.failed(&e);
                    tokio::time::sleep(self.pause).await;
                    self.pause = (self.pause * 2).min(MAX_PAUSE);
                }
            }
        }
    }

    fn failed(&mut self, e: &std::io::Error) {
        self.metrics.accept_errors.inc();
        self.errors += 1;
        let now = Instant::now();
        let since = *self.errors_since.get_or_insert(now);
        match self.logged_at {
            None => {
                tracing::warn!(error = %e, "accept failed; retrying with backoff (logged once per run of errors)");
                self.logged_at = Some(now);
            }
            Some(t) if now.duration_since(t) >= REMINDER => {
                tracing::warn!(
                    error = %e,
                    errors = self.errors,
                    failing_s = now.duration_since(since).as_secs(),
                    "accept still failing"
                );
                self.logged_at = Some(now);
            }
            Some(_) => {}
        }
    }

    fn recovered(&mut self) {
        if self.errors > 0 {
            let failing = self
                .errors_since
                .map(|t| t.elapsed().as_secs_f64())
                .unwrap_or_default();
            tracing::info!(
                errors = self.errors,
                failing_s = failing,
                "accepting connections again"
            );
        }
        self.errors = 0;
        self.errors_since = None;
        self.logged_at = None;
        self.pause = FIRST_PAUSE;
    }
}
