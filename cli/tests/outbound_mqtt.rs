//! Outbound MQTT (`fermyon:spin/mqtt@2.0.0`) through a real guest (e2e/apps/outbound-net,
//! spin-sdk 5.2) and a real Mosquitto broker with a password file.

mod common;

use std::net::TcpListener;

use common::{app_dir, urlencode, Up};
use spinkube_testenv::mosquitto::{Message, Mosquitto};

const USER: &str = "spin";
const PASSWORD: &str = "s3cr3t";

fn publish(up: &Up, address: &str, password: &str, qos: u8, payload: &str) -> (u16, String) {
    up.send(
        "POST",
        &format!(
            "/mqtt?address={}&user={USER}&password={}&topic=news&qos={qos}",
            urlencode(address),
            urlencode(password)
        ),
        payload,
    )
}

fn start(broker: &Mosquitto) -> Up {
    let dir = app_dir("e2e/apps/outbound-net");
    let port = format!("mqtt_port={}", broker.port());
    Up::start(&["-f", dir.to_str().unwrap(), "--variable", &port])
}

fn message(payload: &str, qos: u8) -> Message {
    Message {
        topic: "news".into(),
        payload: payload.into(),
        qos,
    }
}

#[test]
fn publishes_reach_a_subscriber_at_each_qos() {
    let broker = Mosquitto::start(USER, PASSWORD);
    let sub = broker.subscribe("news");
    let up = start(&broker);
    let address = broker.url("guest-qos");
    for qos in 0..=2 {
        let payload = format!("hello at qos {qos}");
        assert_eq!(
            publish(&up, &address, PASSWORD, qos, &payload),
            (200, "ok".into())
        );
        assert_eq!(sub.next(), Some(message(&payload, qos)));
    }
    // The connection is pooled: a second open of the same address and credentials reuses it
    // (the broker saw one client `guest-qos` connect, not one per request).
    assert_eq!(
        publish(&up, &address, PASSWORD, 1, "again"),
        (200, "ok".into())
    );
    assert_eq!(sub.next(), Some(message("again", 1)));
    assert_eq!(connects(&broker, "guest-qos"), 1, "{}", broker.log());

    // Concurrent first opens of one address share one session too (a second session with
    // the same client id would knock the first off the broker).
    let address = broker.url("guest-concurrent");
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|i| {
                let (up, address) = (&up, &address);
                s.spawn(move || publish(up, address, PASSWORD, 1, &format!("c{i}")))
            })
            .collect();
        for w in workers {
            assert_eq!(w.join().unwrap(), (200, "ok".into()));
        }
    });
    let mut got: Vec<String> = (0..4).map(|_| sub.next().unwrap().payload).collect();
    got.sort();
    assert_eq!(got, ["c0", "c1", "c2", "c3"]);
    assert_eq!(connects(&broker, "guest-concurrent"), 1, "{}", broker.log());
}

/// How often the broker saw client `id` connect.
fn connects(broker: &Mosquitto, id: &str) -> usize {
    broker
        .log()
        .lines()
        .filter(|l| l.contains("New client connected") && l.contains(&format!(" as {id} ")))
        .count()
}

#[test]
fn wrong_credentials_and_disallowed_brokers_fail_like_spin() {
    let broker = Mosquitto::start(USER, PASSWORD);
    let up = start(&broker);
    let (status, body) = publish(&up, &broker.url("guest-bad"), "wrong", 1, "x");
    assert_eq!(status, 502);
    assert!(
        body.starts_with("error: connection-failed: ") && body.contains("refused"),
        "{body}"
    );
    assert!(!body.contains("wrong"), "the password leaked: {body}");

    // A broker port nobody granted: Spin's exact message, and nothing was dialled.
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    other.set_nonblocking(true).unwrap();
    let denied = format!(
        "mqtt://127.0.0.1:{}?client_id=guest-denied",
        other.local_addr().unwrap().port()
    );
    assert_eq!(
        publish(&up, &denied, PASSWORD, 0, "x"),
        (
            502,
            format!("error: connection-failed: address {denied} is not permitted")
        )
    );
    assert_eq!(
        other.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
    let port = other.local_addr().unwrap().port();
    assert!(up
        .wait_for_log(&format!("mqtt://127.0.0.1:{port} denied"))
        .contains(&format!("add \"mqtt://127.0.0.1:{port}\"")));
}

#[test]
fn a_broker_restart_fails_one_publish_clearly_then_recovers() {
    let mut broker = Mosquitto::start(USER, PASSWORD);
    let up = start(&broker);
    let address = broker.url("guest-restart");
    {
        let sub = broker.subscribe("news");
        assert_eq!(
            publish(&up, &address, PASSWORD, 1, "before"),
            (200, "ok".into())
        );
        assert_eq!(sub.next(), Some(message("before", 1)));
    }
    broker.stop();
    let (status, body) = publish(&up, &address, PASSWORD, 1, "while down");
    assert_eq!(status, 502, "{body}");
    assert!(
        body.starts_with(&format!(
            "error: connection-failed: MQTT broker at {address}: "
        )),
        "{body}"
    );
    broker.restart();
    let sub = broker.subscribe("news");
    assert_eq!(
        publish(&up, &address, PASSWORD, 1, "after"),
        (200, "ok".into())
    );
    // The failed publish is not delivered late.
    assert_eq!(sub.next(), Some(message("after", 1)));
}

#[test]
fn mqtts_verifies_the_broker_against_the_system_trust_store() {
    let broker = Mosquitto::start_tls(USER, PASSWORD);
    let sub = broker.subscribe("news");
    let dir = app_dir("e2e/apps/outbound-net");
    let vars = [
        format!("mqtt_port={}", broker.port()),
        format!("mqtts_port={}", broker.tls_port()),
    ];
    let args = [
        "-f",
        dir.to_str().unwrap(),
        "--variable",
        &vars[0],
        "--variable",
        &vars[1],
    ];
    let address = format!(
        "mqtts://127.0.0.1:{}?client_id=guest-tls",
        broker.tls_port()
    );
    // The broker's CA is not trusted: the handshake fails, and says why.
    {
        let empty = tempfile::NamedTempFile::new().unwrap();
        let up = Up::start_with_env(&args, &[("SSL_CERT_FILE", empty.path().to_str().unwrap())]);
        let (status, body) = publish(&up, &address, PASSWORD, 1, "untrusted");
        assert_eq!(status, 502);
        assert!(
            body.starts_with("error: connection-failed: ") && body.contains("certificate"),
            "{body}"
        );
    }
    let ca = broker.ca_path();
    let up = Up::start_with_env(&args, &[("SSL_CERT_FILE", ca.to_str().unwrap())]);
    assert_eq!(
        publish(&up, &address, PASSWORD, 1, "over tls"),
        (200, "ok".into())
    );
    assert_eq!(sub.next(), Some(message("over tls", 1)));
}

/// A pooled connection no instance has open is closed once idle past the limit (here 1 s): the
/// broker sees a clean DISCONNECT, and the next publish connects afresh.
#[test]
fn an_idle_pooled_connection_is_closed_and_the_next_open_reconnects() {
    let broker = Mosquitto::start(USER, PASSWORD);
    let sub = broker.subscribe("news");
    let dir = app_dir("e2e/apps/outbound-net");
    let port = format!("mqtt_port={}", broker.port());
    let up = Up::start_with_env(
        &["-f", dir.to_str().unwrap(), "--variable", &port],
        &[("SPINKUBE_MQTT_IDLE_TIMEOUT", "1")],
    );
    let address = broker.url("guest-idle");
    assert_eq!(
        publish(&up, &address, PASSWORD, 1, "one"),
        (200, "ok".into())
    );
    assert_eq!(sub.next(), Some(message("one", 1)));
    common::wait_until("the broker to see guest-idle disconnect", || {
        broker
            .log()
            .lines()
            .any(|l| l.contains("Client guest-idle disconnected"))
            .then_some(())
    });
    assert_eq!(
        publish(&up, &address, PASSWORD, 1, "two"),
        (200, "ok".into())
    );
    assert_eq!(sub.next(), Some(message("two", 1)));
    assert_eq!(connects(&broker, "guest-idle"), 2, "{}", broker.log());
}
