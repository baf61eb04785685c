use super::*;
use crate::app::locked::{LockedComponent, LockedComponentSource, LockedTrigger, Variable};

fn app(settings: Option<&str>, triggers: &[(&str, Value)]) -> LockedApp {
    let mut app = LockedApp::default();
    if let Some(a) = settings {
        app.metadata.insert(
            "triggers".into(),
            serde_json::json!({ "redis": { "address": a } }),
        );
    }
    for (id, config) in triggers {
        app.triggers.push(LockedTrigger {
            id: id.to_string(),
            trigger_type: "redis".into(),
            trigger_config: config.clone(),
        });
    }
    app.components.push(LockedComponent {
        id: "c".into(),
        metadata: Default::default(),
        source: LockedComponentSource {
            content_type: "application/wasm".into(),
            content: Default::default(),
            precompiled: false,
        },
        env: Default::default(),
        files: vec![],
        config: Default::default(),
        dependencies: Default::default(),
    });
    app
}

fn resolver(app: &mut LockedApp, vars: &[(&str, &str)]) -> Resolver {
    for (name, value) in vars {
        app.variables.insert(
            name.to_string(),
            Variable {
                default: Some(value.to_string()),
                secret: false,
            },
        );
    }
    Resolver::new(app, vec![], Default::default()).unwrap()
}

#[test]
fn trigger_address_overrides_the_app_default_and_channels_group_by_server() {
    let mut app = app(
        Some("redis://{{ host }}:6379"),
        &[
            (
                "a",
                serde_json::json!({"component": "c", "channel": "{{ ch }}"}),
            ),
            (
                "b",
                serde_json::json!({"component": "d", "channel": "orders"}),
            ),
            (
                "x",
                serde_json::json!({"component": "c", "channel": "other",
                "address": "rediss://:pw@cache.example:6380/1"}),
            ),
        ],
    );
    let vars = resolver(&mut app, &[("host", "127.0.0.1"), ("ch", "orders")]);
    let configs = RedisTriggerConfig::from_app(&app).unwrap();
    assert_eq!(configs[0].address, "redis://{{ host }}:6379");
    let plan = plan(&configs, &vars).unwrap();
    assert_eq!(plan.len(), 2);
    assert_eq!(plan[0].address, "redis://127.0.0.1:6379");
    assert_eq!(plan[0].channels["orders"], vec!["c", "d"]);
    assert_eq!(plan[1].address, "rediss://:pw@cache.example:6380/1");
    assert_eq!(plan[1].channels["other"], vec!["c"]);
}

#[test]
fn v1_trigger_metadata_supplies_the_address() {
    let mut app = app(
        None,
        &[("t", serde_json::json!({"component": "c", "channel": "m"}))],
    );
    app.metadata.insert(
        "trigger".into(),
        serde_json::json!({"type": "redis", "address": "redis://localhost"}),
    );
    let configs = RedisTriggerConfig::from_app(&app).unwrap();
    assert_eq!(configs[0].address, "redis://localhost");
}

#[test]
fn bad_config_names_the_field_and_the_trigger() {
    let cases = [
        (
            None,
            serde_json::json!({"component": "c", "channel": "m"}),
            "has no `address`",
        ),
        (
            Some("redis://h"),
            serde_json::json!({"component": "c"}),
            "`channel` is missing",
        ),
        (
            Some("redis://h"),
            serde_json::json!({"channel": "m"}),
            "`component` is missing",
        ),
        (
            Some("redis://h"),
            serde_json::json!({"component": "c", "channel": 5}),
            "`channel` must be",
        ),
        (
            Some("http://h"),
            serde_json::json!({"component": "c", "channel": "m"}),
            "unsupported scheme `http`",
        ),
        (
            Some("not a url"),
            serde_json::json!({"component": "c", "channel": "m"}),
            "not a valid Redis URL",
        ),
    ];
    for (address, config, expected) in cases {
        let app = app(address, &[("trig-1", config.clone())]);
        let err = RedisTriggerConfig::from_app(&app).unwrap_err().to_string();
        assert!(err.contains(expected), "{config}: {err}");
        assert!(err.contains("trig-1"), "{err}");
    }
}

#[test]
fn rendered_address_is_checked_and_password_redacted() {
    let mut app = app(
        Some("{{ url }}"),
        &[("t", serde_json::json!({"component": "c", "channel": "m"}))],
    );
    let vars = resolver(&mut app, &[("url", "ftp://:hunter2@h")]);
    let configs = RedisTriggerConfig::from_app(&app).unwrap();
    let err = plan(&configs, &vars).unwrap_err().to_string();
    assert!(err.contains("`address`") && err.contains("ftp"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn undeclared_variable_in_channel_is_an_error() {
    let mut app = app(
        Some("redis://h"),
        &[(
            "t",
            serde_json::json!({"component": "c", "channel": "{{ nope }}"}),
        )],
    );
    let vars = resolver(&mut app, &[]);
    let configs = RedisTriggerConfig::from_app(&app).unwrap();
    let err = plan(&configs, &vars).unwrap_err().to_string();
    assert!(err.contains("`channel`") && err.contains("nope"), "{err}");
}
