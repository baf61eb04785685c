//! wasi:sockets behind `allowed_outbound_hosts`, through a real guest (e2e/apps/outbound-net,
//! spin-sdk 5.2 + the `wasi` crate's socket bindings) and real loopback servers.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, UdpSocket};

use common::{app_dir, urlencode, Up};

/// A TCP server that echoes each connection's bytes back once the client half-closes.
fn tcp_echo(ip: &str) -> u16 {
    let listener = TcpListener::bind((ip, 0)).expect("bind echo server");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = Vec::new();
            if conn.read_to_end(&mut buf).is_ok() {
                let _ = conn.write_all(&buf);
            }
        }
    });
    port
}

/// A UDP server on `port` (same number as a TCP one) that echoes every datagram.
fn udp_echo(port: u16) -> Option<()> {
    let socket = UdpSocket::bind(("127.0.0.1", port)).ok()?;
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(&buf[..n], from);
        }
    });
    Some(())
}

/// A listener nobody accepts on: a connection the guest made would wait in its backlog.
struct Untouched(TcpListener);

impl Untouched {
    fn bind(ip: &str) -> Self {
        let l = TcpListener::bind((ip, 0)).expect("bind");
        l.set_nonblocking(true).unwrap();
        Untouched(l)
    }
    fn addr(&self) -> String {
        self.0.local_addr().unwrap().to_string()
    }
    /// The guest's request is answered by now, so any connect it made has completed its
    /// handshake and sits in the backlog.
    fn assert_no_connection(&self) {
        match self.0.accept() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => panic!("{} saw a connection: {other:?}", self.addr()),
        }
    }
}

fn tcp(up: &Up, addr: &str, msg: &str) -> (u16, String) {
    up.get(&format!(
        "/tcp?addr={}&msg={}",
        urlencode(addr),
        urlencode(msg)
    ))
}

#[test]
fn sockets_reach_exactly_what_allowed_outbound_hosts_grants() {
    // One port that is free for both TCP and UDP on 127.0.0.1.
    let port = (0..20)
        .find_map(|_| {
            let p = tcp_echo("127.0.0.1");
            udp_echo(p).map(|()| p)
        })
        .expect("a port free for TCP and UDP");
    // Granted as the CIDR block 127.0.0.4/30 on its own port.
    let cidr_port = tcp_echo("127.0.0.5");
    let outside_cidr = Untouched::bind("127.0.0.9");
    let other_port = Untouched::bind("127.0.0.1");
    let other_ip = Untouched::bind("127.0.0.2");

    let dir = app_dir("e2e/apps/outbound-net");
    let echo_port = format!("echo_port={port}");
    let cidr = format!("cidr_grant=tcp://127.0.0.4/30:{cidr_port}");
    let up = Up::start(&[
        "-f",
        dir.to_str().unwrap(),
        "--variable",
        &echo_port,
        "--variable",
        &cidr,
        "--variable",
        "lookup_host=localhost",
    ]);

    // The templated grant `tcp://127.0.0.1:{{ echo_port }}`: a full round trip.
    assert_eq!(
        tcp(&up, &format!("127.0.0.1:{port}"), "hello over wasi:sockets"),
        (200, "hello over wasi:sockets".into())
    );
    // Inside the CIDR grant.
    assert_eq!(
        tcp(&up, &format!("127.0.0.5:{cidr_port}"), "cidr"),
        (200, "cidr".into())
    );
    // UDP has its own grant (`udp://127.0.0.1:{{ echo_port }}`).
    assert_eq!(
        up.get(&format!("/udp?addr=127.0.0.1:{port}&msg=datagram")),
        (200, "datagram".into())
    );

    // A port, an IP and an address outside the CIDR that nothing grants.
    let outside = format!("127.0.0.9:{}", outside_cidr.0.local_addr().unwrap().port());
    for (server, addr) in [
        (&other_port, other_port.addr()),
        (&other_ip, other_ip.addr()),
        (&outside_cidr, outside.clone()),
    ] {
        assert_eq!(
            tcp(&up, &addr, "x"),
            (502, "error: access-denied".into()),
            "{addr}"
        );
        server.assert_no_connection();
        let log = up.wait_for_log(&format!("tcp://{addr} denied"));
        assert!(
            log.contains(&format!(
                "socket connection to tcp://{addr} denied: add \"tcp://{addr}\" to `allowed_outbound_hosts`"
            )),
            "{log}"
        );
    }
    // `tcp://` grants no UDP to the CIDR's port.
    assert_eq!(
        up.get(&format!("/udp?addr=127.0.0.5:{cidr_port}&msg=x")),
        (502, "error: access-denied".into())
    );

    // Name lookups: only hosts an entry names.
    let (status, body) = up.get("/lookup?name=localhost");
    assert_eq!(status, 200, "{body}");
    assert!(body.lines().any(|l| l == "127.0.0.1"), "{body}");
    assert_eq!(
        up.get("/lookup?name=example.com"),
        (502, "error: access-denied".into())
    );
    assert!(up
        .wait_for_log("name lookup of \"example.com\" denied")
        .contains("\"tcp://example.com:PORT\""));
}

#[test]
fn a_component_without_grants_gets_access_denied() {
    let server = Untouched::bind("127.0.0.1");
    let dir = tempfile::tempdir().unwrap();
    let wasm = app_dir("e2e/apps/outbound-net").join("app.wasm");
    std::fs::copy(&wasm, dir.path().join("app.wasm")).unwrap();
    std::fs::write(
        dir.path().join("spin.toml"),
        "spin_manifest_version = 2\n[application]\nname = \"no-grants\"\n\
         [[trigger.http]]\nroute = \"/...\"\ncomponent = \"c\"\n\
         [component.c]\nsource = \"app.wasm\"\n",
    )
    .unwrap();
    let up = Up::start(&["-f", dir.path().to_str().unwrap()]);
    assert_eq!(
        tcp(&up, &server.addr(), "x"),
        (502, "error: access-denied".into())
    );
    server.assert_no_connection();
    assert_eq!(
        up.get("/lookup?name=localhost"),
        (502, "error: access-denied".into())
    );
}
