//! The admission webhook server (DESIGN.md sections 4 and 5): `/validate` and `/mutate` over
//! TLS, and `/healthz`, `/readyz`, `/metrics` on a plain-HTTP operations port.
//!
//! [`start`] binds both ports, loads the certificate and returns at once; the caller decides
//! when to stop (the `serve` command on SIGTERM/SIGINT, tests whenever they like).

mod accept;
pub mod admission;
pub mod body;
pub mod conn;
pub mod decide;
mod envelope;
pub mod http;
pub mod lean;
mod listener;
mod messages;
pub mod metrics;
pub mod ops;
mod outcome;
pub mod pool;
pub mod reload;
mod render;
mod reply;
mod resume;
pub mod shutdown;
pub mod tls;

use crate::engine::policy::Policy;
use metrics::Metrics;
use ops::Health;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// 8 MiB: the API server sends objects up to 3 MiB, and an UPDATE carries two.
pub const DEFAULT_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// The API server keeps webhook connections alive between requests; 30 s, as hyper's header
/// timeout already bounds HTTP/1 keep-alive, and Go's client opens a new connection when it
/// finds an idle one closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Far above what API servers open, far below common file-descriptor limits.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// Everything `serve` can tune. [`ServerOptions::new`] gives the production defaults.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub listen: SocketAddr,
    pub metrics_listen: SocketAddr,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    /// Require client certificates signed by this CA bundle (mTLS).
    pub client_ca: Option<PathBuf>,
    pub cert_reload_interval: Duration,
    pub body_limit: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub handshake_timeout: Duration,
    /// A connection with no request in progress for this long is closed, from the end of the
    /// TLS handshake on and between keep-alive requests.
    pub idle_timeout: Duration,
    /// Open connections at most (those in the TLS handshake included); more wait to be accepted.
    pub max_connections: usize,
    /// An admission decision not made within this (counted from the complete request body;
    /// parsing and waiting for a free core included) is answered per failure policy; see
    /// [`pool`].
    pub decision_timeout: Duration,
    /// Decisions running at once; 0: one per available core.
    pub decision_concurrency: usize,
    /// After SIGTERM: report not-ready this long before closing the listener (lets endpoints
    /// controllers take the pod out of the Service first).
    pub shutdown_delay: Duration,
    /// After closing the listener: the longest wait for in-flight requests.
    pub drain_timeout: Duration,
}

impl ServerOptions {
    pub fn new(tls_cert: PathBuf, tls_key: PathBuf) -> Self {
        ServerOptions {
            listen: SocketAddr::from(([0, 0, 0, 0], 8443)),
            metrics_listen: SocketAddr::from(([0, 0, 0, 0], 9090)),
            tls_cert,
            tls_key,
            client_ca: None,
            cert_reload_interval: Duration::from_secs(10),
            body_limit: DEFAULT_BODY_LIMIT,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            decision_timeout: pool::DEFAULT_DECISION_TIMEOUT,
            decision_concurrency: 0,
            shutdown_delay: Duration::ZERO,
            drain_timeout: Duration::from_secs(25),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error("serving certificate: {0}")]
    Cert(String),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("server task failed: {0}")]
    Task(String),
}

/// A started server. Dropping it does not stop it: call [`RunningServer::shutdown`].
pub struct RunningServer {
    addr: SocketAddr,
    ops_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
}

impl RunningServer {
    /// The TLS address actually bound (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn ops_addr(&self) -> SocketAddr {
        self.ops_addr
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    /// Start draining: not ready, stop accepting (after the shutdown delay), finish in-flight.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }

    /// Wait until the server has drained and every task has ended.
    pub async fn wait(self) -> Result<(), ServerError> {
        self.task
            .await
            .map_err(|e| ServerError::Task(e.to_string()))
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|error| ServerError::Bind { addr, error })
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    // An error means the sender is gone, which also means stop.
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Bind, load the certificate and start serving.
pub async fn start(policy: Arc<Policy>, opts: ServerOptions) -> Result<RunningServer, ServerError> {
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health::default());

    // The operations port first: liveness answers even if the certificate is slow to appear.
    let ops_listener = bind(opts.metrics_listen).await?;
    let ops_addr = ops_listener
        .local_addr()
        .map_err(|error| ServerError::Bind {
            addr: opts.metrics_listen,
            error,
        })?;

    let provider = tls::provider();
    let (reloader, resolver) = reload::CertReloader::load(
        opts.tls_cert.clone(),
        opts.tls_key.clone(),
        metrics.clone(),
        provider.clone(),
    )
    .map_err(ServerError::Cert)?;
    let tls_config = tls::server_config(resolver, opts.client_ca.as_deref(), provider)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls_config));
    health.set_cert_loaded();

    let listener = bind(opts.listen).await?;
    let addr = listener.local_addr().map_err(|error| ServerError::Bind {
        addr: opts.listen,
        error,
    })?;

    let app = Arc::new(http::AppState {
        policy,
        metrics: metrics.clone(),
        body_limit: opts.body_limit,
        body_timeout: opts.body_timeout,
        pool: pool::DecisionPool::new(opts.decision_concurrency, opts.decision_timeout),
    });

    let (stop_tx, stop_rx) = watch::channel(false);
    // The operations port and the reloader outlive the drain; they stop after it.
    let (aux_tx, aux_rx) = watch::channel(false);
    let ops_app = ops::router(health.clone(), metrics.clone());
    let ops_task = tokio::spawn({
        let aux_rx = aux_rx.clone();
        async move {
            crate::ops::serve(ops_listener, ops_app, stopped(aux_rx)).await;
        }
    });
    let reload_task = tokio::spawn(reloader.run(opts.cert_reload_interval, aux_rx));

    let settings = listener::ConnSettings {
        handshake_timeout: opts.handshake_timeout,
        header_timeout: opts.header_timeout,
        idle_timeout: opts.idle_timeout,
        drain_timeout: opts.drain_timeout,
        max_connections: opts.max_connections,
    };
    let task = tokio::spawn({
        let health = health.clone();
        let metrics = metrics.clone();
        let delay = opts.shutdown_delay;
        async move {
            let stop = async move {
                stopped(stop_rx).await;
                health.set_draining();
                tracing::info!(
                    delay_s = delay.as_secs_f64(),
                    "shutdown requested; not ready"
                );
                tokio::time::sleep(delay).await;
            };
            listener::serve(listener, acceptor, app, settings, metrics, stop).await;
            let _ = aux_tx.send(true);
            let _ = ops_task.await;
            let _ = reload_task.await;
            tracing::info!("server stopped");
        }
    });
    tracing::info!(%addr, %ops_addr, "serving");
    Ok(RunningServer {
        addr,
        ops_addr,
        stop: stop_tx,
        task,
        health,
        metrics,
    })
}
