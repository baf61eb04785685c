//! Outbound MQTT: `fermyon:spin/mqtt@2.0.0` on rumqttc.
//!
//! As in Spin, the address (`mqtt://host:port?client_id=ID`, or `mqtts://` for TLS) must be
//! granted by `allowed_outbound_hosts` before anything is dialled, and a denied one gets
//! `connection-failed("address ADDRESS is not permitted")`. Unlike Spin, connections are
//! pooled per address and credentials (a broker accepts one session per client id, so two
//! instances opening the same address would otherwise knock each other off), each driven by
//! its own task so keep-alives flow between requests; `open` waits for the broker's CONNACK,
//! so bad credentials or an unreachable broker surface there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

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
    driver: tokio::task::JoinHandle<()>,
    /// Address without credentials, for messages.
    address: String,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// A connection a guest opened.
pub struct MqttHandle {
    conn: Arc<Connection>,
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
    let pooled = || {
        pool()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned()
    };
    if let Some(c) = pooled() {
        return Ok(c);
    }
    // One new session per key at a time: two for the same client id would knock each other
    // off the broker.
    static CONNECTING: OnceLock<Mutex<HashMap<Key, Gate>>> = OnceLock::new();
    let gate = CONNECTING
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
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
        driver,
        address: address.clone(),
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
    let mut pool = pool().lock().unwrap_or_else(|p| p.into_inner());
    Ok(pool.entry(key).or_insert(conn).clone())
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
