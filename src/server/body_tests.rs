use super::{BodyError, read_body};
use axum::body::{Body, Bytes};
use hyper::body::Frame;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// A body that yields these frames, as hyper yields a body read in several pieces.
struct Frames(VecDeque<Bytes>);

impl hyper::body::Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().0.pop_front().map(|b| Ok(Frame::data(b))))
    }
}

fn body(frames: &[&'static [u8]]) -> Body {
    Body::new(Frames(
        frames.iter().map(|f| Bytes::from_static(f)).collect(),
    ))
}

async fn read(frames: &[&'static [u8]], limit: usize) -> Result<Bytes, BodyError<Body>> {
    read_body(body(frames), limit, Duration::from_secs(10)).await
}

#[tokio::test]
async fn one_frame_is_kept_as_it_came() {
    let frame: &'static [u8] = b"{\"kind\":\"AdmissionReview\"}";
    let Ok(got) = read(&[frame], 1024).await else {
        panic!("refused");
    };
    assert_eq!(got, frame);
    assert_eq!(got.as_ptr(), frame.as_ptr(), "copied");
}

#[tokio::test]
async fn frames_are_joined_in_order() {
    for frames in [
        &[&b"ab"[..], b"cd", b"ef"][..],
        &[b"", b"abc", b"", b"def"],
        &[b"abcdef", b""],
    ] {
        let Ok(got) = read(frames, 6).await else {
            panic!("refused {frames:?}");
        };
        assert_eq!(got, &b"abcdef"[..], "{frames:?}");
    }
    let Ok(got) = read(&[], 6).await else {
        panic!("refused the empty body");
    };
    assert!(got.is_empty());
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_in_any_frame() {
    for frames in [
        &[&b"abcdefg"[..]][..],
        &[b"abc", b"defg"],
        &[b"abcdef", b"g"],
    ] {
        assert!(
            matches!(read(frames, 6).await, Err(BodyError::TooLarge(_))),
            "{frames:?}"
        );
    }
}
