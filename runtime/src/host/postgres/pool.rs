//! Idle PostgreSQL sessions kept per connection string, so a guest that opens a connection
//! per request does not pay for a TCP (and TLS, and authentication) handshake each time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio_postgres::config::SslMode;

use crate::host::bindings::spin::postgres4_0_0::postgres as v4;

/// Idle sessions kept per connection string (Spin's pool size); more are closed when returned.
const IDLE_PER_ADDRESS: usize = 64;
/// A server that does not complete the handshake in this time is reported as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub type Shared = Arc<tokio_postgres::Client>;

fn idle() -> &'static Mutex<HashMap<String, Vec<tokio_postgres::Client>>> {
    static IDLE: OnceLock<Mutex<HashMap<String, Vec<tokio_postgres::Client>>>> = OnceLock::new();
    IDLE.get_or_init(Default::default)
}

/// A session a guest opened; back to the pool when the guest drops it.
pub struct PgHandle {
    client: Option<Shared>,
    address: String,
}

impl PgHandle {
    /// The session's client; the handle keeps it until the guest drops it.
    pub fn client(&self) -> Shared {
        self.client.clone().expect("present until drop")
    }
}

impl Drop for PgHandle {
    fn drop(&mut self) {
        let Some(client) = self.client.take().and_then(|c| Arc::try_unwrap(c).ok()) else {
            return;
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let address = std::mem::take(&mut self.address);
        // End whatever the guest left open (a transaction, SET) before anyone else gets it;
        // one round trip (outside a transaction ROLLBACK only warns).
        rt.spawn(async move {
            if client.is_closed() || client.batch_execute("ROLLBACK; RESET ALL").await.is_err() {
                return;
            }
            let mut idle = idle().lock().unwrap_or_else(|p| p.into_inner());
            let list = idle.entry(address).or_default();
            if list.len() < IDLE_PER_ADDRESS {
                list.push(client);
            }
        });
    }
}

/// An idle session for `address`, or a new one.
pub async fn checkout(
    address: &str,
    config: tokio_postgres::Config,
) -> Result<PgHandle, v4::Error> {
    let reused = {
        let mut idle = idle().lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.entry(address.to_string()).or_default();
        list.retain(|c| !c.is_closed());
        list.pop()
    };
    let client = match reused {
        Some(c) => c,
        None => connect(config).await?,
    };
    Ok(PgHandle {
        client: Some(Arc::new(client)),
        address: address.to_string(),
    })
}

async fn connect(mut config: tokio_postgres::Config) -> Result<tokio_postgres::Client, v4::Error> {
    config.connect_timeout(CONNECT_TIMEOUT);
    let failed = |e: tokio_postgres::Error| v4::Error::ConnectionFailed(super::error_text(&e));
    if config.get_ssl_mode() == SslMode::Disable {
        let (client, conn) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(failed)?;
        tokio::spawn(conn);
        Ok(client)
    } else {
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(
            (*crate::outbound::tls::client_config()).clone(),
        );
        let (client, conn) = config.connect(tls).await.map_err(failed)?;
        tokio::spawn(conn);
        Ok(client)
    }
}
