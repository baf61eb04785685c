//! One shutdown signal for every task: SIGTERM/SIGINT, or a lost leader lease.

use tokio::sync::watch;

/// The listening side of the shutdown signal; cheap to clone into every task.
#[derive(Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// The firing side of the shutdown signal.
pub struct Trigger {
    tx: watch::Sender<bool>,
}

/// A new, not yet fired, shutdown signal.
pub fn channel() -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Trigger { tx }, Shutdown { rx })
}

impl Trigger {
    /// Requests shutdown; every [`Shutdown`] sees it, and firing twice is harmless.
    pub fn fire(&self) {
        let _ = self.tx.send(true);
    }
}

impl Shutdown {
    /// Resolves once shutdown has been requested.
    pub fn wait(&self) -> impl std::future::Future<Output = ()> + Send + Sync + 'static {
        let mut rx = self.rx.clone();
        async move {
            let _ = rx.wait_for(|down| *down).await;
        }
    }

    /// Whether shutdown has been requested.
    pub fn requested(&self) -> bool {
        *self.rx.borrow()
    }
}
