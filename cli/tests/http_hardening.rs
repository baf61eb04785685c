//! The HTTP server against misbehaving guests and hostile clients, checked on the wire: a
//! response whose guest fails part way must reach the client incomplete, over HTTP/1.1 and
//! HTTP/2.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{app_dir, Up};

/// How long a raw client waits for the server before the test fails.
const WIRE_LIMIT: Duration = Duration::from_secs(30);

fn addr(up: &Up) -> SocketAddr {
    up.base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

/// POSTs to `path` over HTTP/1.1 with `connection: close` and a chunked body that it ends only
/// once `first` has arrived (the test guests fail only after the request body ends, so the first
/// part is on the wire by then), then reads until the server closes. Guests that answer without
/// reading the body get an empty one instead (`first` empty): hyper closes the connection after
/// the response, and a request body still unread then would reset it, losing the response's end.
fn h1_exchange(addr: SocketAddr, path: &str, first: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WIRE_LIMIT)).unwrap();
    let body = match first.is_empty() {
        true => "content-length: 0",
        false => "transfer-encoding: chunked",
    };
    write!(
        s,
        "POST {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n{body}\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 64 << 10];
    let mut ended_request = first.is_empty();
    loop {
        if !ended_request && find(&out, first).is_some() {
            s.write_all(b"0\r\n\r\n").unwrap();
            ended_request = true;
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // A reset after the partial body is as incomplete as a close.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!(
                "reading the response to {path}: {e} (got {} bytes)",
                out.len()
            ),
        }
    }
    assert!(ended_request, "{path}: the first part never came");
    out
}

/// The response head, as text.
fn head(response: &[u8]) -> String {
    let end = find(response, b"\r\n\r\n").expect("a response head");
    String::from_utf8_lossy(&response[..end]).into_owned()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What an HTTP/2 client saw of one response, the request sent as [`h1_exchange`] sends it: its
/// status, the body data, and whether the body ended cleanly (`Ok`) or was reset (`Err`).
fn h2_exchange(addr: SocketAddr, path: &str, first: &[u8]) -> (u16, Vec<u8>, Result<(), String>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (client, conn) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(conn);
        let mut client = client.ready().await.unwrap();
        let request = http::Request::post(format!("http://test{path}"))
            .body(())
            .unwrap();
        let (response, mut request_body) = client.send_request(request, false).unwrap();
        let response = tokio::time::timeout(WIRE_LIMIT, response)
            .await
            .unwrap()
            .unwrap();
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut data = Vec::new();
        let mut ended_request = false;
        let end = loop {
            if !ended_request && find(&data, first).is_some() {
                request_body.send_data(bytes::Bytes::new(), true).unwrap();
                ended_request = true;
            }
            match tokio::time::timeout(WIRE_LIMIT, body.data()).await {
                Err(_) => panic!("no end to the HTTP/2 body of {path}"),
                Ok(None) => break Ok(()),
                Ok(Some(Ok(chunk))) => {
                    let _ = body.flow_control().release_capacity(chunk.len());
                    data.extend_from_slice(&chunk);
                }
                Ok(Some(Err(e))) => break Err(format!("{e}")),
            }
        };
        (status, data, end)
    })
}

/// The body of a chunked HTTP/1.1 response, and whether its last chunk (`0\r\n`, any trailers,
/// `\r\n`) arrived.
fn dechunk(response: &[u8]) -> (Vec<u8>, bool) {
    let mut rest = &response[find(response, b"\r\n\r\n").expect("a response head") + 4..];
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find(rest, b"\r\n") else {
            return (body, false);
        };
        let size = std::str::from_utf8(&rest[..line_end]).expect("a chunk size");
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        let after = &rest[line_end + 2..];
        if size == 0 {
            return (
                body,
                after.starts_with(b"\r\n") || after.ends_with(b"\r\n\r\n"),
            );
        }
        if after.len() < size {
            body.extend_from_slice(after);
            return (body, false);
        }
        body.extend_from_slice(&after[..size]);
        rest = after[size..].strip_prefix(b"\r\n").unwrap_or_default();
    }
}

/// Over HTTP/1.1 and HTTP/2: `finishing` gives a whole response, `failing` the same response
/// cut short; both bodies start with `first`.
fn check_cut_short(up: &Up, failing: &str, finishing: &str, first: &[u8], reads_body: bool) {
    let addr = addr(up);
    let control_hold = if reads_body { first } else { b"" };
    // The control: the same response, finished, ends with its last chunk.
    let whole = h1_exchange(addr, finishing, control_hold);
    assert!(head(&whole).starts_with("HTTP/1.1 200"), "{}", head(&whole));
    let (body, ended) = dechunk(&whole);
    assert!(
        ended && body.starts_with(first),
        "{finishing}: ended={ended}, {} body bytes, last bytes {:?}: {}",
        body.len(),
        &whole[whole.len().saturating_sub(16)..],
        head(&whole)
    );

    let cut = h1_exchange(addr, failing, first);
    let cut_head = head(&cut);
    assert!(cut_head.starts_with("HTTP/1.1 200"), "{cut_head}");
    assert!(
        cut_head.contains("transfer-encoding: chunked"),
        "{cut_head}"
    );
    let (body, ended) = dechunk(&cut);
    assert!(
        body.starts_with(first),
        "{failing}: {} body bytes",
        body.len()
    );
    assert!(
        !ended,
        "{failing}: the client must not see a complete message ({} body bytes)",
        body.len()
    );

    let (status, body, end) = h2_exchange(addr, finishing, first);
    assert_eq!((status, end.clone()), (200, Ok(())), "{finishing} over h2");
    assert!(body.starts_with(first), "{finishing} over h2");
    let (status, body, end) = h2_exchange(addr, failing, first);
    assert_eq!(status, 200);
    assert!(body.starts_with(first), "{failing} over h2");
    let reason = end.expect_err("an HTTP/2 stream cut short is reset, not ended");
    assert!(
        reason.contains("INTERNAL_ERROR") || reason.contains("internal error"),
        "{reason}"
    );
}

#[test]
fn a_p2_guest_that_traps_mid_body_gives_a_response_that_looks_cut_short() {
    let up = Up::start(&["-f", app_dir("e2e/apps/partial-body").to_str().unwrap()]);
    check_cut_short(&up, "/?then=trap", "/?then=finish", b"first part\n", true);
    let log = up.wait_for_log("cut short");
    assert!(
        log.contains("component=partial-body") && log.contains("cut short"),
        "{log}"
    );
    // With a declared length, the body falls short of it and the connection closes.
    let cut = h1_exchange(addr(&up), "/?then=trap&length=100", b"first part\n");
    assert!(head(&cut).contains("content-length: 100"), "{}", head(&cut));
    let body = &cut[find(&cut, b"\r\n\r\n").unwrap() + 4..];
    assert_eq!(body, b"first part\n");
    // The server keeps serving.
    assert_eq!(up.get("/?then=finish").0, 200);
}

#[test]
fn a_p2_guest_stopped_by_the_request_timeout_mid_body_gives_a_response_that_looks_cut_short() {
    let up = Up::start(&[
        "-f",
        app_dir("e2e/apps/partial-body").to_str().unwrap(),
        "--request-timeout",
        "1s",
    ]);
    check_cut_short(&up, "/?then=loop", "/?then=finish", b"first part\n", true);
    let log = up.wait_for_log("cut short");
    assert!(log.contains("component=partial-body"), "{log}");
}

#[test]
fn a_p3_guest_that_traps_or_loops_mid_body_gives_a_response_that_looks_cut_short() {
    let dir = app_dir("examples/rust-p3-http");
    let up = Up::start(&["-f", dir.to_str().unwrap(), "--request-timeout", "1s"]);
    let start: Vec<u8> = (0..1000).map(|i| (i % 251) as u8).collect();
    for then in ["trap", "loop"] {
        check_cut_short(
            &up,
            &format!("/fail?then={then}"),
            "/stream?mib=1&trailer=1",
            &start,
            false,
        );
    }
    let log = up.wait_for_log("cut short");
    assert!(log.contains("component=rust-p3-http"), "{log}");
}

/// Open file descriptors of a process.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// Whether the server has closed `s` (EOF or reset), without waiting for it.
fn closed_by_server(s: &mut TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 1024];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break false,
            Err(_) => break true,
        }
    };
    s.set_nonblocking(false).unwrap();
    closed
}

#[test]
fn slow_and_idle_clients_are_closed_while_others_are_served() {
    let dir = app_dir("examples/rust-p3-http");
    let up = Up::start(&[
        "-f",
        dir.to_str().unwrap(),
        "--header-read-timeout",
        "1s",
        "--idle-connection-timeout",
        "2s",
    ]);
    let addr = addr(&up);
    assert_eq!(up.get("/").0, 200);
    let baseline = open_fds(up.pid());
    // Slowloris: a request line, then one header line at a time, never the blank line.
    let mut slow: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nhost: test\r\n").unwrap();
            s
        })
        .collect();
    // Idle: connections that never send a byte, an HTTP/2 one that sends only its preface, and
    // a keep-alive one left open after a request.
    let mut idle: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let mut h2 = TcpStream::connect(addr).unwrap();
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .unwrap();
    idle.push(h2);
    let mut kept = TcpStream::connect(addr).unwrap();
    kept.write_all(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n")
        .unwrap();
    let mut head = [0u8; 12];
    kept.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    idle.push(kept);
    assert!(
        open_fds(up.pid()) >= baseline + 100,
        "the server holds the connections"
    );

    let c = common::client();
    let mut served = 0;
    common::wait_until("the slow and idle clients to be closed", || {
        // Normal clients are served the whole time.
        assert_eq!(c.get(up.url("/")).send().unwrap().status(), 200);
        served += 1;
        for s in &mut slow {
            let _ = s.write_all(b"x-trickle: 1\r\n");
        }
        let open = slow
            .iter_mut()
            .chain(idle.iter_mut())
            .map(closed_by_server)
            .filter(|closed| !closed)
            .count();
        (open == 0).then_some(())
    });
    assert!(served > 0);
    drop((slow, idle));
    common::wait_until("the server's open fds to return to their baseline", || {
        (open_fds(up.pid()) <= baseline).then_some(())
    });
}

#[test]
fn connections_past_the_limit_wait_in_the_backlog_until_one_closes() {
    let dir = app_dir("examples/rust-p3-http");
    let up = Up::start(&["-f", dir.to_str().unwrap(), "--max-connections", "4"]);
    let addr = addr(&up);
    let held: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let log = up.wait_for_log("the most allowed");
    assert!(log.contains("4 connections are open"), "{log}");
    // The fifth connects (the kernel queues it) but is not served while four are open.
    let mut fifth = TcpStream::connect(addr).unwrap();
    fifth
        .write_all(b"GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
        .unwrap();
    fifth
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 12];
    assert!(fifth.read_exact(&mut buf).is_err(), "served past the limit");
    drop(held);
    fifth.set_read_timeout(Some(WIRE_LIMIT)).unwrap();
    fifth.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"HTTP/1.1 200");
}

#[test]
fn the_listen_backlog_takes_a_burst_of_connects() {
    let dir = app_dir("examples/rust-p3-http");
    let up = Up::start(&["-f", dir.to_str().unwrap()]);
    let port = addr(&up).port();
    // For a listening socket, `ss` shows the backlog in Send-Q.
    let out = std::process::Command::new("ss")
        .args(["-Hltn", &format!("sport = :{port}")])
        .output()
        .expect("ss (iproute2)");
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    let backlog: u32 = out.split_whitespace().nth(2).unwrap().parse().unwrap();
    let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(backlog, somaxconn.min(4096), "{out}");
}

#[test]
fn a_request_body_over_the_limit_gets_413_and_one_within_it_reaches_the_guest() {
    let dir = app_dir("examples/rust-p3-http");
    let up = Up::start(&[
        "-f",
        dir.to_str().unwrap(),
        "--max-request-body-size",
        "1Ki",
    ]);
    let pattern = |n: usize| (0..n).map(|i| (i % 251) as u8).collect::<Vec<u8>>();
    let c = common::client();
    let r = c
        .post(up.url("/upload"))
        .body(pattern(1024))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().unwrap(), "bytes=1024 pattern=ok");
    // Declared too long: refused before the guest runs.
    let r = c
        .post(up.url("/upload"))
        .body(pattern(1025))
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(r.text().unwrap().contains("1024 bytes"));
    // Chunked (no length): refused once the guest has read past the limit.
    let unsized_body =
        std::io::Cursor::new(pattern(1000)).chain(std::io::Cursor::new(pattern(1000)));
    let r = c
        .post(up.url("/upload"))
        .body(reqwest::blocking::Body::new(unsized_body))
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[test]
fn a_wagi_guest_that_traps_after_partial_output_gives_500_not_the_partial_body() {
    // Wagi is CGI: the host reads the whole output before answering, so a trap part way is a
    // plain failure.
    let up = Up::start(&["-f", app_dir("examples/c-wagi").to_str().unwrap()]);
    let (status, body) = up.get("/wagi/?then=trap");
    assert_eq!(status, 500, "{body}");
    assert!(!body.contains("Hello from Wagi"), "{body}");
    assert_eq!(up.get("/wagi/").0, 200);
}

#[test]
fn a_wagi_request_body_of_declared_length_streams_to_stdin_instead_of_being_buffered() {
    use common::memory::{memory, mib, reset_peak, PatternReader, MIB};
    const BODY_MIB: u64 = 256;
    const LIMIT: u64 = 64 * MIB;
    let up = Up::start(&["-f", app_dir("examples/c-wagi").to_str().unwrap()]);
    let c = common::client();
    let upload = |total: u64| {
        let body = reqwest::blocking::Body::sized(PatternReader { at: 0, total }, total);
        let r = c
            .post(up.url("/wagi/?then=count"))
            .body(body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    assert_eq!(
        upload(MIB),
        (
            200,
            format!("Hello from Wagi!\nCONTENT_LENGTH={MIB} read={MIB}\n")
        )
    );
    let (baseline, _) = memory(up.pid());
    reset_peak(up.pid());
    let total = BODY_MIB * MIB;
    assert_eq!(
        upload(total),
        (
            200,
            format!("Hello from Wagi!\nCONTENT_LENGTH={total} read={total}\n")
        )
    );
    let (_, peak) = memory(up.pid());
    assert!(
        peak < baseline + LIMIT,
        "peak RSS grew {:.1} MiB receiving {BODY_MIB} MiB",
        mib(peak.saturating_sub(baseline))
    );
    // Without a declared length the body is still read whole first, as CGI needs.
    let r = c
        .post(up.url("/wagi/?then=count"))
        .body(reqwest::blocking::Body::new(std::io::Cursor::new(vec![
            7u8;
            1000
        ])))
        .send()
        .unwrap();
    assert_eq!(
        r.text().unwrap(),
        "Hello from Wagi!\nCONTENT_LENGTH=1000 read=1000\n"
    );
}
