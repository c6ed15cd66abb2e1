//! `--kubelet-access proxy`: read a kubelet through the API server's node proxy
//! (`/api/v1/nodes/NAME/proxy/...`). That needs RBAC `nodes/proxy`, which also allows exec into
//! every pod on the node: opt-in only. The API server, not us, talks to the kubelet.

use super::kubelet::{Fetched, read_capped, scan_lines};
use kube::client::Body;

fn request(node: &str, path: &str) -> Result<http::Request<Body>, String> {
    http::Request::get(format!("/api/v1/nodes/{node}/proxy{path}"))
        .header(http::header::ACCEPT, "application/json, text/plain")
        .body(Body::empty())
        .map_err(|e| format!("GET nodes/{node}/proxy{path}: {e}"))
}

/// GET a kubelet path through the node proxy, keeping at most `cap` bytes of the body.
/// The kube client retries 429/503/504 by itself; the caller's deadline bounds those retries.
pub async fn get(client: &kube::Client, node: &str, path: &str, cap: usize) -> Fetched {
    let resp = client
        .send(request(node, path)?)
        .await
        .map_err(|e| format!("GET nodes/{node}/proxy{path}: {e}"))?;
    let status = resp.status().as_u16();
    let body = read_capped(resp.into_body(), cap)
        .await
        .map_err(|e| format!("GET nodes/{node}/proxy{path}: {e}"))?;
    Ok((status, body))
}

/// Scan a text endpoint through the proxy line by line (for `/metrics`).
pub async fn find_line<T>(
    client: &kube::Client,
    node: &str,
    path: &str,
    cap: usize,
    find: impl Fn(&str) -> Option<T>,
) -> Result<(u16, Option<T>), String> {
    let resp = client
        .send(request(node, path)?)
        .await
        .map_err(|e| format!("GET nodes/{node}/proxy{path}: {e}"))?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Ok((status, None));
    }
    let found = scan_lines(resp.into_body(), cap, find).await?;
    Ok((status, found))
}
