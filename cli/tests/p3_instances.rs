//! Instance reuse under concurrency and streamed bodies of a WASI p3 guest
//! (examples/rust-p3-http, spin-sdk 7 `#[http_service]`), through the real `spinkube up`.
//!
//! The guest's `/hold?url=U` waits on an outbound request to `U`, a local server of the test
//! that answers only when the test says so: requests stay in flight for as long as the test
//! wants, and each reports its instance and how many ran on that instance at once.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

use common::memory::{memory, mib, pattern_byte, reset_peak, PatternReader, MIB};
use common::{app_dir, client, urlencode, wait_until, Up, EFFECT_LIMIT};

/// A local HTTP server whose requests are answered only when the test releases them.
struct Upstream {
    listener: TcpListener,
}

impl Upstream {
    fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Upstream { listener }
    }

    fn url(&self) -> String {
        format!("http://{}/upstream", self.listener.local_addr().unwrap())
    }

    /// Waits for the guest's next outbound request and reads its head; the connection is
    /// left unanswered.
    fn next_held(&self) -> TcpStream {
        let (stream, _) = wait_until("the guest's outbound request", || {
            self.listener.accept().ok()
        });
        stream.set_nonblocking(false).unwrap();
        stream.set_read_timeout(Some(EFFECT_LIMIT)).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("GET /upstream "), "{line:?}");
        while line != "\r\n" {
            line.clear();
            assert!(reader.read_line(&mut line).unwrap() > 0, "head cut short");
        }
        stream
    }
}

fn release(mut held: TcpStream) {
    held.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
        .unwrap();
}

/// What `/hold` answered.
#[derive(Debug)]
struct Held {
    instance: String,
    in_flight: usize,
    peak: usize,
}

fn parse_held(body: &str) -> Held {
    let field = |name: &str| {
        body.split(' ')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {name} in {body:?}"))
            .to_string()
    };
    assert_eq!(field("status"), "200", "{body}");
    Held {
        instance: field("instance"),
        in_flight: field("in_flight").parse().unwrap(),
        peak: field("peak").parse().unwrap(),
    }
}

/// Sends `n` `/hold` requests one after another, each once the previous one is in flight
/// (its outbound request reached `upstream`), then releases them all. Returns the answers
/// grouped by instance.
///
/// Sending one at a time is what makes the packing exact: wasmtime-wasi-http's `ProxyHandler`
/// starts a new instance for any request that arrives while no instance is *available*, and
/// an instance is unavailable from accepting a request until its guest first blocks (and
/// while it instantiates). The guest's outbound request is written from the store's event
/// loop only after that first block, so once it reaches `upstream` the instance has room
/// again if it is below the limit. A burst of simultaneous requests may spread over more
/// instances than ceil(n/limit); the limit still holds on each.
fn hold_concurrently(up: &Up, upstream: &Upstream, n: usize) -> BTreeMap<String, Vec<Held>> {
    let url = up.url(&format!("/hold?url={}", urlencode(&upstream.url())));
    let c = client();
    let mut clients: Vec<JoinHandle<(u16, String)>> = Vec::new();
    let mut held = Vec::new();
    for _ in 0..n {
        let (c, url) = (c.clone(), url.clone());
        clients.push(std::thread::spawn(move || {
            let r = c.get(url).send().unwrap();
            (r.status().as_u16(), r.text().unwrap())
        }));
        held.push(upstream.next_held());
    }
    // All n are in flight together: none has an answer before its upstream does.
    assert!(clients.iter().all(|t| !t.is_finished()));
    held.into_iter().for_each(release);
    let mut by_instance: BTreeMap<String, Vec<Held>> = BTreeMap::new();
    for t in clients {
        let (status, body) = t.join().unwrap();
        assert_eq!(status, 200, "{body}");
        let h = parse_held(&body);
        by_instance.entry(h.instance.clone()).or_default().push(h);
    }
    by_instance
}

/// Checks that `n` requests held at once on `limit`-wide instances filled ceil(n/limit)
/// instances, at most `limit` on each, all of an instance's requests running together.
fn assert_shared_up_to(by_instance: &BTreeMap<String, Vec<Held>>, n: usize, limit: usize) {
    let mut sizes: Vec<usize> = by_instance.values().map(Vec::len).collect();
    sizes.sort_unstable();
    let mut expected = vec![limit; n / limit];
    if !n.is_multiple_of(limit) {
        expected.insert(0, n % limit);
    }
    eprintln!("{n} held at once, limit {limit}: requests per instance {sizes:?}");
    assert_eq!(sizes, expected, "requests per instance: {by_instance:?}");
    for (id, hs) in by_instance {
        let mut in_flight: Vec<usize> = hs.iter().map(|h| h.in_flight).collect();
        in_flight.sort_unstable();
        // Each started while all earlier ones on its instance were still waiting.
        assert_eq!(
            in_flight,
            (1..=hs.len()).collect::<Vec<_>>(),
            "instance {id}: {hs:?}"
        );
        for h in hs {
            assert_eq!(h.peak, hs.len(), "instance {id}: {hs:?}");
        }
    }
}

#[test]
fn concurrent_requests_share_an_instance_up_to_the_concurrent_limit() {
    let dir = app_dir("examples/rust-p3-http");
    let upstream = Upstream::start();
    // An idle minute keeps the instances alive between the rounds below.
    let up = Up::start(&[
        "-f",
        dir.to_str().unwrap(),
        "--max-instance-concurrent-reuse-count",
        "2",
        "--idle-instance-timeout",
        "60s",
    ]);
    let by_instance = hold_concurrently(&up, &upstream, 5);
    assert_shared_up_to(&by_instance, 5, 2);

    // Once they answered, the same instances take the next ones: 4 more held at once fit
    // in the 3 instances' room for 6, so none is created, and still none runs more than 2
    // (an instance's `peak` counts its whole life).
    let again = hold_concurrently(&up, &upstream, 4);
    for (id, hs) in &again {
        assert!(
            by_instance.contains_key(id),
            "a new instance {id} was made: {again:?}"
        );
        assert!(hs.len() <= 2, "{id}: {hs:?}");
        assert!(hs.iter().all(|h| h.peak <= 2), "{id}: {hs:?}");
    }
}

#[test]
fn default_concurrent_limit_is_sixteen_per_p3_instance() {
    let dir = app_dir("examples/rust-p3-http");
    let upstream = Upstream::start();
    let up = Up::start(&["-f", dir.to_str().unwrap()]);
    let by_instance = hold_concurrently(&up, &upstream, 17);
    assert_shared_up_to(&by_instance, 17, 16);
}

/// `GET path` on a raw connection; returns the stream positioned at the body and the
/// announced content length.
fn raw_get(up: &Up, path: &str) -> (BufReader<TcpStream>, u64) {
    let addr = up.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(EFFECT_LIMIT)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    // A small buffer: the test holds little of the body at any time.
    let mut reader = BufReader::with_capacity(4096, stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{line:?}");
    let mut length = None;
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.trim().parse().unwrap());
        }
    }
    (reader, length.expect("a content-length"))
}

/// Reads up to `count` body bytes in small reads, checking the pattern from `offset`.
/// Returns how many were read (fewer only at the end of the stream).
fn read_checked(body: &mut impl Read, offset: u64, count: u64) -> u64 {
    let mut buf = [0u8; 16 * 1024];
    let mut done = 0;
    while done < count {
        let want = buf.len().min((count - done) as usize);
        let n = body.read(&mut buf[..want]).unwrap();
        if n == 0 {
            break;
        }
        for (k, b) in buf[..n].iter().enumerate() {
            let at = offset + done + k as u64;
            assert_eq!(*b, pattern_byte(at), "body byte {at}");
        }
        done += n as u64;
    }
    done
}

#[test]
fn a_streamed_p3_response_to_a_slow_reader_is_not_buffered_in_memory() {
    const BODY_MIB: u64 = 256;
    const FIRST_MIB: u64 = 16;
    const LIMIT: u64 = 64 * MIB;
    let dir = app_dir("examples/rust-p3-http");
    let up = Up::start(&["-f", dir.to_str().unwrap()]);
    let pid = up.pid();

    // Warm up: an instance exists and a small stream has gone through it.
    let (mut warm, len) = raw_get(&up, "/stream?mib=4");
    assert_eq!(len, 4 * MIB);
    assert_eq!(read_checked(&mut warm, 0, u64::MAX), 4 * MIB);
    let (baseline, _) = memory(pid);
    reset_peak(pid);

    let (mut body, len) = raw_get(&up, &format!("/stream?mib={BODY_MIB}"));
    assert_eq!(len, BODY_MIB * MIB);
    let mut read = read_checked(&mut body, 0, FIRST_MIB * MIB);
    assert_eq!(read, FIRST_MIB * MIB);

    // The reader stalls (a slow client; 2 s, longer than the 1 s idle timeout). A guest and
    // host that did not wait for the reader would pile up well over the limit in that time
    // (spin-sdk's own `body::stream` helper, with its 1024-chunk channel, adds 64 MiB here);
    // RSS must stay flat instead, and the instance must not be dropped mid-body.
    let mut samples = Vec::new();
    for _ in 0..40 {
        samples.push(memory(pid).0);
        std::thread::sleep(Duration::from_millis(50));
    }
    let stalled = *samples.iter().max().unwrap();

    // Then it reads the rest, a little at a time, sampling RSS every 16 MiB.
    while read < len {
        let n = read_checked(&mut body, read, (16 * MIB).min(len - read));
        assert!(n > 0, "the body ended after {read} of {len} bytes");
        read += n;
        samples.push(memory(pid).0);
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut rest = [0u8; 1];
    assert_eq!(body.read(&mut rest).unwrap(), 0, "bytes after the body");
    assert_eq!(read, BODY_MIB * MIB);
    let (_, peak) = memory(pid);
    let sampled = *samples.iter().max().unwrap();
    eprintln!(
        "RSS baseline {:.1} MiB; while stalled after {FIRST_MIB} MiB: {:.1} MiB; max sampled \
         {:.1} MiB; peak (VmHWM) over the {BODY_MIB} MiB stream {:.1} MiB",
        mib(baseline),
        mib(stalled),
        mib(sampled),
        mib(peak)
    );
    assert!(
        stalled < baseline + LIMIT,
        "RSS grew {:.1} MiB while the reader stalled",
        mib(stalled.saturating_sub(baseline))
    );
    assert!(
        peak < baseline + LIMIT,
        "peak RSS grew {:.1} MiB streaming {BODY_MIB} MiB",
        mib(peak.saturating_sub(baseline))
    );
}

#[test]
fn a_streamed_p3_request_body_is_not_buffered_in_memory() {
    const BODY_MIB: u64 = 256;
    const LIMIT: u64 = 64 * MIB;
    let dir = app_dir("examples/rust-p3-http");
    let up = Up::start(&["-f", dir.to_str().unwrap()]);
    let pid = up.pid();
    let c = client();
    let upload = |total: u64| {
        let body = reqwest::blocking::Body::sized(PatternReader { at: 0, total }, total);
        let r = c.post(up.url("/upload")).body(body).send().unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    assert_eq!(
        upload(4 * MIB),
        (200, format!("bytes={} pattern=ok", 4 * MIB))
    );
    let (baseline, _) = memory(pid);
    reset_peak(pid);
    let total = BODY_MIB * MIB;
    assert_eq!(upload(total), (200, format!("bytes={total} pattern=ok")));
    let (_, peak) = memory(pid);
    eprintln!(
        "RSS baseline {:.1} MiB; peak (VmHWM) over the {BODY_MIB} MiB upload {:.1} MiB",
        mib(baseline),
        mib(peak)
    );
    assert!(
        peak < baseline + LIMIT,
        "peak RSS grew {:.1} MiB receiving {BODY_MIB} MiB",
        mib(peak.saturating_sub(baseline))
    );
}

/// A reused instance that hits `--max-instance-memory` fails that request, is dropped with the
/// reason in the log, and the next request gets a fresh instance.
#[test]
fn a_memory_limit_hit_drops_the_reused_instance() {
    let dir = app_dir("examples/rust-p3-http");
    let up = Up::start(&["-f", dir.to_str().unwrap(), "--max-instance-memory", "48Mi"]);
    assert_eq!(up.get("/count"), (200, "1".into()));
    assert_eq!(up.get("/alloc?mib=8"), (200, "allocated 8 MiB".into()));
    assert_eq!(up.get("/count"), (200, "3".into()));
    let (status, body) = up.get("/alloc?mib=64");
    assert_eq!(status, 500, "{body}");
    let log = up.wait_for_log("past the limit");
    assert!(
        log.contains("past the limit of 50331648 bytes") && log.contains("--max-instance-memory"),
        "{log}"
    );
    assert_eq!(up.get("/count"), (200, "1".into()));
    // The fresh instance has its whole budget again.
    assert_eq!(up.get("/alloc?mib=8"), (200, "allocated 8 MiB".into()));
}

/// Response trailers from a p3 guest reach an HTTP/1.1 client that accepts them (`te:
/// trailers`), after a chunked body that arrives whole.
#[test]
fn response_trailers_of_a_p3_guest_reach_the_client() {
    let dir = app_dir("examples/rust-p3-http");
    let up = Up::start(&["-f", dir.to_str().unwrap()]);
    let addr = up.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(EFFECT_LIMIT)).unwrap();
    write!(
        stream,
        "GET /stream?mib=1&trailer=1 HTTP/1.1\r\nhost: {addr}\r\nte: trailers\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut head = Vec::new();
    let mut line = String::new();
    while line != "\r\n" {
        line.clear();
        reader.read_line(&mut line).unwrap();
        head.push(line.to_ascii_lowercase());
    }
    assert!(head[0].starts_with("http/1.1 200"), "{head:?}");
    assert!(
        head.contains(&"transfer-encoding: chunked\r\n".to_string()),
        "{head:?}"
    );
    // The chunked body, checked byte by byte, then the trailer section.
    let mut received = 0u64;
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let size = u64::from_str_radix(line.trim(), 16).unwrap_or_else(|_| panic!("{line:?}"));
        if size == 0 {
            break;
        }
        received += read_checked(&mut reader, received, size);
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, "\r\n");
    }
    assert_eq!(received, MIB);
    let mut trailers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        trailers.push(line.trim().to_string());
    }
    assert_eq!(trailers, [format!("x-pattern-bytes: {MIB}")]);
}
