//! spin-operator against a real kube-apiserver + kube-controller-manager (+ kube-scheduler and a kwok
//! node, so Pods get Running and Ready): SpinKube-style samples applied with kubectl, children checked
//! field by field, rollouts, garbage collection, webhooks, status and events.

mod common;

use common::{operator, shared, shim_executor, wait_for, Kube, MAX_RETRY_DELAY, RETRY_DELAY, WAIT};
use serde_json::{json, Value};

fn setup(prefix: &str) -> (&'static spinkube_testenv::ControlPlane, String) {
    let cp = shared();
    let ns = cp.create_namespace(prefix).expect("namespace");
    cp.apply(&ns, &shim_executor("containerd-shim-spin"))
        .expect("executor");
    (cp, ns)
}

fn condition(app: &Value, type_: &str) -> Option<(String, String, String)> {
    app["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or("").into(),
                c["reason"].as_str().unwrap_or("").into(),
                c["message"].as_str().unwrap_or("").into(),
            )
        })
}

/// Waits until the SpinApp's Ready condition (status, reason, message) satisfies `want`; returns the app.
fn wait_ready_condition(
    cp: &spinkube_testenv::ControlPlane,
    ns: &str,
    app: &str,
    want: impl Fn(&(String, String, String)) -> bool,
) -> Value {
    wait_for(&format!("Ready condition of {app}"), WAIT, || {
        let a = cp.get(ns, "spinapp", app)?;
        match condition(&a, "Ready") {
            Some(c) if want(&c) => Ok(a),
            other => Err(format!("{other:?}")),
        }
    })
}

/// Waits for a Warning Event with `reason` about the object named `name` in `ns`.
fn wait_warning_event(cp: &spinkube_testenv::ControlPlane, ns: &str, name: &str, reason: &str) {
    let selector = format!("involvedObject.name={name}");
    wait_for(&format!("Warning {reason} event"), WAIT, || {
        let ev = cp.run(&[
            "-n",
            ns,
            "get",
            "events",
            "--field-selector",
            &selector,
            "-o",
            "jsonpath={range .items[*]}{.type} {.reason}{\"\\n\"}{end}",
        ])?;
        if ev.contains(&format!("Warning {reason}")) {
            Ok(())
        } else {
            Err(ev)
        }
    });
}

fn env_of(dep: &Value) -> Vec<(String, Value)> {
    dep["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| (e["name"].as_str().unwrap_or("").to_string(), e.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn shim_app_children_rollout_status_and_garbage_collection() {
    let (cp, ns) = setup("shim");
    cp.apply(&ns, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-secrets\nstringData:\n  password: s3cret\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\ndata:\n  greeting: hello\n").expect("refs");
    // The SpinKube variables sample, with a scaffold-style header.
    cp.apply(
        &ns,
        r#"apiVersion: core.spinkube.dev/v1alpha1
kind: SpinApp
metadata:
  name: hello
spec:
  image: "ghcr.io/spinkube/containerd-shim-spin/examples/spin-rust-hello:v0.13.0"
  executor: containerd-shim-spin
  replicas: 2
  variables:
    - name: greeting
      valueFrom:
        configMapKeyRef:
          name: app-config
          key: greeting
    - name: password
      valueFrom:
        secretKeyRef:
          name: app-secrets
          key: password
    - name: plain
      value: "yes"
"#,
    )
    .expect("apply SpinApp");

    let dep = wait_for("Deployment", WAIT, || cp.get(&ns, "deployment", "hello"));
    assert_eq!(
        dep["metadata"]["labels"],
        json!({"core.spinkube.dev/app-name": "hello"})
    );
    let owner = &dep["metadata"]["ownerReferences"][0];
    assert_eq!(
        (owner["kind"].as_str(), owner["controller"].as_bool()),
        (Some("SpinApp"), Some(true))
    );
    assert_eq!(dep["spec"]["replicas"], 2);
    assert_eq!(
        dep["spec"]["selector"]["matchLabels"],
        json!({"core.spinkube.dev/app-name": "hello", "core.spinkube.dev/app.hello.status": "ready"})
    );
    let pod = &dep["spec"]["template"]["spec"];
    assert_eq!(pod["runtimeClassName"], "wasmtime-spin-v2");
    let c = &pod["containers"][0];
    assert_eq!(c["name"], "hello");
    assert_eq!(
        c["image"],
        "ghcr.io/spinkube/containerd-shim-spin/examples/spin-rust-hello:v0.13.0"
    );
    assert_eq!(c["command"], json!(["/"]));
    assert_eq!(
        c["ports"],
        json!([{"name": "http-app", "containerPort": 80, "protocol": "TCP"}])
    );
    let env = env_of(&dep);
    let names: Vec<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "SPIN_VARIABLE_GREETING",
            "SPIN_VARIABLE_PASSWORD",
            "SPIN_VARIABLE_PLAIN",
            "SPIN_HTTP_LISTEN_ADDR"
        ]
    );
    assert_eq!(
        env[0].1["valueFrom"],
        json!({"configMapKeyRef": {"name": "app-config", "key": "greeting"}})
    );
    assert_eq!(
        env[1].1["valueFrom"],
        json!({"secretKeyRef": {"name": "app-secrets", "key": "password"}})
    );
    assert_eq!(env[3].1["value"], "0.0.0.0:80");
    let mounts = c["volumeMounts"].as_array().expect("mounts");
    assert_eq!(
        mounts[0],
        json!({"name": "spin-runtime-config", "readOnly": true, "mountPath": "/runtime-config.toml", "subPath": "runtime-config.toml"})
    );
    assert_eq!(mounts[1]["mountPath"], "/etc/ssl/certs/ca-certificates.crt");
    let secret_name = pod["volumes"][0]["secret"]["secretName"]
        .as_str()
        .expect("secret")
        .to_string();
    let secret = cp
        .get(&ns, "secret", &secret_name)
        .expect("runtime config secret");
    assert_eq!(
        secret["metadata"]["labels"]["core.spinkube.dev/app-name"],
        "hello"
    );
    let toml = String::from_utf8(base64_decode(
        secret["data"]["runtime-config.toml"].as_str().expect("key"),
    ))
    .expect("utf8");
    assert_eq!(
        toml,
        "[[config_provider]]\nprefix = \"SPIN_VARIABLE_\"\ntype = \"env\"\n"
    );
    assert!(
        cp.exists(&ns, "secret", "spin-ca"),
        "installDefaultCACerts creates spin-ca"
    );

    let svc = cp.get(&ns, "service", "hello").expect("service");
    assert_eq!(
        svc["spec"]["selector"],
        json!({"core.spinkube.dev/app.hello.status": "ready"})
    );
    assert_eq!(svc["spec"]["ports"][0]["port"], 80);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "http-app");
    assert_eq!(svc["spec"]["type"], "ClusterIP");
    // Every child is labelled with the app and owned (controller, blockOwnerDeletion) by it.
    let app_uid = cp.get(&ns, "spinapp", "hello").expect("app")["metadata"]["uid"].clone();
    let owned_by_app = json!([{"apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinApp",
        "name": "hello", "uid": app_uid, "controller": true, "blockOwnerDeletion": true}]);
    for (what, obj) in [("Deployment", &dep), ("Service", &svc), ("Secret", &secret)] {
        assert_eq!(obj["metadata"]["ownerReferences"], owned_by_app, "{what}");
        assert_eq!(
            obj["metadata"]["labels"]["core.spinkube.dev/app-name"], "hello",
            "{what}"
        );
    }
    assert_eq!(
        dep["spec"]["template"]["metadata"]["labels"],
        json!({"core.spinkube.dev/app-name": "hello", "core.spinkube.dev/app.hello.status": "ready"})
    );
    let ca_volume = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == mounts[1]["name"])
        .expect("the CA mount's volume");
    assert_eq!(ca_volume["secret"]["secretName"], "spin-ca");

    // The controller manager makes ReplicaSets and Pods; kwok makes them Ready; the status follows.
    let app = wait_for("SpinApp Ready", WAIT, || {
        let app = cp.get(&ns, "spinapp", "hello")?;
        match condition(&app, "Ready") {
            Some((s, _, _)) if s == "True" => Ok(app),
            other => Err(format!("{other:?} {}", app["status"])),
        }
    });
    assert_eq!(app["status"]["readyReplicas"], 2);
    assert_eq!(app["status"]["activeScheduler"], "containerd-shim-spin");
    assert_eq!(app["status"]["deploymentName"], "hello");
    assert_eq!(app["status"]["serviceName"], "hello");
    assert_eq!(
        condition(&app, "Available").map(|c| c.0),
        Some("True".into())
    );
    assert!(condition(&app, "Progressing").is_some());
    // One field manager for everything the operator writes, status included.
    let full: Value = serde_json::from_str(
        &cp.run(&[
            "-n",
            &ns,
            "get",
            "spinapp",
            "hello",
            "-o",
            "json",
            "--show-managed-fields",
        ])
        .expect("get with managedFields"),
    )
    .expect("json");
    let status_managers: Vec<&Value> = full["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .filter(|f| f["subresource"] == "status")
        .map(|f| &f["manager"])
        .collect();
    assert_eq!(
        status_managers,
        [&json!("spin-operator")],
        "{}",
        app["metadata"]
    );
    let pods = cp
        .run(&[
            "-n",
            &ns,
            "get",
            "pods",
            "-l",
            "core.spinkube.dev/app-name=hello",
            "-o",
            "name",
        ])
        .expect("pods");
    assert_eq!(pods.lines().count(), 2, "{pods}");
    let columns = cp
        .run(&["-n", &ns, "get", "spinapp", "hello", "-o", "wide"])
        .expect("get wide");
    let header: Vec<&str> = columns
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "DESIRED",
            "EXECUTOR",
            "DEPLOYMENT",
            "SERVICE"
        ]
    );
    assert!(
        columns
            .lines()
            .nth(1)
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            == ["hello", "2", "2", "containerd-shim-spin", "hello", "hello"],
        "{columns}"
    );

    // An update rolls out: a second ReplicaSet with the new image.
    cp.run(&["-n", &ns, "patch", "spinapp", "hello", "--type=merge", "-p", r#"{"spec":{"image":"ghcr.io/spinkube/containerd-shim-spin/examples/spin-rust-hello:v0.14.0"}}"#]).expect("patch");
    wait_for("rollout to the new image", WAIT, || {
        let rs = cp.run(&["-n", &ns, "get", "replicasets", "-l", "core.spinkube.dev/app-name=hello", "-o", "jsonpath={range .items[*]}{.spec.template.spec.containers[0].image} {.status.readyReplicas}{\"\\n\"}{end}"])?;
        if rs.lines().any(|l| {
            l == "ghcr.io/spinkube/containerd-shim-spin/examples/spin-rust-hello:v0.14.0 2"
        }) {
            Ok(())
        } else {
            Err(rs)
        }
    });
    // `kubectl scale` works through the scale subresource.
    cp.run(&["-n", &ns, "scale", "spinapp", "hello", "--replicas=3"])
        .expect("scale");
    wait_for("Deployment scaled to 3", WAIT, || {
        let d = cp.get(&ns, "deployment", "hello")?;
        if d["spec"]["replicas"] == 3 {
            Ok(())
        } else {
            Err(d["spec"]["replicas"].to_string())
        }
    });

    cp.run(&["-n", &ns, "delete", "spinapp", "hello", "--wait=true"])
        .expect("delete");
    wait_for(
        "children garbage-collected",
        Duration::from_secs(90),
        || {
            let left: Vec<&str> = [
                ("deployment", "hello"),
                ("service", "hello"),
                ("secret", secret_name.as_str()),
            ]
            .into_iter()
            .filter(|(k, n)| cp.exists(&ns, k, n))
            .map(|(k, _)| k)
            .collect();
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("{left:?}"))
            }
        },
    );
}

use std::time::Duration;

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}

#[test]
fn spintainer_executor_runs_spin_in_a_container() {
    let (cp, ns) = setup("spintainer");
    cp.apply(&ns, "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinAppExecutor\nmetadata:\n  name: spintainer\nspec:\n  createDeployment: true\n  deploymentConfig:\n    spinImage: ghcr.io/fermyon/spin:v3.0.0\n").expect("executor");
    cp.apply(&ns, "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata:\n  name: spintainer-app\nspec:\n  image: ghcr.io/spinkube/spin-operator/cpu-load-gen:20240311-163328-g1121986\n  executor: spintainer\n  replicas: 1\n").expect("app");
    let dep = wait_for("Deployment", WAIT, || {
        cp.get(&ns, "deployment", "spintainer-app")
    });
    let c = &dep["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "ghcr.io/fermyon/spin:v3.0.0");
    assert_eq!(
        c["args"],
        json!([
            "up",
            "--listen",
            "0.0.0.0:80",
            "-f",
            "ghcr.io/spinkube/spin-operator/cpu-load-gen:20240311-163328-g1121986",
            "--runtime-config-file",
            "/runtime-config.toml"
        ])
    );
    assert!(dep["spec"]["template"]["spec"]
        .get("runtimeClassName")
        .is_none());
    // The file the args name is mounted from the app's runtime-config Secret.
    let mount = c["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .find(|m| m["mountPath"] == "/runtime-config.toml")
        .expect("runtime config mount")
        .clone();
    let volume = dep["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("its volume")
        .clone();
    let secret_name = volume["secret"]["secretName"]
        .as_str()
        .expect("secret volume");
    let secret = cp
        .get(&ns, "secret", secret_name)
        .expect("runtime config Secret");
    assert!(
        secret["data"]["runtime-config.toml"].is_string(),
        "{secret}"
    );
    // kwok runs the pod; the app reports Ready with the executor as its scheduler.
    let app = wait_for("SpinApp Ready", WAIT, || {
        let a = cp.get(&ns, "spinapp", "spintainer-app")?;
        match condition(&a, "Ready") {
            Some((s, _, _)) if s == "True" => Ok(a),
            other => Err(format!("{other:?}")),
        }
    });
    assert_eq!(app["status"]["activeScheduler"], "spintainer");
    assert_eq!(app["status"]["readyReplicas"], 1);
}

#[test]
fn redis_key_value_runtime_config_from_secret_rolls_on_change() {
    let (cp, ns) = setup("redis-kv");
    cp.apply(&ns, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: redis-creds\nstringData:\n  url: redis://redis.example:6379\n").expect("secret");
    cp.apply(
        &ns,
        r#"apiVersion: core.spinkube.dev/v1alpha1
kind: SpinApp
metadata:
  name: kv-app
spec:
  image: "ghcr.io/spinkube/spin-operator/key-value:20240312-180145-g8ed4f8b"
  replicas: 1
  executor: containerd-shim-spin
  runtimeConfig:
    keyValueStores:
      - name: "default"
        type: "redis"
        options:
          - name: "url"
            valueFrom:
              secretKeyRef:
                name: "redis-creds"
                key: "url"
"#,
    )
    .expect("app");
    let secret_of = |dep: &Value| {
        dep["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let dep = wait_for("Deployment", WAIT, || cp.get(&ns, "deployment", "kv-app"));
    let first = secret_of(&dep);
    let toml = String::from_utf8(base64_decode(
        cp.get(&ns, "secret", &first).expect("secret")["data"]["runtime-config.toml"]
            .as_str()
            .expect("key"),
    ))
    .expect("utf8");
    assert!(
        toml.contains(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://redis.example:6379\"\n"
        ),
        "{toml}"
    );
    wait_for("ready", WAIT, || {
        let a = cp.get(&ns, "spinapp", "kv-app")?;
        if a["status"]["readyReplicas"] == 1 {
            Ok(())
        } else {
            Err(a["status"].to_string())
        }
    });

    // A new URL in the referenced Secret: new runtime config, the Deployment rolls, the old Secret goes.
    cp.run(&[
        "-n",
        &ns,
        "patch",
        "secret",
        "redis-creds",
        "--type=merge",
        "-p",
        r#"{"stringData":{"url":"redis://other:6379"}}"#,
    ])
    .expect("patch");
    let second = wait_for("Deployment to mount the new runtime config", WAIT, || {
        let s = secret_of(&cp.get(&ns, "deployment", "kv-app")?);
        if s != first {
            Ok(s)
        } else {
            Err(s)
        }
    });
    let toml = String::from_utf8(base64_decode(
        cp.get(&ns, "secret", &second).expect("secret")["data"]["runtime-config.toml"]
            .as_str()
            .expect("key"),
    ))
    .expect("utf8");
    assert!(toml.contains("redis://other:6379"), "{toml}");
    wait_for(
        "superseded runtime config deleted after the rollout",
        WAIT,
        || {
            if cp.exists(&ns, "secret", &first) {
                Err(format!("{first} still there"))
            } else {
                Ok(())
            }
        },
    );
}

#[test]
fn autoscaling_selective_components_and_private_image() {
    let (cp, ns) = setup("features");
    cp.apply(
        &ns,
        r#"apiVersion: core.spinkube.dev/v1alpha1
kind: SpinApp
metadata:
  name: hpa-app
spec:
  image: "ghcr.io/spinkube/spin-operator/cpu-load-gen:20240311-163328-g1121986"
  executor: containerd-shim-spin
  enableAutoscaling: true
  resources:
    limits:
      cpu: 500m
      memory: 500Mi
    requests:
      cpu: 100m
      memory: 400Mi
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: hpa-app-autoscaler
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: hpa-app
  minReplicas: 1
  maxReplicas: 10
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 50
---
apiVersion: core.spinkube.dev/v1alpha1
kind: SpinApp
metadata:
  name: selective
spec:
  image: "ghcr.io/spinkube/spin-operator/salutations:20241105-223428-g4da3171"
  executor: containerd-shim-spin
  replicas: 1
  components:
    - salutations
    - goodbye
---
apiVersion: core.spinkube.dev/v1alpha1
kind: SpinApp
metadata:
  name: private
spec:
  image: "ghcr.io/my-org/private-app:v1"
  executor: containerd-shim-spin
  replicas: 1
  imagePullSecrets:
    - name: regcred
"#,
    )
    .expect("apply");
    let hpa = wait_for("hpa-app Deployment", WAIT, || {
        cp.get(&ns, "deployment", "hpa-app")
    });
    assert_eq!(
        hpa["spec"]["template"]["spec"]["containers"][0]["resources"],
        json!({"limits": {"cpu": "500m", "memory": "500Mi"}, "requests": {"cpu": "100m", "memory": "400Mi"}})
    );
    // The operator does not own replicas: what an autoscaler sets stays.
    cp.run(&["-n", &ns, "scale", "deployment", "hpa-app", "--replicas=4"])
        .expect("scale");
    cp.run(&["-n", &ns, "annotate", "spinapp", "hpa-app", "poke=1"])
        .expect("poke a reconcile");
    wait_for("a reconcile after the scale", WAIT, || {
        let d = cp.get(&ns, "deployment", "hpa-app")?;
        if d["status"]["replicas"] == 4 {
            Ok(())
        } else {
            Err(d["status"].to_string())
        }
    });
    let managers = cp
        .run(&[
            "-n",
            &ns,
            "get",
            "deployment",
            "hpa-app",
            "--show-managed-fields",
            "-o",
            "json",
        ])
        .expect("managed fields");
    let managed: Value = serde_json::from_str(&managers).expect("json");
    let ours = managed["metadata"]["managedFields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|m| m["manager"] == "spin-operator")
        .expect("operator manages fields")
        .clone();
    assert!(
        ours["fieldsV1"]["f:spec"].get("f:replicas").is_none(),
        "operator must not own replicas with autoscaling: {ours}"
    );
    assert_eq!(
        cp.get(&ns, "deployment", "hpa-app").expect("d")["spec"]["replicas"],
        4
    );

    let sel = wait_for("selective Deployment", WAIT, || {
        cp.get(&ns, "deployment", "selective")
    });
    let env = env_of(&sel);
    let retain = env
        .iter()
        .find(|(n, _)| n == "SPIN_COMPONENTS_TO_RETAIN")
        .expect("env");
    assert_eq!(retain.1["value"], "salutations,goodbye");

    let private = wait_for("private Deployment", WAIT, || {
        cp.get(&ns, "deployment", "private")
    });
    assert_eq!(
        private["spec"]["template"]["spec"]["imagePullSecrets"],
        json!([{"name": "regcred"}])
    );
}

#[test]
fn webhooks_default_and_reject_with_clear_messages() {
    let (cp, ns) = setup("webhooks");
    cp.apply(&ns, &shim_executor("b-executor"))
        .expect("second executor");
    // No executor: the alphabetically first one in the namespace is chosen.
    cp.apply(&ns, "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata:\n  name: defaulted\nspec:\n  image: ghcr.io/x/app:v1\n  replicas: 1\n").expect("apply");
    assert_eq!(
        cp.get(&ns, "spinapp", "defaulted").expect("app")["spec"]["executor"],
        "b-executor"
    );

    for (yaml, want) in [
        ("  executor: nope\n  replicas: 1\n", "SpinAppExecutor \"nope\" does not exist in namespace"),
        ("  executor: containerd-shim-spin\n  replicas: 2\n  enableAutoscaling: true\n", "replicas (2) cannot be set when spec.enableAutoscaling is true"),
        ("  executor: containerd-shim-spin\n  invocationLimits:\n    memory: 1Gi\n  resources:\n    limits:\n      memory: 128Mi\n", "exceeds spec.resources.limits.memory (128Mi)"),
        ("  executor: containerd-shim-spin\n  variables:\n  - name: Bad-Name\n    value: x\n", "Spin variable names use lowercase letters"),
    ] {
        let err = cp.apply(&ns, &format!("apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata:\n  name: bad\nspec:\n  image: ghcr.io/x/app:v1\n{yaml}"))
            .expect_err("must be rejected");
        assert!(err.contains("denied the request") && err.contains(want), "{err}");
    }
    // An executor with both ways to run, and deleting an executor in use.
    let err = cp.apply(&ns, "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinAppExecutor\nmetadata:\n  name: both\nspec:\n  createDeployment: true\n  deploymentConfig:\n    runtimeClassName: a\n    spinImage: b\n").expect_err("invalid executor");
    assert!(err.contains("mutually exclusive"), "{err}");
    let err = cp
        .run(&["-n", &ns, "delete", "spinappexecutor", "b-executor"])
        .expect_err("in use");
    assert!(err.contains("is used by SpinApps defaulted"), "{err}");
    let finalizers = || {
        cp.get(&ns, "spinappexecutor", "b-executor")
            .expect("executor")["metadata"]["finalizers"]
            .clone()
    };
    wait_for(
        "the executor in use is guarded",
        WAIT,
        || match finalizers() {
            f if f == json!(["core.spinkube.dev/finalizer"]) => Ok(()),
            f => Err(f.to_string()),
        },
    );
    cp.run(&["-n", &ns, "delete", "spinapp", "defaulted"])
        .expect("delete app");
    // Unused again: the operator lets go of it before anyone deletes it.
    wait_for(
        "finalizer removed from the unused executor",
        WAIT,
        || match finalizers() {
            f if f.is_null() => Ok(()),
            f => Err(f.to_string()),
        },
    );
    cp.run(&[
        "-n",
        &ns,
        "delete",
        "spinappexecutor",
        "b-executor",
        "--timeout=60s",
    ])
    .expect("unused executor deletes");
}

#[test]
fn missing_secret_is_a_condition_and_an_event_until_fixed() {
    let (cp, ns) = setup("missing");
    cp.apply(
        &ns,
        r#"apiVersion: core.spinkube.dev/v1alpha1
kind: SpinApp
metadata:
  name: waits
spec:
  image: ghcr.io/x/app:v1
  executor: containerd-shim-spin
  replicas: 1
  runtimeConfig:
    keyValueStores:
      - name: default
        type: redis
        options:
          - name: url
            valueFrom:
              secretKeyRef:
                name: later
                key: url
"#,
    )
    .expect("apply");
    let app = wait_ready_condition(cp, &ns, "waits", |c| c.1 == "MissingSecret");
    let (_, reason, message) = condition(&app, "Ready").unwrap();
    assert_eq!(reason, "MissingSecret");
    assert!(message.contains("Secret \"later\" (referenced by spec.runtimeConfig.keyValueStores[0].options[0]) does not exist"), "{message}");
    wait_warning_event(cp, &ns, "waits", "MissingSecret");
    assert!(!cp.exists(&ns, "deployment", "waits"), "nothing half-made");

    cp.apply(&ns, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: later\nstringData:\n  url: redis://r:6379\n").expect("secret");
    // Ready after the Secret appears.
    wait_ready_condition(cp, &ns, "waits", |c| c.0 == "True");
}

#[test]
fn metrics_and_health_endpoints() {
    let cp = shared();
    let ns = cp.create_namespace("metrics").expect("ns");
    cp.apply(&ns, &shim_executor("containerd-shim-spin"))
        .expect("executor");
    cp.apply(&ns, "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata:\n  name: m\nspec:\n  image: ghcr.io/x/app:v1\n  executor: containerd-shim-spin\n  replicas: 1\n").expect("app");
    wait_for("Deployment", WAIT, || cp.get(&ns, "deployment", "m"));
    let op = common::operator().lock().expect("operator");
    let metrics = op.metrics();
    for want in [
        "spin_operator_reconciles_total{controller=\"spinapp\"}",
        "spin_operator_reconcile_duration_seconds_bucket",
        "spin_operator_reconcile_in_flight",
        "spin_operator_watched_objects",
        "spin_operator_reconcile_pending",
        "spin_operator_api_requests_total{verb=\"patch\"}",
        "spin_operator_api_requests_total{verb=\"watch\"}",
    ] {
        assert!(metrics.contains(want), "missing {want} in\n{metrics}");
    }
    assert_eq!(op.http(op.health_port, "/healthz").expect("healthz").0, 200);
    assert_eq!(op.http(op.health_port, "/readyz").expect("readyz").0, 200);
}

/// KEDA's `ScaledObject` kind, so `keda.yaml` applies as in a cluster with KEDA (its controller is not
/// needed: only the SpinApp side of the sample is under test).
const SCALED_OBJECT_CRD: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: scaledobjects.keda.sh\nspec:\n  group: keda.sh\n  scope: Namespaced\n  names:\n    kind: ScaledObject\n    plural: scaledobjects\n    singular: scaledobject\n  versions:\n  - name: v1alpha1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n";

/// Every file of `config/samples` applied as a user would (`kubectl apply -f FILE`, the executor
/// first) to the real API server: the CRD schema and the webhooks accept all of them, and every
/// SpinApp is reconciled without a problem (its Ready condition names no error).
#[test]
fn every_config_sample_applies_and_reconciles() {
    let (cp, ns) = setup("samples");
    cp.apply("", SCALED_OBJECT_CRD).expect("ScaledObject CRD");
    cp.run(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/scaledobjects.keda.sh",
    ])
    .expect("ScaledObject CRD established");
    let dir = common::repo_root().join("config/samples");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .expect("config/samples")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    // The executor and RuntimeClass first, as config/README.md says.
    files.sort_by_key(|p| {
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        (!name.starts_with("spin-"), name)
    });
    assert!(files.len() >= 15, "{files:?}");
    for file in &files {
        cp.run(&["-n", &ns, "apply", "-f", file.to_str().expect("utf-8 path")])
            .unwrap_or_else(|e| panic!("kubectl apply -f {}: {e}", file.display()));
    }
    let apps = cp
        .run(&["-n", &ns, "get", "spinapps", "-o", "name"])
        .expect("list");
    let apps: Vec<&str> = apps.lines().collect();
    assert!(apps.len() >= 15, "{apps:?}");
    // Reasons that say "working on it" or "fine"; anything else is a problem the operator reports.
    let fine = ["ReplicasReady", "ReplicasNotReady", "ExternallyManaged"];
    let managed = wait_for(
        "every sample SpinApp reconciled without a problem",
        WAIT,
        || {
            let (mut bad, mut managed) = (Vec::new(), Vec::new());
            for app in &apps {
                let name = app.trim_start_matches("spinapp.core.spinkube.dev/");
                let a = cp.get(&ns, "spinapp", name)?;
                match condition(&a, "Ready") {
                    Some((_, reason, _)) if fine.contains(&reason.as_str()) => {
                        if reason != "ExternallyManaged" {
                            managed.push(name.to_string());
                        }
                    }
                    other => bad.push(format!("{name}: {other:?}")),
                }
            }
            if bad.is_empty() {
                Ok(managed)
            } else {
                Err(bad.join("\n"))
            }
        },
    );
    // Apps whose executor makes a Deployment have one, and a Service.
    assert!(!managed.is_empty());
    for name in &managed {
        assert!(cp.exists(&ns, "deployment", name), "Deployment {name}");
        assert!(cp.exists(&ns, "service", name), "Service {name}");
    }

    // What some samples are about shows in their Deployment.
    let pod_of = |app: &str| {
        cp.get(&ns, "deployment", app).expect("deployment")["spec"]["template"]["spec"].clone()
    };
    let secret_volumes = |pod: &Value| -> Vec<String> {
        pod["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["secret"]["secretName"].as_str().map(str::to_string))
            .collect()
    };
    // otel.yaml: the executor's OTEL settings become the container's env.
    let otel = pod_of("otel-spinapp");
    let env = otel["containers"][0]["env"].as_array().expect("env");
    assert!(
        env.iter()
            .any(|e| e["name"] == "OTEL_EXPORTER_OTLP_ENDPOINT"
                && e["value"] == "http://otel-collector.observability.svc.cluster.local:4318"),
        "{env:?}"
    );
    // custom-ca.yaml: the executor's caCertSecret is what the pods trust.
    let custom_ca = pod_of("custom-ca-spinapp");
    assert!(
        secret_volumes(&custom_ca).contains(&"custom-ca-bundle".to_string()),
        "{}",
        custom_ca["volumes"]
    );
    // runtime-config-secret.yaml: loadFromSecret mounts the user's Secret as is.
    let loaded = pod_of("runtime-config-secret-spinapp");
    assert!(
        secret_volumes(&loaded)
            .contains(&"runtime-config-secret-spinapp-runtime-config".to_string()),
        "{}",
        loaded["volumes"]
    );
}

/// A pod that cannot start (here: the runtime exits because a variable has no value, then the kubelet
/// backs off) makes the SpinApp say so in its Ready condition and a Warning Event, in the pod's own
/// words; once the pod recovers, the app is Ready again. kwok runs no containers, so the test writes
/// the pod status a kubelet would write.
#[test]
fn pods_that_cannot_start_are_reported_on_the_spinapp() {
    let (cp, ns) = setup("crashing");
    cp.apply(&ns, "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata:\n  name: crashes\nspec:\n  image: ghcr.io/x/app:v1\n  executor: containerd-shim-spin\n  replicas: 1\n").expect("app");
    let ready = |cp: &spinkube_testenv::ControlPlane| {
        let a = cp.get(&ns, "spinapp", "crashes")?;
        condition(&a, "Ready").ok_or_else(|| a["status"].to_string())
    };
    wait_for("Ready", WAIT, || match ready(cp)? {
        c if c.0 == "True" => Ok(()),
        c => Err(format!("{c:?}")),
    });
    let pod = cp
        .run(&[
            "-n",
            &ns,
            "get",
            "pods",
            "-l",
            "core.spinkube.dev/app-name=crashes",
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ])
        .expect("pod");
    let crash = json!({"status": {
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Initialized", "status": "True"},
            {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady"},
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
        "containerStatuses": [{"name": "crashes", "image": "ghcr.io/x/app:v1", "imageID": "", "ready": false,
            "restartCount": 4,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 1m20s restarting failed container"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                "message": "Error: variable \"api_key\" has no value: set SPIN_VARIABLE_API_KEY"}}}]}});
    cp.run(&[
        "-n",
        &ns,
        "patch",
        "pod",
        &pod,
        "--subresource=status",
        "--type=merge",
        "-p",
        &crash.to_string(),
    ])
    .expect("pod status");
    let (status, _, message) = wait_for("PodsNotStarting", WAIT, || match ready(cp)? {
        c if c.1 == "PodsNotStarting" => Ok(c),
        c => Err(format!("{c:?}")),
    });
    assert_eq!(status, "False");
    assert_eq!(
        message,
        format!("0/1 replicas ready: pod {pod}: container crashes: CrashLoopBackOff: back-off 1m20s restarting failed container; last exit code 1: Error: variable \"api_key\" has no value: set SPIN_VARIABLE_API_KEY")
    );
    wait_warning_event(cp, &ns, "crashes", "PodsNotStarting");

    // The kubelet's next report: running and ready.
    let healthy = json!({"status": {
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Initialized", "status": "True"},
            {"type": "ContainersReady", "status": "True"},
            {"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "crashes", "image": "ghcr.io/x/app:v1", "imageID": "", "ready": true,
            "started": true, "restartCount": 5, "state": {"running": {}}}]}});
    cp.run(&[
        "-n",
        &ns,
        "patch",
        "pod",
        &pod,
        "--subresource=status",
        "--type=merge",
        "-p",
        &healthy.to_string(),
    ])
    .expect("pod status");
    wait_for("Ready again", WAIT, || match ready(cp)? {
        c if c.0 == "True" => Ok(()),
        c => Err(format!("{c:?}")),
    });
}

/// The shared operator's failed reconciles of one SpinApp: when each was logged and the retry
/// delay it chose.
fn retries_of(ns: &str, app: &str) -> Vec<(chrono::DateTime<chrono::FixedOffset>, Duration)> {
    let log = operator().lock().unwrap().log_text();
    log.lines()
        .filter(|l| {
            l.contains("reconcile failed; retrying")
                && l.contains(&format!("spinapp={app} "))
                && l.contains(&format!("namespace=Some(\"{ns}\")"))
        })
        .map(|l| {
            let at = l.split_whitespace().next().unwrap_or_default();
            let at =
                chrono::DateTime::parse_from_rfc3339(at).unwrap_or_else(|e| panic!("{e}: {l}"));
            let delay = l
                .split("retry_in=")
                .nth(1)
                .and_then(|r| r.split_whitespace().next());
            (
                at,
                parse_debug_duration(delay.unwrap_or_else(|| panic!("no retry_in: {l}"))),
            )
        })
        .collect()
}

/// A `Duration`'s Debug form: `250ms`, `2s`, `1.5s`.
fn parse_debug_duration(s: &str) -> Duration {
    if let Some(ms) = s.strip_suffix("ms") {
        Duration::from_secs_f64(ms.parse::<f64>().unwrap() / 1000.0)
    } else if let Some(secs) = s.strip_suffix('s') {
        Duration::from_secs_f64(secs.parse().unwrap())
    } else {
        panic!("not a duration: {s}")
    }
}

/// A child the API server refuses for good (here a namespace ResourceQuota allowing no Services) makes
/// the SpinApp say which object and why in its Ready condition and a Warning Event, rather than only
/// the operator's log; retries back off exponentially to the cap; once the quota is lifted, the
/// next retry creates the Service and the app is Ready.
#[test]
fn refused_children_are_reported_on_the_spinapp_until_accepted() {
    let (cp, ns) = setup("quota");
    cp.apply(
        &ns,
        "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: no-services\nspec:\n  hard:\n    services: \"0\"\n",
    )
    .expect("quota");
    // Until kube-controller-manager has counted usage, admission refuses with another message.
    wait_for("quota status", WAIT, || {
        let q = cp.get(&ns, "resourcequota", "no-services")?;
        match q["status"]["hard"]["services"].as_str() {
            Some("0") => Ok(()),
            _ => Err(q["status"].to_string()),
        }
    });
    cp.apply(&ns, "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata:\n  name: refused\nspec:\n  image: ghcr.io/x/app:v1\n  executor: containerd-shim-spin\n  replicas: 1\n").expect("app");
    let app = wait_ready_condition(cp, &ns, "refused", |c| c.1 == "ChildRefused");
    let (status, _, message) = condition(&app, "Ready").unwrap();
    assert_eq!(status, "False");
    assert!(
        message.starts_with("the API server refused Service \"refused\" (403 Forbidden): services \"refused\" is forbidden: exceeded quota: no-services"),
        "{message}"
    );
    assert!(
        message.ends_with("the operator retries until it is accepted"),
        "{message}"
    );
    // What was accepted before the refusal is still shown.
    assert_eq!(
        app["status"]["deploymentName"], "refused",
        "{}",
        app["status"]
    );
    assert!(cp.exists(&ns, "deployment", "refused"));
    wait_warning_event(cp, &ns, "refused", "ChildRefused");

    // Retries back off: each delay doubles up to the cap, and at the cap they are that far apart.
    let retries = wait_for("retries at the capped delay", WAIT, || {
        let retries = retries_of(&ns, "refused");
        let capped = retries
            .iter()
            .rev()
            .take(2)
            .filter(|(_, d)| *d == MAX_RETRY_DELAY)
            .count();
        match capped {
            2 => Ok(retries),
            _ => Err(format!("{retries:?}")),
        }
    });
    let delays: Vec<Duration> = retries.iter().map(|(_, d)| *d).collect();
    assert_eq!(delays[0], RETRY_DELAY, "{delays:?}");
    assert!(
        delays
            .windows(2)
            .all(|w| w[1] == (w[0] * 2).min(MAX_RETRY_DELAY)),
        "{delays:?}"
    );
    let last_gap = retries[retries.len() - 1].0 - retries[retries.len() - 2].0;
    assert!(
        last_gap.to_std().unwrap() >= MAX_RETRY_DELAY * 3 / 4,
        "capped retries {last_gap} apart: {retries:?}"
    );

    cp.run(&["-n", &ns, "delete", "resourcequota", "no-services"])
        .expect("lift quota");
    // Ready once the Service is accepted: at the next retry, at most the cap away.
    wait_for(
        "Ready after the quota is lifted",
        MAX_RETRY_DELAY + WAIT / 6,
        || {
            let app = cp.get(&ns, "spinapp", "refused")?;
            match condition(&app, "Ready") {
                Some((status, ..)) if status == "True" => Ok(()),
                c => Err(format!("{c:?}")),
            }
        },
    );
    assert!(cp.exists(&ns, "service", "refused"));
}
