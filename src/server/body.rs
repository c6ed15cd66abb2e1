//! Request bodies: read within a size limit and a time limit, and when a body is refused, keep
//! reading (and discarding) it for a moment so the client sees the answer.
//!
//! A server that answers 413 and closes while the client is still sending makes the client's
//! kernel receive a TCP reset, which throws away the unread 413: curl and Python report a broken
//! connection instead. So the refused rest of the body is drained, up to a few seconds and
//! megabytes, while the answer (with `Connection: close`) goes out; the client reads it, stops
//! sending and closes, and then so do we.

use http_body_util::BodyExt;
use hyper::body::{Body, Bytes};
use std::fmt::Display;
use std::time::Duration;

/// How long a refused body is drained at most.
pub const LINGER_TIME: Duration = Duration::from_secs(5);
/// How much of a refused body is drained at most.
pub const LINGER_BYTES: u64 = 64 * 1024 * 1024;

pub enum BodyError<B> {
    /// Over the limit; the unread rest, to drain.
    TooLarge(B),
    Timeout,
    Read(String),
}

/// Collect `body` if it fits in `limit` bytes and arrives within `timeout`.
pub async fn read_body<B>(body: B, limit: usize, timeout: Duration) -> Result<Bytes, BodyError<B>>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Display,
{
    // Owns the body: a refused one is handed back whole, to drain.
    let collect = async move {
        let mut body = body;
        // A body that arrives as one frame is kept as it came (hyper's buffer, no copy); one
        // in several frames is gathered in a buffer sized from its Content-Length.
        let mut first: Option<Bytes> = None;
        let mut buf: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            let held = buf.len() + first.as_ref().map_or(0, Bytes::len);
            if held.saturating_add(data.len()) > limit {
                return Err(BodyError::TooLarge(body));
            }
            if held == 0 {
                first = Some(data);
                continue;
            }
            if let Some(first) = first.take() {
                // What is still to come, as far as Content-Length says.
                let rest = usize::try_from(body.size_hint().lower()).unwrap_or(0);
                buf.reserve((first.len() + data.len()).saturating_add(rest).min(limit));
                buf.extend_from_slice(&first);
            }
            buf.extend_from_slice(&data);
        }
        Ok(first.unwrap_or_else(|| Bytes::from(buf)))
    };
    match tokio::time::timeout(timeout, collect).await {
        Ok(r) => r,
        Err(_) => Err(BodyError::Timeout),
    }
}

/// Read and discard what the client still sends of a refused body, in the background, for at
/// most [`LINGER_TIME`] and [`LINGER_BYTES`]; then let the connection close.
pub fn drain<B>(mut body: B)
where
    B: Body<Data = Bytes> + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut seen: u64 = 0;
        let discard = async {
            while let Some(Ok(frame)) = body.frame().await {
                if let Some(data) = frame.data_ref() {
                    seen = seen.saturating_add(data.len() as u64);
                    if seen > LINGER_BYTES {
                        break;
                    }
                }
            }
        };
        let _ = tokio::time::timeout(LINGER_TIME, discard).await;
    });
}

#[cfg(test)]
#[path = "body_tests.rs"]
mod tests;
