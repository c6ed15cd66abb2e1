//! The floor for `scripts/load-test.sh`: a bare hyper + rustls (ring) server that answers every
//! request with one fixed body. Same certificate, same runtime shape and protocols as `serve`, no
//! routing, parsing or deciding, so `serve`'s throughput can be quoted as a share of it.
//!
//! Usage: floor CERT_PEM KEY_PEM PATH=RESPONSE_FILE...  (e.g. /validate=validate.json)
//! Any other path gets a 404. Listens on 127.0.0.1 (a port chosen by the kernel) and prints `listening ADDR` on stdout.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::convert::Infallible;
use std::io::Write as _;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn tls(cert: &str, key: &str) -> Result<rustls::ServerConfig, Error> {
    let certs = CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let [_, cert, key, routes @ ..] = args.as_slice() else {
        return Err("usage: floor CERT_PEM KEY_PEM PATH=RESPONSE_FILE...".into());
    };
    let acceptor = TlsAcceptor::from(Arc::new(tls(cert, key)?));
    let mut bodies = Vec::new();
    for route in routes {
        let (path, file) = route.split_once('=').ok_or("expected PATH=RESPONSE_FILE")?;
        bodies.push((path.to_string(), Bytes::from(std::fs::read(file)?)));
    }
    let bodies = Arc::new(bodies);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut out = std::io::stdout();
    writeln!(out, "listening {}", listener.local_addr()?)?;
    out.flush()?;
    loop {
        let (tcp, _) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let bodies = bodies.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let service = service_fn(move |req: Request<Incoming>| {
                let found = bodies.iter().find(|(p, _)| p == req.uri().path());
                let body = found.map(|(_, b)| b.clone());
                async move {
                    let Some(body) = body else {
                        let mut r = Response::new(Full::new(Bytes::from_static(b"not found\n")));
                        *r.status_mut() = hyper::StatusCode::NOT_FOUND;
                        return Ok::<_, Infallible>(r);
                    };
                    let mut r = Response::new(Full::new(body));
                    r.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static("application/json"),
                    );
                    Ok::<_, Infallible>(r)
                }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
