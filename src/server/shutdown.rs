//! Termination signals: SIGTERM (Kubernetes) and SIGINT (Ctrl-C).

/// SIGTERM and SIGINT, listened for from the moment this is made until it is dropped.
///
/// Made before the process says it is serving, so a signal that comes right after is
/// handled rather than taking the default action (the process killed, exit 143); and kept
/// across waits, so a second signal sent while the first is being handled is not lost.
pub struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    /// Install the handlers. Needs a Tokio runtime with its I/O driver.
    pub fn listen() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Wait for the next SIGTERM or SIGINT, including one that came before this call;
    /// returns its name.
    pub async fn next(&mut self) -> std::io::Result<&'static str> {
        #[cfg(unix)]
        {
            let name = tokio::select! {
                got = self.term.recv() => got.map(|()| "SIGTERM"),
                got = self.int.recv() => got.map(|()| "SIGINT"),
            };
            name.ok_or_else(|| std::io::Error::other("the signal driver has stopped"))
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await?;
            Ok("Ctrl-C")
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::Signals;
    use std::time::Duration;

    /// SIGINT to this test process, by kill(1) (the crate has no `unsafe`).
    fn interrupt_self() {
        let sent = std::process::Command::new("kill")
            .args(["-INT", &std::process::id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
    }

    /// Signals sent before anyone waits are delivered, one per wait: the first is not lost
    /// to an early start, the second not to a late wait. (SIGINT, not SIGTERM: the same
    /// handling, and less harm to the test run if it went wrong.)
    #[tokio::test]
    async fn a_signal_before_the_wait_is_kept() {
        let mut signals = Signals::listen().expect("install handlers");
        for _ in 0..2 {
            interrupt_self();
            // kill(1) has returned, so the signal has been delivered before this wait.
            let got = tokio::time::timeout(Duration::from_secs(10), signals.next()).await;
            assert_eq!(got.expect("delivered").expect("driver"), "SIGINT");
        }
    }
}
