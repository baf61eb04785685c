//! Outbound networking probe (spin-sdk 5.2): each route drives one host API and answers with
//! what the guest saw, so tests can compare it with what the server saw.
//!
//!   /tcp?addr=IP:PORT&msg=M     -> wasi:sockets TCP: connect, send M, read until EOF;
//!                                  200 the bytes read, or 502 `error: <wasi error-code>`
//!   /udp?addr=IP:PORT&msg=M     -> wasi:sockets UDP: send M, receive one datagram; same answers
//!   /lookup?name=N              -> wasi:sockets ip-name-lookup; 200 the addresses, one a line,
//!                                  or 502 `error: <error-code>`
//!
//!   POST /mqtt?address=A&user=U&password=P&topic=T&qos=0|1|2
//!                               -> fermyon:spin/mqtt@2.0.0: open, publish the body;
//!                                  200 `ok`, or 502 `error: <variant>: <message>`
//!   POST /pg?v=4|3|2&op=query|execute&address=A&p=TYPE:VALUE...   (body, or `sql=`: the SQL)
//!                               -> spin:postgres/postgres@4.0.0, @3.0.0 or
//!                                  fermyon:spin/postgres@2.0.0; query: 200 a line of columns
//!                                  (`name:DataType`, tab-separated) then one line per row
//!                                  (each value's Debug form, tab-separated); execute: 200 the
//!                                  row count; errors 502 `error: <Debug of the error>`
//!   POST /mysql?op=query|execute&address=A&p=TYPE:VALUE...  -> fermyon:spin/mysql@2.0.0, same
//!
//! Parameters `p` (in order): `null`, `bool:true`, `i8:` `i16:` `i32:` `i64:` `u8:`..`u64:`,
//! `f32:` `f64:`, `str:`, `bin:HEX`, and for 4.0 also `date:Y-M-D`, `time:H:M:S:NS`,
//! `dt:Y-M-D-H-M-S-NS`, `ts:SECS`, `uuid:`, `json:`, `dec:`, `r32:LO,HI` / `r64:` /
//! `rdec:` (`[` `(` inclusive / exclusive, `_` unbounded: `[1,5)`), `a32:1,_,3`, `a64:`,
//! `adec:`, `astr:a,_,c`, `iv:MICROS,DAYS,MONTHS`.
//!
//! Errors name the WIT error-code (`access-denied`, `connection-refused`, ...) exactly.
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

mod db;
use wasi::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
};
use wasi::sockets::udp::{IncomingDatagramStream, OutgoingDatagram};
use wasi::sockets::{instance_network, ip_name_lookup, tcp_create_socket, udp_create_socket};

#[http_component]
fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let path = req.path().to_string();
    let query = Query(req.query().to_string());
    let (status, body) = match path.as_str() {
        "/tcp" => answer(tcp_round_trip(
            &query.get("addr"),
            query.get("msg").as_bytes(),
        )),
        "/udp" => answer(udp_round_trip(
            &query.get("addr"),
            query.get("msg").as_bytes(),
        )),
        "/lookup" => answer(lookup(&query.get("name")).map(|ips| ips.join("\n").into_bytes())),
        "/mqtt" => answer(mqtt_publish(&query, req.body()).map(|()| b"ok".to_vec())),
        "/pg" => answer(db::postgres(&query, &sql(&query, req.body())).map(String::into_bytes)),
        "/mysql" => answer(db::mysql(&query, &sql(&query, req.body())).map(String::into_bytes)),
        _ => (404, b"unknown route".to_vec()),
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(body)
        .build())
}

/// The statement: the body, or `sql=` for a bodiless GET (the benchmark's load generator).
fn sql(q: &Query, body: &[u8]) -> String {
    if body.is_empty() {
        q.get("sql")
    } else {
        String::from_utf8_lossy(body).into_owned()
    }
}

fn answer(result: Result<Vec<u8>, String>) -> (u16, Vec<u8>) {
    match result {
        Ok(body) => (200, body),
        Err(e) => (502, format!("error: {e}").into_bytes()),
    }
}

/// `a=1&b=x%20y` with percent-decoding; missing keys are empty.
struct Query(String);

impl Query {
    fn all(&self, key: &str) -> Vec<String> {
        self.0
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| decode(v))
            .collect()
    }

    fn get(&self, key: &str) -> String {
        self.0
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| decode(v))
            .unwrap_or_default()
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => out.push(b),
                    Err(_) => out.extend_from_slice(&bytes[i..i + 3]),
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn code(e: ErrorCode) -> String {
    e.name().to_string()
}

fn parse_addr(text: &str) -> Result<IpSocketAddress, String> {
    let addr: std::net::SocketAddr = text
        .parse()
        .map_err(|e| format!("bad addr {text:?}: {e}"))?;
    Ok(match addr {
        std::net::SocketAddr::V4(a) => {
            let [a0, a1, a2, a3] = a.ip().octets();
            IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port: a.port(),
                address: (a0, a1, a2, a3),
            })
        }
        std::net::SocketAddr::V6(a) => {
            let s = a.ip().segments();
            IpSocketAddress::Ipv6(Ipv6SocketAddress {
                port: a.port(),
                flow_info: 0,
                address: (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
                scope_id: 0,
            })
        }
    })
}

fn family(addr: &IpSocketAddress) -> IpAddressFamily {
    match addr {
        IpSocketAddress::Ipv4(_) => IpAddressFamily::Ipv4,
        IpSocketAddress::Ipv6(_) => IpAddressFamily::Ipv6,
    }
}

fn tcp_round_trip(addr: &str, msg: &[u8]) -> Result<Vec<u8>, String> {
    let remote = parse_addr(addr)?;
    let network = instance_network::instance_network();
    let socket = tcp_create_socket::create_tcp_socket(family(&remote)).map_err(code)?;
    socket.start_connect(&network, remote).map_err(code)?;
    let (input, output) = loop {
        match socket.finish_connect() {
            Err(ErrorCode::WouldBlock) => socket.subscribe().block(),
            other => break other.map_err(code)?,
        }
    };
    output
        .blocking_write_and_flush(msg)
        .map_err(|e| format!("write: {e:?}"))?;
    // Half-close so the echo server sees the end of the message.
    socket
        .shutdown(wasi::sockets::tcp::ShutdownType::Send)
        .map_err(code)?;
    let mut reply = Vec::new();
    loop {
        match input.blocking_read(64 * 1024) {
            Ok(chunk) => reply.extend(chunk),
            Err(wasi::io::streams::StreamError::Closed) => break,
            Err(e) => return Err(format!("read: {e:?}")),
        }
    }
    Ok(reply)
}

fn udp_round_trip(addr: &str, msg: &[u8]) -> Result<Vec<u8>, String> {
    let remote = parse_addr(addr)?;
    let network = instance_network::instance_network();
    let socket = udp_create_socket::create_udp_socket(family(&remote)).map_err(code)?;
    let local = match remote {
        IpSocketAddress::Ipv4(_) => IpSocketAddress::Ipv4(Ipv4SocketAddress {
            port: 0,
            address: (0, 0, 0, 0),
        }),
        IpSocketAddress::Ipv6(_) => IpSocketAddress::Ipv6(Ipv6SocketAddress {
            port: 0,
            flow_info: 0,
            address: (0, 0, 0, 0, 0, 0, 0, 0),
            scope_id: 0,
        }),
    };
    socket.start_bind(&network, local).map_err(code)?;
    socket.subscribe().block();
    socket.finish_bind().map_err(code)?;
    let (incoming, outgoing) = socket.stream(Some(remote)).map_err(code)?;
    loop {
        let permits = outgoing.check_send().map_err(code)?;
        if permits > 0 {
            break;
        }
        outgoing.subscribe().block();
    }
    outgoing
        .send(&[OutgoingDatagram {
            data: msg.to_vec(),
            remote_address: None,
        }])
        .map_err(code)?;
    receive_one(&incoming)
}

fn receive_one(incoming: &IncomingDatagramStream) -> Result<Vec<u8>, String> {
    loop {
        let mut got = incoming.receive(1).map_err(code)?;
        if let Some(d) = got.pop() {
            return Ok(d.data);
        }
        incoming.subscribe().block();
    }
}

fn lookup(name: &str) -> Result<Vec<String>, String> {
    let network = instance_network::instance_network();
    let stream = ip_name_lookup::resolve_addresses(&network, name).map_err(code)?;
    let mut out = Vec::new();
    loop {
        match stream.resolve_next_address() {
            Ok(Some(ip)) => out.push(match ip {
                IpAddress::Ipv4((a, b, c, d)) => std::net::Ipv4Addr::new(a, b, c, d).to_string(),
                IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => {
                    std::net::Ipv6Addr::new(a, b, c, d, e, f, g, h).to_string()
                }
            }),
            Ok(None) => return Ok(out),
            Err(ErrorCode::WouldBlock) => stream.subscribe().block(),
            Err(e) => return Err(code(e)),
        }
    }
}

fn mqtt_publish(q: &Query, payload: &[u8]) -> Result<(), String> {
    use spin_sdk::mqtt::{Connection, Error, Qos};
    let show = |e: Error| match e {
        Error::InvalidAddress => "invalid-address".to_string(),
        Error::TooManyConnections => "too-many-connections".to_string(),
        Error::ConnectionFailed(m) => format!("connection-failed: {m}"),
        Error::Other(m) => format!("other: {m}"),
    };
    let qos = match q.get("qos").as_str() {
        "0" => Qos::AtMostOnce,
        "1" => Qos::AtLeastOnce,
        "2" => Qos::ExactlyOnce,
        other => return Err(format!("bad qos {other:?}")),
    };
    let conn = Connection::open(&q.get("address"), &q.get("user"), &q.get("password"), 30)
        .map_err(show)?;
    conn.publish(&q.get("topic"), &payload.to_vec(), qos)
        .map_err(show)
}
