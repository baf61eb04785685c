//! A response whose guest fails after handing over the head must reach the client incomplete.
//!
//! Once a guest has set its response, the server streams the body while the guest goes on
//! writing it. If the guest then traps or is stopped by `--request-timeout`, wasmtime-wasi-http
//! drops the body's sender with the store, and that reads as a body that ended normally: the
//! client would take a truncated file or JSON document for a whole one. [`GuestFailure`] is told
//! of the failure before the store goes away, and [`GuardedBody`] then ends the body with an
//! error instead, which hyper turns into an aborted message: on HTTP/1.1 the connection closes
//! without the last chunk (or short of the Content-Length), on HTTP/2 the stream is reset.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;

use super::settle::settle;
use super::Body;

/// What one request's guest did after its response left, shared by the executor (which learns
/// of a failure) and the response body (which must not end cleanly after one).
pub struct GuestFailure {
    component: Arc<str>,
    path: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The guest's failure, as the log words it.
    error: Option<String>,
    /// The response head has been handed to the server.
    handed_over: bool,
    /// The body reached its end before any failure.
    completed: bool,
    logged: bool,
}

impl GuestFailure {
    pub fn new(component: Arc<str>, path: impl Into<String>) -> Arc<Self> {
        Arc::new(Self {
            component,
            path: path.into(),
            state: Mutex::new(State::default()),
        })
    }

    /// Records that the guest failed. Call it while the guest's store still lives: dropping the
    /// store ends the body, and the body must see the failure by then. Before the response is
    /// handed over the caller reports the error itself (a 500); after, it is logged here.
    pub fn failed(&self, error: &anyhow::Error) {
        let mut state = self.state.lock().unwrap();
        state.error.get_or_insert_with(|| format!("{error:#}"));
        if state.handed_over {
            self.log(&mut state);
        }
    }

    /// Hands the response to the server; its body then ends in an error if the guest fails
    /// before the end. The body is settled first ([`settle`]): if it fails within that, nothing
    /// has left yet and the error is returned instead, for a 500.
    pub async fn hand_over(
        self: &Arc<Self>,
        response: hyper::Response<Body>,
    ) -> anyhow::Result<hyper::Response<Body>> {
        let guarded = response.map(|inner| {
            GuardedBody {
                inner,
                failure: self.clone(),
                done: false,
            }
            .boxed_unsync()
        });
        let response = settle(guarded).await.map_err(anyhow::Error::new)?;
        let mut state = self.state.lock().unwrap();
        state.handed_over = true;
        if state.error.is_some() {
            self.log(&mut state);
        }
        Ok(response)
    }

    fn log(&self, state: &mut State) {
        if std::mem::replace(&mut state.logged, true) {
            return;
        }
        let error = state.error.as_deref().unwrap_or_default();
        let (component, path) = (&self.component, &self.path);
        if state.completed {
            tracing::error!(%component, "the guest failed after its response to {path} was complete: {error}");
        } else {
            tracing::error!(%component, "the guest failed while sending its response to {path}, so the response was cut short (the client sees it incomplete): {error}");
        }
    }

    /// At the body's end: the error to end it with, if the guest failed.
    fn at_end(&self) -> Option<String> {
        let mut state = self.state.lock().unwrap();
        if state.error.is_none() {
            state.completed = true;
        }
        state.error.clone()
    }
}

/// A response body that ends with an error, not cleanly, when its guest failed.
struct GuardedBody {
    inner: Body,
    failure: Arc<GuestFailure>,
    done: bool,
}

type BodyFrame = Result<Frame<Bytes>, wasmtime_wasi_http::Error>;

impl http_body::Body for GuardedBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<BodyFrame>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(self.failure.at_end().map(|error| {
                    Err(wasmtime_wasi_http::Error::InternalError(Some(format!(
                        "the guest failed before finishing the response body: {error}"
                    ))))
                }))
            }
            Poll::Ready(Some(Err(e))) => {
                self.done = true;
                Poll::Ready(Some(Err(e)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        // Never claims the end ahead of time: the end is where a failure shows.
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::StreamBody;

    fn streaming() -> (
        futures::channel::mpsc::UnboundedSender<BodyFrame>,
        hyper::Response<Body>,
    ) {
        let (tx, rx) = futures::channel::mpsc::unbounded::<BodyFrame>();
        (tx, hyper::Response::new(StreamBody::new(rx).boxed_unsync()))
    }

    fn data(s: &'static str) -> BodyFrame {
        Ok(Frame::data(Bytes::from(s)))
    }

    #[tokio::test]
    async fn a_body_whose_guest_fails_ends_in_an_error_after_its_data() {
        let failure = GuestFailure::new("c".into(), "/p");
        let (tx, response) = streaming();
        tx.unbounded_send(data("first")).unwrap();
        let mut body = failure.hand_over(response).await.unwrap().into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first, "first");
        failure.failed(&anyhow::anyhow!("wasm trap: unreachable"));
        drop(tx);
        let end = body.frame().await.expect("an error, not the end");
        let err = end.expect_err("the body must not end cleanly").to_string();
        assert!(err.contains("unreachable"), "{err}");
        assert!(body.frame().await.is_none());
    }

    #[tokio::test]
    async fn a_failure_before_anything_left_fails_the_response_instead() {
        let failure = GuestFailure::new("c".into(), "/p");
        let (tx, response) = streaming();
        tx.unbounded_send(data("first")).unwrap();
        failure.failed(&anyhow::anyhow!("timed out"));
        drop(tx);
        let err = failure.hand_over(response).await.unwrap_err().to_string();
        assert!(err.contains("timed out"), "{err}");
        assert!(!failure.state.lock().unwrap().handed_over);
    }

    #[tokio::test]
    async fn a_body_whose_guest_succeeds_ends_cleanly_and_a_later_failure_changes_nothing() {
        let failure = GuestFailure::new("c".into(), "/p");
        let (tx, response) = streaming();
        tx.unbounded_send(data("all")).unwrap();
        drop(tx);
        let body = failure.hand_over(response).await.unwrap().into_body();
        assert_eq!(body.collect().await.unwrap().to_bytes(), "all");
        failure.failed(&anyhow::anyhow!("trap after the end"));
        assert!(failure.state.lock().unwrap().completed);
    }
}
