//! Outbound MQTT: `fermyon:spin/mqtt@2.0.0` on rumqttc.
//!
//! As in Spin, the address (`mqtt://host:port?client_id=ID`, or `mqtts://` for TLS) must be
//! granted by `allowed_outbound_hosts` before anything is dialled, and a denied one gets
//! `connection-failed("address ADDRESS is not permitted")`. Unlike Spin, connections are
//! pooled per address and credentials (a broker accepts one session per client id, so two
//! instances opening the same address would otherwise knock each other off), each driven by
//! its own task so keep-alives flow between requests; `open` waits for the broker's CONNACK,
//! so bad credentials or an unreachable broker surface there. A pooled connection that no
//! instance has open is closed (MQTT DISCONNECT) once it has been idle for five minutes, or
//! `SPINKUBE_MQTT_IDLE_TIMEOUT` seconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, EventLoop, Incoming, MqttOptions, Outgoing, QoS, Transport};
use tokio::sync::mpsc;
use wasmtime::component::Resource;
use wasmtime::Result;

use crate::host::bindings::fermyon::spin::mqtt::{self as spin_mqtt, Error, Qos};
use crate::host::InstanceState;

/// How long `open` waits for CONNACK and `publish` for the broker's acknowledgement.
const ANSWER_LIMIT: Duration = Duration::from_secs(10);
/// Reconnect delays of a pooled connection whose broker went away (doubling).
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// rumqttc's request queue per connection.
const REQUEST_CAPACITY: usize = 1000;
/// How long a pooled connection no instance has open outlives its last use, by default.
const IDLE_LIMIT: Duration = Duration::from_secs(300);
/// How long closing an idle connection waits for its DISCONNECT to go out.
const CLOSE_LIMIT: Duration = Duration::from_secs(2);

/// What the driver task reports to the (one) publisher waiting on a connection.
#[derive(Debug)]
enum Signal {
    Connected,
    Sent(u16),
    Acked(u16),
    Completed(u16),
    Failed(String),
}

/// One broker session, shared by every instance that opens the same address and credentials.
pub struct Connection {
    client: AsyncClient,
    /// Locked for the whole of a publish, so acknowledgements reach the publisher waiting for them.
    signals: tokio::sync::Mutex<mpsc::UnboundedReceiver<Signal>>,
    /// The task polling rumqttc's event loop; taken by [`Connection::close`].
    driver: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Address without credentials, for messages.
    address: String,
    /// When its last handle closed (or, before any did, when it connected).
    last_used: Mutex<Instant>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(driver) = lock(&self.driver).take() {
            driver.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A connection a guest opened.
pub struct MqttHandle {
    conn: Arc<Connection>,
}

impl Drop for MqttHandle {
    fn drop(&mut self) {
        // A connection is idle from the moment its last handle closes.
        self.conn.touch();
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    address: String,
    username: String,
    password: String,
    keep_alive_secs: u64,
}

fn pool() -> &'static Mutex<HashMap<Key, Arc<Connection>>> {
    static POOL: OnceLock<Mutex<HashMap<Key, Arc<Connection>>>> = OnceLock::new();
    POOL.get_or_init(Default::default)
}

/// Spin's denial, word for word.
pub fn not_permitted(address: &str) -> Error {
    Error::ConnectionFailed(format!("address {address} is not permitted"))
}

impl InstanceState {
    /// Whether `allowed_outbound_hosts` grants `address` (checked as Spin does, with the
    /// `mqtt` scheme and its default port 1883 when the URL has none).
    fn mqtt_address_allowed(&self, address: &str) -> bool {
        match url::Url::parse(address) {
            Ok(url) if url.host_str().is_some() => self.outbound_allowed(&url),
            _ => false,
        }
    }
}

/// rumqttc options for a checked address; TLS uses this runtime's trust store.
fn options(key: &Key) -> Result<MqttOptions, Error> {
    // rumqttc's URL parser builds its default TLS config from the process-wide provider.
    crate::outbound::tls::install_default_provider();
    let mut opts = MqttOptions::parse_url(key.address.as_str()).map_err(|e| {
        tracing::warn!("invalid MQTT address {}: {e}", redact(&key.address));
        Error::InvalidAddress
    })?;
    if matches!(opts.transport(), Transport::Tls(_)) {
        let config = (*crate::outbound::tls::client_config()).clone();
        opts.set_transport(Transport::tls_with_config(config.into()));
    }
    if !key.username.is_empty() || !key.password.is_empty() {
        opts.set_credentials(key.username.clone(), key.password.clone());
    }
    opts.set_keep_alive(Duration::from_secs(key.keep_alive_secs));
    Ok(opts)
}

type Gate = Arc<tokio::sync::Mutex<()>>;

/// The pooled connection for `key`, connecting (and waiting for CONNACK) if there is none.
async fn connect(key: Key) -> Result<Arc<Connection>, Error> {
    let pooled = || lock(pool()).get(&key).cloned();
    if let Some(c) = pooled() {
        return Ok(c);
    }
    // One new session per key at a time: two for the same client id would knock each other
    // off the broker.
    static CONNECTING: OnceLock<Mutex<HashMap<Key, Gate>>> = OnceLock::new();
    let gate = lock(CONNECTING.get_or_init(Default::default))
        .entry(key.clone())
        .or_default()
        .clone();
    let _connecting = gate.lock().await;
    if let Some(c) = pooled() {
        return Ok(c);
    }
    let opts = options(&key)?;
    let (client, events) = AsyncClient::new(opts, REQUEST_CAPACITY);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let driver = tokio::spawn(drive(events, tx));
    let address = redact(&key.address);
    let conn = Arc::new(Connection {
        client,
        signals: tokio::sync::Mutex::new(mpsc::unbounded_channel().1),
        driver: Mutex::new(Some(driver)),
        address: address.clone(),
        last_used: Mutex::new(Instant::now()),
    });
    let first = tokio::time::timeout(ANSWER_LIMIT, rx.recv()).await;
    match first {
        Ok(Some(Signal::Connected)) => {}
        Ok(Some(Signal::Failed(e))) => {
            return Err(Error::ConnectionFailed(format!(
                "cannot connect to MQTT broker at {address}: {e}"
            )))
        }
        Ok(other) => {
            return Err(Error::Other(format!(
                "MQTT broker at {address} answered {other:?} before CONNACK"
            )))
        }
        Err(_) => {
            return Err(Error::ConnectionFailed(format!(
                "MQTT broker at {address} did not answer within {ANSWER_LIMIT:?}"
            )))
        }
    }
    *conn.signals.lock().await = rx;
    start_sweeper();
    let mut pool = lock(pool());
    Ok(pool.entry(key).or_insert(conn).clone())
}

fn idle_limit() -> Duration {
    std::env::var("SPINKUBE_MQTT_IDLE_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(IDLE_LIMIT)
}

/// Whether a pooled connection goes: no instance has it open and it has been idle long enough.
fn evictable(open_handles: usize, idle_for: Duration, limit: Duration) -> bool {
    open_handles == 0 && idle_for >= limit
}

/// Runs [`sweep_idle`] on this runtime unless it already runs (a runtime that ended took its
/// sweeper with it).
fn start_sweeper() {
    static SWEEPER: Mutex<Option<tokio::task::JoinHandle<()>>> = Mutex::new(None);
    let mut sweeper = lock(&SWEEPER);
    if sweeper.as_ref().is_none_or(|s| s.is_finished()) {
        *sweeper = Some(tokio::spawn(sweep_idle(idle_limit())));
    }
}

/// Closes the pooled connections that [`evictable`] lets go, for the life of the runtime.
async fn sweep_idle(limit: Duration) {
    let period = (limit / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
    loop {
        tokio::time::sleep(period).await;
        let idle: Vec<Arc<Connection>> = {
            let mut pool = lock(pool());
            let keys: Vec<Key> = pool
                .iter()
                // The pool's own reference is not an open handle.
                .filter(|(_, c)| evictable(Arc::strong_count(c) - 1, c.idle_for(), limit))
                .map(|(k, _)| k.clone())
                .collect();
            keys.iter().filter_map(|k| pool.remove(k)).collect()
        };
        for conn in idle {
            tracing::debug!("closing the idle MQTT connection to {}", conn.address);
            conn.close().await;
        }
    }
}

/// Polls rumqttc's event loop for the life of the connection: keep-alives, acknowledgements,
/// and reconnects (with backoff) after the broker goes away.
async fn drive(mut events: EventLoop, tx: mpsc::UnboundedSender<Signal>) {
    let mut delay = RETRY_MIN;
    loop {
        let signal = match events.poll().await {
            Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                delay = RETRY_MIN;
                Some(Signal::Connected)
            }
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) => Some(Signal::Sent(pkid)),
            Ok(Event::Incoming(Incoming::PubAck(a))) => Some(Signal::Acked(a.pkid)),
            Ok(Event::Incoming(Incoming::PubComp(c))) => Some(Signal::Completed(c.pkid)),
            // Our DISCONNECT is out (an idle connection closing): the session is over.
            Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
            Ok(_) => None,
            Err(e) => {
                // Publishes reported as failed must not go out after a reconnect: drop them
                // (and requests still queued) before the publisher hears of the failure.
                events.clean();
                events.pending.clear();
                if tx.send(Signal::Failed(e.to_string())).is_err() {
                    return;
                }
                // The next poll reconnects; without a pause a dead broker would spin the task.
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(RETRY_MAX);
                None
            }
        };
        if let Some(s) = signal {
            if tx.send(s).is_err() {
                return;
            }
        }
    }
}

fn qos(q: Qos) -> QoS {
    match q {
        Qos::AtMostOnce => QoS::AtMostOnce,
        Qos::AtLeastOnce => QoS::AtLeastOnce,
        Qos::ExactlyOnce => QoS::ExactlyOnce,
    }
}

/// Whether `signal` finishes a publish at `qos` whose packet id is `ours` (once known).
fn finishes(qos: QoS, ours: Option<u16>, signal: &Signal) -> bool {
    match (qos, signal) {
        (QoS::AtMostOnce, Signal::Sent(_)) => true,
        (QoS::AtLeastOnce, Signal::Acked(p)) | (QoS::ExactlyOnce, Signal::Completed(p)) => {
            ours == Some(*p)
        }
        _ => false,
    }
}

impl Connection {
    fn touch(&self) {
        *lock(&self.last_used) = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        lock(&self.last_used).elapsed()
    }

    /// Sends DISCONNECT and waits (a little) for it to leave, so the broker ends the session
    /// cleanly rather than after a keep-alive timeout.
    async fn close(&self) {
        let driver = lock(&self.driver).take();
        let Some(mut driver) = driver else {
            return;
        };
        if self.client.try_disconnect().is_ok()
            && tokio::time::timeout(CLOSE_LIMIT, &mut driver).await.is_ok()
        {
            return;
        }
        driver.abort();
    }

    /// Publishes and waits for what `qos` promises: the packet written (0), PUBACK (1) or
    /// PUBCOMP (2).
    async fn publish(&self, topic: String, payload: Vec<u8>, qos: QoS) -> Result<(), Error> {
        let mut signals = self.signals.lock().await;
        // Reports of earlier publishes, reconnects or errors while idle are not about this one.
        while signals.try_recv().is_ok() {}
        self.client
            .publish(topic, qos, false, payload)
            .await
            .map_err(|e| Error::Other(format!("MQTT publish to {}: {e}", self.address)))?;
        let wait = async {
            let mut ours = None;
            loop {
                let Some(signal) = signals.recv().await else {
                    return Err(Error::ConnectionFailed(format!(
                        "connection to MQTT broker at {} closed",
                        self.address
                    )));
                };
                if let Signal::Failed(e) = &signal {
                    return Err(Error::ConnectionFailed(format!(
                        "MQTT broker at {}: {e}",
                        self.address
                    )));
                }
                if finishes(qos, ours, &signal) {
                    return Ok(());
                }
                if let (None, Signal::Sent(pkid)) = (ours, &signal) {
                    ours = Some(*pkid);
                }
            }
        };
        tokio::time::timeout(ANSWER_LIMIT, wait)
            .await
            .unwrap_or_else(|_| {
                Err(Error::ConnectionFailed(format!(
                    "MQTT broker at {} did not acknowledge within {ANSWER_LIMIT:?}",
                    self.address
                )))
            })
    }
}

/// The address without a password, for logs and errors.
fn redact(address: &str) -> String {
    crate::host::redis_pool::redact(address)
}

impl spin_mqtt::Host for InstanceState {}

impl spin_mqtt::HostConnection for InstanceState {
    async fn open(
        &mut self,
        address: String,
        username: String,
        password: String,
        keep_alive_interval_in_secs: u64,
    ) -> Result<Result<Resource<MqttHandle>, Error>> {
        if !self.mqtt_address_allowed(&address) {
            return Ok(Err(not_permitted(&address)));
        }
        let key = Key {
            address,
            username,
            password,
            keep_alive_secs: keep_alive_interval_in_secs,
        };
        let opened = connect(key).await.map(|conn| MqttHandle { conn });
        Ok(self.opened::<_, Error>(opened)?)
    }

    async fn publish(
        &mut self,
        c: Resource<MqttHandle>,
        topic: String,
        payload: Vec<u8>,
        q: Qos,
    ) -> Result<Result<(), Error>> {
        let conn = self.table.get(&c)?.conn.clone();
        Ok(conn.publish(topic, payload, qos(q)).await)
    }

    async fn drop(&mut self, c: Resource<MqttHandle>) -> Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unopened_connection_idle_past_the_limit_goes() {
        let limit = Duration::from_secs(300);
        assert!(evictable(0, limit, limit));
        assert!(!evictable(0, limit - Duration::from_millis(1), limit));
        assert!(!evictable(1, limit * 10, limit));
    }

    #[test]
    fn publishes_finish_on_what_their_qos_promises() {
        use Signal::*;
        assert!(finishes(QoS::AtMostOnce, None, &Sent(0)));
        assert!(!finishes(QoS::AtLeastOnce, None, &Sent(3)));
        assert!(finishes(QoS::AtLeastOnce, Some(3), &Acked(3)));
        // A late PUBACK of an earlier publish is not ours.
        assert!(!finishes(QoS::AtLeastOnce, Some(3), &Acked(2)));
        assert!(!finishes(QoS::ExactlyOnce, Some(4), &Acked(4)));
        assert!(finishes(QoS::ExactlyOnce, Some(4), &Completed(4)));
        assert!(!finishes(QoS::AtMostOnce, None, &Connected));
    }

    #[test]
    fn denial_is_spins_message() {
        let Error::ConnectionFailed(message) = not_permitted("mqtt://127.0.0.1:1883?client_id=c")
        else {
            panic!("not connection-failed");
        };
        assert_eq!(
            message,
            "address mqtt://127.0.0.1:1883?client_id=c is not permitted"
        );
    }
}
