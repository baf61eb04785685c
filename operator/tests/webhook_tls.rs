//! The webhook HTTPS server with the operator's own certificate, and the certificate's life cycle
//! against a real API server (spinkube-testenv): Secret creation and reuse, renewal, `caBundle`
//! patching, the rotation loop, and the API server actually calling a webhook it trusts through the
//! patched `caBundle`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use chrono::{TimeDelta, Utc};
use http_body_util::{BodyExt, Full};
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use spinkube_operator::webhook::cert_manager::{bundle_from_secret, CA_CERT_KEY, TLS_CERT_KEY};
use spinkube_operator::webhook::certs::{self, CertBundle};
use spinkube_operator::webhook::tls_server::{self, MAX_BODY_BYTES};
use spinkube_operator::webhook::{
    ensure_certificate, run_rotation_loop, CertConfig, CertStore, Handler,
};
use tokio::sync::oneshot;

// ---------- helpers ----------

fn local_sans() -> Vec<String> {
    certs::webhook_sans("hook", "ops", &["127.0.0.1".to_string()])
}

fn handler_fn(
    f: impl Fn(http::Request<Bytes>) -> http::Response<Bytes> + Send + Sync + 'static,
) -> Handler {
    let f = Arc::new(f);
    Arc::new(move |req| {
        let f = f.clone();
        Box::pin(async move { f(req) })
    })
}

fn echo() -> Handler {
    handler_fn(|req| {
        let text = format!(
            "{} {} {} bytes",
            req.method(),
            req.uri().path(),
            req.body().len()
        );
        http::Response::new(Bytes::from(text))
    })
}

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(addr: SocketAddr, store: CertStore, handler: Handler) -> Server {
        let (stop, stopped) = oneshot::channel::<()>();
        let (addr, fut) = tls_server::bind(addr, store, handler, async move {
            let _ = stopped.await;
        })
        .await
        .expect("bind webhook server");
        Server {
            addr,
            stop: Some(stop),
            done: tokio::spawn(fut),
        }
    }

    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(40), &mut self.done)
            .await
            .expect("server stops after shutdown")
            .expect("server task");
    }
}

/// A fresh client (so a fresh connection) trusting only `ca_pem`.
fn client_trusting(ca_pem: &str) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .tls_info(true);
    for der in certs::pem_certs(ca_pem, "ca").expect("CA PEM") {
        builder =
            builder.add_root_certificate(reqwest::Certificate::from_der(&der).expect("CA cert"));
    }
    builder.build().expect("reqwest client")
}

fn presented_serial(resp: &reqwest::Response) -> String {
    let info = resp
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .expect("tls info");
    certs::serial_hex_of_der(info.peer_certificate().expect("peer certificate")).expect("serial")
}

fn loopback0() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

// ---------- HTTPS server ----------

#[tokio::test]
async fn serves_https_with_the_generated_certificate() {
    let bundle = certs::generate(&local_sans(), Utc::now()).expect("generate");
    let store = CertStore::new();
    assert!(!store.is_ready());
    assert!(store.set(&bundle).expect("load cert"));
    assert!(
        !store.set(&bundle).expect("load cert"),
        "same cert again is a no-op"
    );
    let server = Server::start(loopback0(), store, echo()).await;
    assert_ne!(server.addr.port(), 0);

    let client = client_trusting(&bundle.ca_cert_pem);
    let url = format!("https://127.0.0.1:{}/validate-x", server.addr.port());
    let resp = client
        .post(&url)
        .body("hello")
        .send()
        .await
        .expect("https request");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.expect("body"), "POST /validate-x 5 bytes");

    // The DNS names work too (the API server uses <svc>.<ns>.svc).
    let by_name = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(bundle.ca_cert_pem.as_bytes()).expect("CA"),
        )
        .resolve("hook.ops.svc", server.addr)
        .build()
        .expect("client");
    let resp = by_name
        .get(format!("https://hook.ops.svc:{}/x", server.addr.port()))
        .send()
        .await
        .expect("request by service name");
    assert_eq!(resp.status(), 200);

    // A client trusting another CA refuses the server.
    let other = certs::generate(&local_sans(), Utc::now()).expect("generate");
    let err = client_trusting(&other.ca_cert_pem)
        .get(&url)
        .send()
        .await
        .expect_err("must not trust");
    assert!(err.is_connect() || err.is_request(), "{err:?}");

    // Bodies over 3 MiB are refused with 413, right at the limit accepted.
    let resp = client
        .post(&url)
        .body(vec![b'x'; MAX_BODY_BYTES + 1])
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 413);
    let resp = client
        .post(&url)
        .body(vec![b'x'; MAX_BODY_BYTES])
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.text().await.expect("body"),
        format!("POST /validate-x {MAX_BODY_BYTES} bytes")
    );

    server.shutdown().await;
    assert!(
        client_trusting(&bundle.ca_cert_pem)
            .get(&url)
            .send()
            .await
            .is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn chunked_body_over_the_limit_is_refused() {
    let bundle = certs::generate(&local_sans(), Utc::now()).expect("generate");
    let store = CertStore::new();
    store.set(&bundle).expect("load cert");
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = calls.clone();
    let counting = handler_fn(move |_req| {
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        http::Response::new(Bytes::from_static(b"handled"))
    });
    let server = Server::start(loopback0(), store, counting).await;
    // No Content-Length: the limit is enforced while reading.
    let chunks: Vec<Result<hyper::body::Frame<Bytes>, std::io::Error>> = (0..4)
        .map(|_| {
            Ok(hyper::body::Frame::data(Bytes::from(vec![
                b'y';
                1024 * 1024
            ])))
        })
        .collect();
    let body = reqwest::Body::wrap(http_body_util::StreamBody::new(futures::stream::iter(
        chunks,
    )));
    let resp = client_trusting(&bundle.ca_cert_pem)
        .post(format!("https://127.0.0.1:{}/m", server.addr.port()))
        .body(body)
        .send()
        .await;
    // The server may answer 413 before the client has finished sending (then the client may see the
    // connection closed instead of the answer).
    if let Ok(resp) = resp {
        assert_eq!(resp.status(), 413);
    }
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "handler never sees an oversized body"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn speaks_http2_when_negotiated() {
    let bundle = certs::generate(&local_sans(), Utc::now()).expect("generate");
    let store = CertStore::new();
    store.set(&bundle).expect("load cert");
    let server = Server::start(loopback0(), store, echo()).await;

    let mut roots = rustls::RootCertStore::empty();
    for der in certs::pem_certs(&bundle.ca_cert_pem, "ca").expect("pem") {
        roots.add(der).expect("root");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("tls versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let name = rustls::pki_types::ServerName::try_from("hook.ops.svc").expect("name");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("tls");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));

    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .expect("h2 handshake");
    tokio::spawn(conn);
    let req = http::Request::post("https://hook.ops.svc/h2")
        .body(Full::new(Bytes::from_static(b"abc")))
        .expect("req");
    let resp = send.send_request(req).await.expect("h2 request");
    assert_eq!(resp.version(), http::Version::HTTP_2);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(&body[..], b"POST /h2 3 bytes");
    drop(send);
    server.shutdown().await;
}

#[tokio::test]
async fn rotated_certificate_is_used_for_new_connections() {
    let first = certs::generate(&local_sans(), Utc::now()).expect("generate");
    let store = CertStore::new();
    store.set(&first).expect("load cert");
    let server = Server::start(loopback0(), store.clone(), echo()).await;
    let url = format!("https://127.0.0.1:{}/", server.addr.port());

    let old_client = client_trusting(&first.ca_cert_pem);
    let resp = old_client.get(&url).send().await.expect("request");
    let first_serial = certs::inspect(&first).expect("inspect").serial_hex;
    assert_eq!(presented_serial(&resp), first_serial);
    assert_eq!(store.serial_hex().as_deref(), Some(first_serial.as_str()));

    let second = certs::reissue_serving(&first, &local_sans(), Utc::now()).expect("reissue");
    let second_serial = certs::inspect(&second).expect("inspect").serial_hex;
    assert_ne!(first_serial, second_serial);
    assert!(store.set(&second).expect("load rotated cert"));

    let resp = client_trusting(&second.ca_cert_pem)
        .get(&url)
        .send()
        .await
        .expect("request");
    assert_eq!(
        presented_serial(&resp),
        second_serial,
        "new connection gets the rotated cert"
    );

    // A bad bundle is refused and the current certificate stays.
    let broken = CertBundle {
        key_pem: first.key_pem.clone(),
        ..second.clone()
    };
    assert!(store.set(&broken).is_err());
    assert_eq!(store.serial_hex().as_deref(), Some(second_serial.as_str()));
    server.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_lets_in_flight_requests_finish() {
    let bundle = certs::generate(&local_sans(), Utc::now()).expect("generate");
    let store = CertStore::new();
    store.set(&bundle).expect("load cert");
    let (entered_tx, entered_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let handler: Handler = Arc::new(move |_req| {
        let entered = entered_tx.clone();
        Box::pin(async move {
            let _ = entered.send(());
            tokio::time::sleep(Duration::from_millis(700)).await;
            http::Response::new(Bytes::from_static(b"slow done"))
        })
    });
    let server = Server::start(loopback0(), store, handler).await;
    let url = format!("https://127.0.0.1:{}/slow", server.addr.port());
    let client = client_trusting(&bundle.ca_cert_pem);
    let in_flight = tokio::spawn(async move { client.get(&url).send().await?.text().await });

    let mut entered_rx = entered_rx;
    tokio::time::timeout(Duration::from_secs(10), entered_rx.recv())
        .await
        .expect("handler entered");
    let started = Instant::now();
    let addr = server.addr;
    server.shutdown().await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "shutdown waited for the request"
    );
    assert_eq!(
        in_flight
            .await
            .expect("join")
            .expect("in-flight request completes"),
        "slow done"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );
}

#[tokio::test]
async fn no_certificate_yet_means_handshakes_fail() {
    let store = CertStore::new();
    let server = Server::start(loopback0(), store, echo()).await;
    let some_ca = certs::generate(&local_sans(), Utc::now()).expect("generate");
    let res = client_trusting(&some_ca.ca_cert_pem)
        .get(format!("https://127.0.0.1:{}/", server.addr.port()))
        .send()
        .await;
    assert!(res.is_err());
    server.shutdown().await;
}

// ---------- against a real API server ----------

async fn kube_client(cp: &spinkube_testenv::ControlPlane) -> Client {
    let kubeconfig = Kubeconfig::read_from(cp.kubeconfig()).expect("read kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kube config");
    Client::try_from(config).expect("kube client")
}

/// Deletes the cluster-scoped webhook configurations a test made, even when it fails.
struct Cleanup {
    cp: &'static spinkube_testenv::ControlPlane,
    objects: Vec<(&'static str, String)>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for (kind, name) in &self.objects {
            let _ =
                self.cp
                    .kubectl_run(&["delete", kind, name, "--ignore-not-found", "--wait=false"]);
        }
    }
}

fn dummy_webhooks(prefix: &str) -> serde_json::Value {
    let hook = |n: u32| {
        serde_json::json!({
            "name": format!("{prefix}-{n}.test.spinkube.dev"),
            "clientConfig": { "url": format!("https://127.0.0.1:1/hook-{n}") },
            // Matches nothing that exists, and is ignored on failure: harmless on a shared cluster.
            "rules": [{ "apiGroups": ["nothing.test.spinkube.dev"], "apiVersions": ["v1"],
                        "operations": ["CREATE"], "resources": ["widgets"] }],
            "failurePolicy": "Ignore",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
        })
    };
    serde_json::json!([hook(1), hook(2)])
}

async fn create_webhook_configurations(client: &Client, mutating: &str, validating: &str) {
    let mwc: MutatingWebhookConfiguration = serde_json::from_value(serde_json::json!({
        "metadata": { "name": mutating }, "webhooks": dummy_webhooks(mutating),
    }))
    .expect("mwc");
    let vwc: ValidatingWebhookConfiguration = serde_json::from_value(serde_json::json!({
        "metadata": { "name": validating }, "webhooks": dummy_webhooks(validating),
    }))
    .expect("vwc");
    Api::<MutatingWebhookConfiguration>::all(client.clone())
        .create(&PostParams::default(), &mwc)
        .await
        .expect("create MutatingWebhookConfiguration");
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .create(&PostParams::default(), &vwc)
        .await
        .expect("create ValidatingWebhookConfiguration");
}

/// Every webhook's caBundle, decoded, for both configurations.
async fn ca_bundles(client: &Client, mutating: &str, validating: &str) -> Vec<Option<String>> {
    let m = Api::<MutatingWebhookConfiguration>::all(client.clone())
        .get(mutating)
        .await
        .expect("get mwc");
    let v = Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .get(validating)
        .await
        .expect("get vwc");
    let decode = |b: &Option<k8s_openapi::ByteString>| {
        b.as_ref()
            .map(|b| String::from_utf8_lossy(&b.0).into_owned())
    };
    let mut out: Vec<Option<String>> = m
        .webhooks
        .unwrap_or_default()
        .iter()
        .map(|w| decode(&w.client_config.ca_bundle))
        .collect();
    out.extend(
        v.webhooks
            .unwrap_or_default()
            .iter()
            .map(|w| decode(&w.client_config.ca_bundle)),
    );
    out
}

fn serial(b: &CertBundle) -> String {
    certs::inspect(b).expect("inspect").serial_hex
}

async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs kubectl until it succeeds (`Ok`) or fails with a message containing the `Err` text.
async fn kubectl_eventually(
    cp: &'static spinkube_testenv::ControlPlane,
    args: &[&str],
    want: Result<(), &str>,
) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let a = args.clone();
        let got = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = a.iter().map(String::as_str).collect();
            cp.kubectl_run(&refs).map_err(|e| format!("{e:#}"))
        })
        .await
        .expect("kubectl task");
        let done = match (&got, want) {
            (Ok(_), Ok(())) => true,
            (Err(msg), Err(needle)) => msg.contains(needle),
            _ => false,
        };
        if done {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "kubectl {args:?}: wanted {want:?}, last got {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_secret_and_ca_bundles_against_a_real_api_server() {
    let cp = spinkube_testenv::ControlPlane::shared();
    let ns = cp.create_namespace("webhook-cert").expect("namespace");
    let client = kube_client(cp).await;
    let cfg = CertConfig {
        namespace: ns.clone(),
        secret_name: "spin-operator-webhook-cert".into(),
        service_name: "spin-operator-webhook".into(),
        extra_sans: vec!["127.0.0.1".into()],
        mutating_webhook_configuration: format!("{ns}-mutating"),
        validating_webhook_configuration: format!("{ns}-validating"),
    };
    let _cleanup = Cleanup {
        cp,
        objects: vec![
            (
                "mutatingwebhookconfiguration",
                cfg.mutating_webhook_configuration.clone(),
            ),
            (
                "validatingwebhookconfiguration",
                cfg.validating_webhook_configuration.clone(),
            ),
        ],
    };

    // Before the chart installs the configurations: not an error.
    let early = ensure_certificate(&client, &cfg)
        .await
        .expect("ensure without webhook configurations");

    create_webhook_configurations(
        &client,
        &cfg.mutating_webhook_configuration,
        &cfg.validating_webhook_configuration,
    )
    .await;
    assert_eq!(
        ca_bundles(
            &client,
            &cfg.mutating_webhook_configuration,
            &cfg.validating_webhook_configuration
        )
        .await,
        vec![None; 4]
    );

    // The Secret is reused (same serial), and all four caBundles are patched.
    let bundle = ensure_certificate(&client, &cfg).await.expect("ensure");
    assert_eq!(
        serial(&bundle),
        serial(&early),
        "second call reuses the Secret"
    );
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let secret = secrets.get(&cfg.secret_name).await.expect("Secret created");
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
    let data = secret.data.clone().unwrap_or_default();
    for key in ["ca.crt", "ca.key", "tls.crt", "tls.key"] {
        assert!(data.contains_key(key), "Secret has {key}");
    }
    assert_eq!(bundle_from_secret(&secret), bundle);
    assert_eq!(
        ca_bundles(
            &client,
            &cfg.mutating_webhook_configuration,
            &cfg.validating_webhook_configuration
        )
        .await,
        vec![Some(bundle.ca_cert_pem.clone()); 4]
    );
    let info = certs::inspect(&bundle).expect("inspect");
    assert!(info
        .sans
        .contains(&format!("spin-operator-webhook.{ns}.svc")));
    assert!(info.sans.contains("127.0.0.1"));

    // A serving cert expiring in 25 days is renewed by the same CA.
    let old =
        certs::generate(&cfg.sans(), Utc::now() - TimeDelta::days(340)).expect("generate old");
    let mut s = secrets.get(&cfg.secret_name).await.expect("get");
    let d = s.data.get_or_insert_with(Default::default);
    d.insert(
        CA_CERT_KEY.into(),
        k8s_openapi::ByteString(old.ca_cert_pem.clone().into_bytes()),
    );
    d.insert(
        "ca.key".into(),
        k8s_openapi::ByteString(old.ca_key_pem.clone().into_bytes()),
    );
    d.insert(
        TLS_CERT_KEY.into(),
        k8s_openapi::ByteString(old.cert_pem.clone().into_bytes()),
    );
    d.insert(
        "tls.key".into(),
        k8s_openapi::ByteString(old.key_pem.clone().into_bytes()),
    );
    secrets
        .replace(&cfg.secret_name, &PostParams::default(), &s)
        .await
        .expect("plant expiring cert");
    let renewed = ensure_certificate(&client, &cfg)
        .await
        .expect("ensure renews");
    assert_ne!(serial(&renewed), serial(&old));
    assert_eq!(renewed.ca_cert_pem, old.ca_cert_pem, "same CA");
    assert!(
        certs::inspect(&renewed).expect("inspect").not_after > Utc::now() + TimeDelta::days(360)
    );
    assert_eq!(
        bundle_from_secret(&secrets.get(&cfg.secret_name).await.expect("get")),
        renewed
    );
    assert_eq!(
        ca_bundles(
            &client,
            &cfg.mutating_webhook_configuration,
            &cfg.validating_webhook_configuration
        )
        .await,
        vec![Some(old.ca_cert_pem.clone()); 4],
        "caBundle follows the Secret's CA"
    );

    // Two replicas starting at once against a missing Secret end up with the same certificate.
    let race = CertConfig {
        secret_name: "raced-cert".into(),
        ..cfg.clone()
    };
    let (a, b) = tokio::join!(
        ensure_certificate(&client, &race),
        ensure_certificate(&client, &race)
    );
    let (a, b) = (a.expect("replica a"), b.expect("replica b"));
    assert_eq!(serial(&a), serial(&b));
    assert_eq!(
        bundle_from_secret(&secrets.get("raced-cert").await.expect("get")),
        a
    );
    // (The configurations now trust the raced CA; put ours back.)
    ensure_certificate(&client, &cfg).await.expect("ensure");

    // Names that do not exist are skipped.
    let missing = CertConfig {
        mutating_webhook_configuration: format!("{ns}-no-such-mutating"),
        validating_webhook_configuration: format!("{ns}-no-such-validating"),
        ..cfg.clone()
    };
    ensure_certificate(&client, &missing)
        .await
        .expect("missing configurations are fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_loop_follows_the_secret_and_repatches_recreated_configurations() {
    let cp = spinkube_testenv::ControlPlane::shared();
    let ns = cp.create_namespace("webhook-loop").expect("namespace");
    let client = kube_client(cp).await;
    let cfg = CertConfig {
        namespace: ns.clone(),
        secret_name: "loop-cert".into(),
        service_name: "hook".into(),
        extra_sans: vec![],
        mutating_webhook_configuration: format!("{ns}-mutating"),
        validating_webhook_configuration: format!("{ns}-validating"),
    };
    let _cleanup = Cleanup {
        cp,
        objects: vec![
            (
                "mutatingwebhookconfiguration",
                cfg.mutating_webhook_configuration.clone(),
            ),
            (
                "validatingwebhookconfiguration",
                cfg.validating_webhook_configuration.clone(),
            ),
        ],
    };
    let store = CertStore::new();
    let (stop, stopped) = oneshot::channel::<()>();
    let rotation = tokio::spawn(run_rotation_loop(
        client.clone(),
        cfg.clone(),
        store.clone(),
        async move {
            let _ = stopped.await;
        },
    ));

    // The loop's first check creates the Secret and publishes the cert.
    wait_until(
        "the first certificate in the store",
        Duration::from_secs(30),
        || async { store.is_ready() },
    )
    .await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let current = bundle_from_secret(&secrets.get(&cfg.secret_name).await.expect("Secret created"));
    assert_eq!(store.serial_hex(), Some(serial(&current)));

    // Configurations installed after the operator started get patched without waiting an hour.
    create_webhook_configurations(
        &client,
        &cfg.mutating_webhook_configuration,
        &cfg.validating_webhook_configuration,
    )
    .await;
    let want = vec![Some(current.ca_cert_pem.clone()); 4];
    wait_until(
        "caBundle patched into new configurations",
        Duration::from_secs(30),
        || async {
            ca_bundles(
                &client,
                &cfg.mutating_webhook_configuration,
                &cfg.validating_webhook_configuration,
            )
            .await
                == want
        },
    )
    .await;

    // Re-created (e.g. by a chart upgrade) with no caBundle: patched again.
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .delete(
            &cfg.validating_webhook_configuration,
            &DeleteParams::default(),
        )
        .await
        .expect("delete vwc");
    Api::<MutatingWebhookConfiguration>::all(client.clone())
        .delete(
            &cfg.mutating_webhook_configuration,
            &DeleteParams::default(),
        )
        .await
        .expect("delete mwc");
    create_webhook_configurations(
        &client,
        &cfg.mutating_webhook_configuration,
        &cfg.validating_webhook_configuration,
    )
    .await;
    wait_until(
        "caBundle re-patched after re-creation",
        Duration::from_secs(30),
        || async {
            ca_bundles(
                &client,
                &cfg.mutating_webhook_configuration,
                &cfg.validating_webhook_configuration,
            )
            .await
                == want
        },
    )
    .await;

    // Another replica renewed the certificate: this one serves it too, promptly.
    let renewed = certs::reissue_serving(&current, &cfg.sans(), Utc::now()).expect("reissue");
    let mut s = secrets.get(&cfg.secret_name).await.expect("get");
    s.data.get_or_insert_with(Default::default).insert(
        TLS_CERT_KEY.into(),
        k8s_openapi::ByteString(renewed.cert_pem.clone().into_bytes()),
    );
    s.data.get_or_insert_with(Default::default).insert(
        "tls.key".into(),
        k8s_openapi::ByteString(renewed.key_pem.clone().into_bytes()),
    );
    secrets
        .replace(&cfg.secret_name, &PostParams::default(), &s)
        .await
        .expect("replace");
    let want_serial = serial(&renewed);
    wait_until(
        "the store to pick up the renewed cert",
        Duration::from_secs(30),
        || async { store.serial_hex().as_deref() == Some(want_serial.as_str()) },
    )
    .await;

    // Secret deleted: re-created, and the configurations follow its new CA.
    secrets
        .delete(&cfg.secret_name, &DeleteParams::default())
        .await
        .expect("delete Secret");
    wait_until(
        "a new certificate after the Secret was deleted",
        Duration::from_secs(30),
        || async { store.serial_hex().as_deref() != Some(want_serial.as_str()) },
    )
    .await;
    let recreated = bundle_from_secret(
        &secrets
            .get(&cfg.secret_name)
            .await
            .expect("Secret re-created"),
    );
    assert_ne!(recreated.ca_cert_pem, current.ca_cert_pem);
    let want = vec![Some(recreated.ca_cert_pem.clone()); 4];
    wait_until(
        "caBundle follows the new CA",
        Duration::from_secs(30),
        || async {
            ca_bundles(
                &client,
                &cfg.mutating_webhook_configuration,
                &cfg.validating_webhook_configuration,
            )
            .await
                == want
        },
    )
    .await;

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), rotation)
        .await
        .expect("loop stops")
        .expect("loop task");
}

/// The API server itself calls a Service-based webhook served by [`tls_server`] with the certificate
/// from [`ensure_certificate`], trusting it only through the patched `caBundle`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_server_calls_the_webhook_through_the_patched_ca_bundle() {
    let cp = spinkube_testenv::ControlPlane::shared();
    let ns = cp.create_namespace("webhook-e2e").expect("namespace");
    let client = kube_client(cp).await;
    const PORT: u16 = 9443;

    // A selector-less Service: its ClusterIP is a loopback address (testenv's service CIDR) that the API
    // server dials directly, so the test process serves the webhook by listening there.
    cp.kubectl_stdin(
        &["apply", "-f", "-"],
        &format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: hook, namespace: {ns}}}\n\
             spec: {{ports: [{{port: {PORT}, targetPort: {PORT}}}]}}\n"
        ),
    )
    .expect("create Service");
    let ip = cp
        .kubectl_run(&[
            "-n",
            &ns,
            "get",
            "service",
            "hook",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ])
        .expect("ClusterIP");
    let ip: std::net::IpAddr = ip.trim().parse().expect("ClusterIP is an IP");
    assert!(
        ip.is_loopback(),
        "testenv puts ClusterIPs on loopback, got {ip}"
    );

    let validating = format!("{ns}-validating");
    let _cleanup = Cleanup {
        cp,
        objects: vec![("validatingwebhookconfiguration", validating.clone())],
    };
    let vwc: ValidatingWebhookConfiguration = serde_json::from_value(serde_json::json!({
        "metadata": { "name": validating },
        "webhooks": [{
            "name": "configmaps.test.spinkube.dev",
            "clientConfig": { "service": { "namespace": ns, "name": "hook", "port": PORT, "path": "/validate" } },
            "rules": [{ "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["configmaps"] }],
            "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": ns } },
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 10,
        }],
    }))
    .expect("vwc");
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .create(&PostParams::default(), &vwc)
        .await
        .expect("create ValidatingWebhookConfiguration");

    let cfg = CertConfig {
        namespace: ns.clone(),
        secret_name: "hook-cert".into(),
        service_name: "hook".into(),
        extra_sans: vec![],
        mutating_webhook_configuration: String::new(),
        validating_webhook_configuration: validating.clone(),
    };
    let bundle = ensure_certificate(&client, &cfg).await.expect("ensure");
    let store = CertStore::new();
    store.set(&bundle).expect("load cert");

    // Denies ConfigMaps whose name starts with "deny", allows the rest.
    let handler = handler_fn(|req| {
        let review: serde_json::Value = serde_json::from_slice(req.body()).unwrap_or_default();
        let uid = review.pointer("/request/uid").cloned().unwrap_or_default();
        let name = review
            .pointer("/request/name")
            .and_then(|n| n.as_str())
            .unwrap_or_default();
        let allowed = !name.starts_with("deny");
        let answer = serde_json::json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": { "uid": uid, "allowed": allowed,
                          "status": { "code": 403, "message": format!("{name} denied by the spinkube test webhook") } },
        });
        let mut resp = http::Response::new(Bytes::from(answer.to_string()));
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        resp
    });
    let server = Server::start(SocketAddr::new(ip, PORT), store, handler).await;

    // The API server's webhook informer may lag behind the caBundle patch: retry for a while.
    kubectl_eventually(
        cp,
        &["-n", &ns, "create", "configmap", "allowed-one"],
        Ok(()),
    )
    .await;
    kubectl_eventually(
        cp,
        &["-n", &ns, "create", "configmap", "deny-me"],
        Err("deny-me denied by the spinkube test webhook"),
    )
    .await;

    // Without our CA in caBundle the API server refuses to talk to the webhook (failurePolicy Fail).
    let other = certs::generate(&cfg.sans(), Utc::now()).expect("other CA");
    let b64 = base64::engine::general_purpose::STANDARD.encode(other.ca_cert_pem.as_bytes());
    cp.kubectl_run(&[
        "patch",
        "validatingwebhookconfiguration",
        &validating,
        "--type=json",
        "-p",
        &format!(
            r#"[{{"op":"replace","path":"/webhooks/0/clientConfig/caBundle","value":"{b64}"}}]"#
        ),
    ])
    .expect("patch wrong caBundle");
    kubectl_eventually(
        cp,
        &["-n", &ns, "create", "configmap", "untrusted"],
        Err("x509"),
    )
    .await;
    // ensure_certificate puts it right.
    ensure_certificate(&client, &cfg).await.expect("ensure");
    kubectl_eventually(
        cp,
        &["-n", &ns, "create", "configmap", "trusted-again"],
        Ok(()),
    )
    .await;

    server.shutdown().await;
}
