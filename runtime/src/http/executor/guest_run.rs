//! A guest call that runs on the task that waits for it, and on a task of its own after that.
//!
//! The connection's task polls the guest until the guest has set its response: no task spawn
//! and no wake-up of another worker thread per request. A guest that is still running when its
//! response leaves (streaming the body, or waiting on a host call) is not cut off: it goes on
//! in a task of its own, as it also does if the client goes away before the response is set.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

type Guest<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// One guest call, polled by its caller until [`GuestRun::detach`] or drop.
pub struct GuestRun<T: Send + 'static> {
    guest: Option<Guest<T>>,
}

impl<T: Send + 'static> GuestRun<T> {
    pub fn new(guest: impl Future<Output = T> + Send + 'static) -> Self {
        Self {
            guest: Some(Box::pin(guest)),
        }
    }

    /// Runs the guest until it ends (`Ready`, once) or waits (`Pending`).
    pub fn poll_guest(&mut self, cx: &mut Context<'_>) -> Poll<T> {
        let Some(guest) = self.guest.as_mut() else {
            return Poll::Pending;
        };
        let outcome = guest.as_mut().poll(cx);
        if outcome.is_ready() {
            self.guest = None;
        }
        outcome
    }

    /// Waits for the guest to end; `None` if it already has.
    pub async fn finish(mut self) -> Option<T> {
        let guest = self.guest.take()?;
        Some(guest.await)
    }

    /// Lets a guest that has not ended finish on a task of its own.
    pub fn detach(mut self) {
        self.spawn_rest();
    }

    fn spawn_rest(&mut self) {
        if let Some(guest) = self.guest.take() {
            // Outside a runtime nothing could poll it anyway; it is dropped with its store.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    guest.await;
                });
            }
        }
    }
}

impl<T: Send + 'static> Drop for GuestRun<T> {
    fn drop(&mut self) {
        // The caller stopped waiting (the client went away): the guest still runs to its end,
        // so that what it does after the response (a key-value write, an outbound call) happens.
        self.spawn_rest();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn a_guest_that_ends_at_once_ends_in_the_first_poll() {
        let mut run = GuestRun::new(async { 7 });
        let first = std::future::poll_fn(|cx| Poll::Ready(run.poll_guest(cx))).await;
        assert_eq!(first, Poll::Ready(7));
        assert_eq!(run.finish().await, None);
    }

    #[tokio::test]
    async fn a_dropped_run_still_runs_its_guest_to_the_end() {
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let ended = Arc::new(AtomicBool::new(false));
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let mut run = GuestRun::new({
            let ended = ended.clone();
            async move {
                let _ = wait.await;
                ended.store(true, Ordering::SeqCst);
                let _ = done_tx.send(());
            }
        });
        let first = std::future::poll_fn(|cx| Poll::Ready(run.poll_guest(cx))).await;
        assert!(first.is_pending());
        drop(run);
        assert!(!ended.load(Ordering::SeqCst));
        go.send(()).unwrap();
        done_rx
            .await
            .expect("the guest ran on after its caller dropped it");
        assert!(ended.load(Ordering::SeqCst));
    }
}
