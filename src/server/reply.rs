//! The webhook's HTTP answers: a one-line plain-text reason, or an AdmissionReview's bytes.
//! Bodies are `Full<Bytes>`, handed to hyper as they are (no boxing per answer).

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode, Version};

pub type Reply = Response<Full<Bytes>>;

/// A one-line plain-text answer for requests that are not AdmissionReviews.
pub fn plain(code: StatusCode, message: String) -> Reply {
    let mut text = message;
    text.push('\n');
    typed(code, text.into(), "text/plain; charset=utf-8")
}

/// A 200 with an AdmissionReview.
pub fn json(bytes: Vec<u8>) -> Reply {
    typed(StatusCode::OK, bytes.into(), "application/json")
}

fn typed(code: StatusCode, body: Bytes, content_type: &'static str) -> Reply {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = code;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// HTTP/1: tell the client the connection ends with this answer (the body was not read).
pub fn closing(mut r: Reply, version: Version) -> Reply {
    if version < Version::HTTP_2 {
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    r
}
