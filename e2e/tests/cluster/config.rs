//! What an app is given: variables (plain and from Secrets), runtime config, Redis.

use super::*;
use spinkube_e2e::host_redis::HostRedis;

#[test]
fn variables_from_a_secret_reach_the_guest() {
    let ns = Namespace::new("vars");
    let image = push("e2e/apps/shim-probe", "shim-probe:v1");
    ns.kubectl(&[
        "create",
        "secret",
        "generic",
        "probe",
        "--from-literal=greeting=hello from a secret",
    ]);
    let app = format!(
        "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata:\n  name: probe\nspec:\n  \
         image: {image}\n  executor: containerd-shim-spin\n  replicas: 1\n  variables:\n    \
         - name: greeting\n      valueFrom:\n        secretKeyRef:\n          name: probe\n          key: greeting\n"
    );
    ns.apply(&app);
    ns.wait_ready("probe");
    let ip = service_ip(&ns, "probe", "/hello", "hello from spin");
    let (status, body) = http_get(&format!("http://{ip}/var"));
    assert_eq!((status, body.as_str()), (200, "hello from a secret"));
}

#[test]
fn a_missing_required_variable_is_the_spinapps_reason_and_event() {
    let ns = Namespace::new("novar");
    let image = push("e2e/apps/shim-probe", "shim-probe:v1");
    ns.apply(&scaffold(&["--from", &image]));
    // The runtime's own words, via the container's termination message.
    let message = eventually(
        &ns,
        "the Ready condition names the variable",
        READY_LIMIT,
        || {
            let m = ns.kubectl(&[
                "get",
                "spinapp",
                "shim-probe",
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].message}",
            ]);
            if m.contains("greeting") {
                Ok(m)
            } else {
                Err(format!("{m:?}"))
            }
        },
    );
    assert!(message.contains("required"), "{message}");
    let events = ns.kubectl(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.kind=SpinApp,type=Warning",
        "-o",
        "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}",
    ]);
    assert!(events.contains("greeting"), "events: {events}");
}

/// A Redis on the host, reached from the namespace's pods as Service `redis`.
fn host_redis(ns: &Namespace) -> HostRedis {
    let redis = HostRedis::start(cluster().node_ip()).unwrap_or_else(|e| panic!("{e:#}"));
    ns.apply(&redis.service_manifest("redis"));
    redis
}

#[test]
fn a_redis_triggered_app_handles_every_message_published() {
    let ns = Namespace::new("redis");
    let redis = host_redis(&ns);
    let image = push("e2e/apps/kv-probe", "kv-probe:v1");
    ns.apply(&kv_probe_app("kv", &image, 1, "redis://redis:6379"));
    ns.wait_ready("kv");
    // The pod is Ready when HTTP is; its Redis subscription may come a moment later.
    eventually(
        &ns,
        "the app subscribes to `messages` on the host's Redis",
        Duration::from_secs(60),
        || match redis.subscribers("messages").unwrap() {
            1 => Ok(()),
            n => Err(format!("{n} subscribers")),
        },
    );
    let sent: Vec<String> = (0..50).map(|i| format!("message:m{i:02}")).collect();
    for key in &sent {
        let delivered = redis.publish("messages", &key["message:".len()..]).unwrap();
        assert_eq!(delivered, 1, "{key}: the app's subscription went away");
    }
    let ip = &pod_ips(&ns, "kv")[0];
    let mut want = sent.clone();
    want.sort();
    let url = format!("http://{ip}/keys");
    eventually(
        &ns,
        "every message is stored",
        Duration::from_secs(60),
        || match try_http_get(&url) {
            Ok((200, body))
                if body
                    .lines()
                    .filter(|k| k.starts_with("message:"))
                    .eq(want.iter().map(String::as_str)) =>
            {
                Ok(())
            }
            other => Err(format!("GET {url}: {other:?}")),
        },
    );
}

#[test]
fn the_runtime_config_puts_key_value_on_redis_shared_by_all_pods() {
    let ns = Namespace::new("kv");
    let redis = host_redis(&ns);
    let image = push("e2e/apps/kv-probe", "kv-probe:v1");
    // The full Service name here, the short one in the Redis trigger test.
    let url = format!("redis://redis.{}.svc.cluster.local:6379", ns.0);
    ns.apply(&kv_probe_app("kv", &image, 2, &url));
    ns.wait_ready("kv");
    let ips = pod_ips(&ns, "kv");
    assert_eq!(ips.len(), 2, "{ips:?}");

    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap();
    let put = client
        .put(format!("http://{}/kv/greeting", ips[0]))
        .body("written through one pod")
        .send()
        .unwrap();
    assert_eq!(put.status().as_u16(), 200, "{:?}", put.text());
    let (status, body) = http_get(&format!("http://{}/kv/greeting", ips[1]));
    assert_eq!((status, body.as_str()), (200, "written through one pod"));

    // It is Redis that holds it: the host's server has a key with that value.
    let mut conn = redis.connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*greeting*")
        .query(&mut conn)
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let value: String = redis::cmd("GET").arg(&keys[0]).query(&mut conn).unwrap();
    assert_eq!(value, "written through one pod");
}
