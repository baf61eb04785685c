//! Lets a streamed response that the guest finishes at once leave in one write.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Body as _;
use http_body_util::BodyExt;

use super::Body;

/// Most bytes [`settle`] reads ahead of the connection.
const SETTLE_MAX_BYTES: usize = 64 << 10;
/// Most frames [`settle`] reads ahead of the connection.
const SETTLE_MAX_FRAMES: usize = 16;

/// Lets a response body of open length (chunked on HTTP/1.1) that the guest is still writing
/// finish before hyper sees it: reads the frames it already holds, gives the guest one turn of
/// the scheduler (it writes the body and closes it after handing over the response, on another
/// task), and reads again. A small response then leaves in one write (head, chunk and end)
/// instead of two, each a TCP segment and a wake-up of the client (writes were a fifth of the
/// CPU of a p3 hello under load). Never waits longer than that turn: a body still streaming
/// goes on as it is, the frames read so far first; at most [`SETTLE_MAX_BYTES`] are read
/// ahead. Frames, their order and the open length are unchanged.
///
/// A body that fails within that turn fails before anything was sent: that error is returned,
/// so that the client gets a 500 rather than a connection closed with nothing on it.
pub async fn settle(
    response: hyper::Response<Body>,
) -> Result<hyper::Response<Body>, wasmtime_wasi_http::Error> {
    let (parts, mut body) = response.into_parts();
    if body.is_end_stream() || body.size_hint().exact().is_some() {
        // hyper needs no end marker after a known length.
        return Ok(hyper::Response::from_parts(parts, body));
    }
    let mut ahead = Ahead::default();
    std::future::poll_fn(|cx| ahead.read(&mut body, cx)).await;
    if !ahead.ended && !ahead.full() {
        tokio::task::yield_now().await;
        std::future::poll_fn(|cx| ahead.read(&mut body, cx)).await;
    }
    if ahead.frames.is_empty() && !ahead.ended {
        return Ok(hyper::Response::from_parts(parts, body));
    }
    if let Some(Err(_)) = ahead.frames.back() {
        if let Some(Err(e)) = ahead.frames.pop_back() {
            return Err(e);
        }
    }
    let settled = Settled {
        frames: ahead.frames,
        rest: (!ahead.ended).then_some(body),
    };
    Ok(hyper::Response::from_parts(parts, settled.boxed_unsync()))
}

type BodyFrame = Result<http_body::Frame<Bytes>, wasmtime_wasi_http::Error>;

/// The frames [`settle`] has read.
#[derive(Default)]
struct Ahead {
    frames: VecDeque<BodyFrame>,
    bytes: usize,
    /// No frame follows the last one read.
    ended: bool,
}

impl Ahead {
    fn full(&self) -> bool {
        self.bytes >= SETTLE_MAX_BYTES || self.frames.len() >= SETTLE_MAX_FRAMES
    }

    /// Takes the frames `body` has ready; never pending.
    fn read(&mut self, body: &mut Body, cx: &mut Context<'_>) -> Poll<()> {
        while !self.ended && !self.full() {
            match Pin::new(&mut *body).poll_frame(cx) {
                Poll::Ready(Some(frame)) => {
                    // Nothing follows trailers or an error.
                    self.ended = match &frame {
                        Ok(f) => {
                            self.bytes += f.data_ref().map_or(0, |d| d.len());
                            f.is_trailers()
                        }
                        Err(_) => true,
                    };
                    self.frames.push_back(frame);
                }
                Poll::Ready(None) => self.ended = true,
                Poll::Pending => break,
            }
        }
        Poll::Ready(())
    }
}

/// A body whose first frames [`settle`] read; `rest` is `None` once it has ended.
struct Settled {
    frames: VecDeque<BodyFrame>,
    rest: Option<Body>,
}

impl http_body::Body for Settled {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<BodyFrame>> {
        if let Some(frame) = self.frames.pop_front() {
            return Poll::Ready(Some(frame));
        }
        match self.rest.as_mut() {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty() && self.rest.as_ref().is_none_or(|r| r.is_end_stream())
    }

    fn size_hint(&self) -> http_body::SizeHint {
        // Never exact, as the original's was not: hyper chunks the body as it would have.
        let ahead: u64 = self
            .frames
            .iter()
            .filter_map(|f| f.as_ref().ok()?.data_ref().map(|d| d.len() as u64))
            .sum();
        let rest = self.rest.as_ref().map_or(0, |r| r.size_hint().lower());
        let mut hint = http_body::SizeHint::new();
        hint.set_lower(ahead + rest);
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::StreamBody;

    fn frames(chunks: Vec<BodyFrame>) -> Body {
        StreamBody::new(futures::stream::iter(chunks)).boxed_unsync()
    }

    async fn collect(body: Body) -> (Vec<Bytes>, Option<http::HeaderMap>) {
        let collected = body.collect().await.expect("body");
        let trailers = collected.trailers().cloned();
        (vec![collected.to_bytes()], trailers)
    }

    #[tokio::test]
    async fn a_finished_body_is_read_ahead_with_its_length_left_open() {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("x-t", "1".parse().unwrap());
        let body = frames(vec![
            Ok(http_body::Frame::data(Bytes::from("hello "))),
            Ok(http_body::Frame::data(Bytes::from("world"))),
            Ok(http_body::Frame::trailers(trailers.clone())),
        ]);
        let resp = settle(hyper::Response::new(body)).await.unwrap();
        let body = resp.into_body();
        assert!(!body.is_end_stream());
        assert_eq!(body.size_hint().exact(), None);
        assert_eq!(body.size_hint().lower(), 11);
        let (data, got) = collect(body).await;
        assert_eq!(data, [Bytes::from("hello world")]);
        assert_eq!(got, Some(trailers));
    }

    #[tokio::test]
    async fn a_body_still_streaming_is_not_waited_for() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<BodyFrame>();
        tx.unbounded_send(Ok(http_body::Frame::data(Bytes::from("first"))))
            .unwrap();
        let body = StreamBody::new(rx).boxed_unsync();
        let resp = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            settle(hyper::Response::new(body)),
        )
        .await
        .expect("settle waits for no more than it has")
        .unwrap();
        let mut body = resp.into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first, "first");
        tx.unbounded_send(Ok(http_body::Frame::data(Bytes::from("second"))))
            .unwrap();
        drop(tx);
        let (data, _) = collect(body).await;
        assert_eq!(data, [Bytes::from("second")]);
    }

    #[tokio::test]
    async fn a_body_that_fails_at_once_fails_the_response() {
        let body = frames(vec![
            Ok(http_body::Frame::data(Bytes::from("part"))),
            Err(wasmtime_wasi_http::Error::InternalError(Some(
                "trap".into(),
            ))),
        ]);
        let err = settle(hyper::Response::new(body)).await.unwrap_err();
        assert!(err.to_string().contains("trap"), "{err}");
    }

    #[tokio::test]
    async fn a_known_length_body_is_left_alone() {
        let resp = settle(hyper::Response::new(super::super::full_body("abc")))
            .await
            .unwrap();
        assert_eq!(resp.into_body().size_hint().exact(), Some(3));
    }
}
