//! Bounded concurrency for message handling. The subscriber waits for a free
//! slot before it reads the next message, so with a bound of 1 each message is
//! finished (by every component on its channel) before the next one starts:
//! strict order per channel.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;

/// Runs message handlers with at most `bound` in flight (see the module docs).
pub struct Dispatcher {
    slots: Arc<Semaphore>,
    bound: u32,
}

impl Dispatcher {
    /// `bound` messages may be in flight at once (at least 1).
    pub fn new(bound: usize) -> Self {
        // Far above any useful concurrency, and within what a semaphore can count.
        let bound = bound.clamp(1, 1 << 20) as u32;
        Self {
            slots: Arc::new(Semaphore::new(bound as usize)),
            bound,
        }
    }

    /// Waits for a free slot (slots are granted first come, first served),
    /// then runs `work` in the background, holding the slot until it is done.
    pub async fn dispatch<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let Ok(slot) = self.slots.clone().acquire_owned().await else {
            return; // closed: shutting down
        };
        tokio::spawn(async move {
            work.await;
            drop(slot);
        });
    }

    /// Waits until all dispatched work has finished (taking every slot).
    pub async fn drain(&self) {
        if let Ok(all) = self.slots.acquire_many(self.bound).await {
            drop(all);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use futures::FutureExt;
    use tokio::sync::{mpsc, watch};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn bound_one_runs_messages_one_at_a_time_in_order() {
        let d = Dispatcher::new(1);
        let log = Arc::new(Mutex::new(Vec::new()));
        let running = Arc::new(AtomicUsize::new(0));
        for i in 0..50usize {
            let (log, running) = (log.clone(), running.clone());
            d.dispatch(async move {
                assert_eq!(running.fetch_add(1, Ordering::SeqCst), 0, "overlap at {i}");
                // Later messages yield less, so any overlap would reorder them.
                for _ in 0..(50 - i) {
                    tokio::task::yield_now().await;
                }
                log.lock().unwrap().push(i);
                running.fetch_sub(1, Ordering::SeqCst);
            })
            .await;
        }
        d.drain().await;
        assert_eq!(*log.lock().unwrap(), (0..50).collect::<Vec<_>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn bound_n_runs_n_at_once_and_no_more_and_drain_waits_for_all() {
        let d = Dispatcher::new(3);
        let (gate_tx, gate) = watch::channel(false);
        let (started_tx, mut started) = mpsc::unbounded_channel();
        let finished = Arc::new(AtomicUsize::new(0));
        let work = |i: usize| {
            let (mut gate, started_tx, finished) =
                (gate.clone(), started_tx.clone(), finished.clone());
            async move {
                started_tx.send(i).unwrap();
                let _ = gate.wait_for(|open| *open).await;
                finished.fetch_add(1, Ordering::SeqCst);
            }
        };
        for i in 0..3 {
            d.dispatch(work(i)).await;
        }
        let mut first = vec![];
        for _ in 0..3 {
            first.push(started.recv().await.unwrap());
        }
        first.sort();
        assert_eq!(first, vec![0, 1, 2]);
        // A fourth message must wait for a slot.
        assert!(d.dispatch(work(3)).now_or_never().is_none());
        assert!(d.drain().now_or_never().is_none());
        gate_tx.send(true).unwrap();
        d.dispatch(work(3)).await;
        assert_eq!(started.recv().await, Some(3));
        d.drain().await;
        assert_eq!(finished.load(Ordering::SeqCst), 4);
    }
}
