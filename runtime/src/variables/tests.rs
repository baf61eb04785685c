use std::collections::BTreeMap;
use std::path::Path;

use super::template::{self, Part};
use super::*;
use crate::app::LockedApp;
use crate::runtime_config::VariablesProviderConfig;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `[variables]` as (name, default, secret) and components as (id, config pairs).
fn app(vars: &[(&str, Option<&str>, bool)], components: &[(&str, &[(&str, &str)])]) -> LockedApp {
    let mut app = LockedApp::default();
    for (name, default, secret) in vars {
        let var = crate::app::locked::Variable {
            default: default.map(String::from),
            secret: *secret,
        };
        app.variables.insert(name.to_string(), var);
    }
    for (id, config) in components {
        let json = format!(r#"{{"id":"{id}","source":{{"content_type":"application/wasm"}}}}"#);
        let mut c: crate::app::locked::LockedComponent = serde_json::from_str(&json).unwrap();
        c.config = map(config);
        app.components.push(c);
    }
    app
}

fn spin_env(dotenv: &[(&str, &str)]) -> Provider {
    Provider::Env {
        prefix: DEFAULT_ENV_PREFIX.into(),
        dotenv: map(dotenv),
    }
}

/// A resolver reading the "process environment" from `env`.
fn resolver(
    app: &LockedApp,
    providers: Vec<Provider>,
    cli: &[(&str, &str)],
    env: &[(&str, &str)],
) -> Result<Resolver, VariablesError> {
    let env = map(env);
    let lookup = move |k: &str| Ok(env.get(k).cloned());
    Resolver::with_env(app, providers, map(cli), &lookup)
}

#[test]
fn variable_names_follow_spins_rule() {
    for good in ["a", "abc", "a1b2c3", "a_1", "a_1_b_3", "api_key"] {
        validate_name(good, "test").expect(good);
    }
    // (name, reason fragment)
    let bad = [
        ("", "empty"),
        ("aX", "'X'"),
        ("API_KEY", "did you mean `api_key`?"),
        ("1bc", "start with a lowercase letter"),
        ("_x", "start with a lowercase letter"),
        ("x.y", "'.'"),
        ("x-y", "'-'"),
        ("x_", "ends with `_`"),
        ("a__b", "`__`"),
    ];
    for (name, reason) in bad {
        let err = validate_name(name, "[variables]").unwrap_err().to_string();
        assert!(
            err.contains(reason) && err.contains("lower_snake_case"),
            "{name:?}: {err}"
        );
    }
}

#[test]
fn env_names_never_double_the_underscore() {
    let cases = [
        ("SPIN_VARIABLE", "api_key", "SPIN_VARIABLE_API_KEY"),
        ("SPIN_VARIABLE_", "api_key", "SPIN_VARIABLE_API_KEY"),
        ("MY_APP", "a1", "MY_APP_A1"),
        ("", "api_key", "API_KEY"),
    ];
    for (prefix, name, want) in cases {
        assert_eq!(env_name(prefix, name), want, "{prefix:?} {name:?}");
    }
}

#[test]
fn templates_split_into_literals_and_expressions() {
    let cases: &[(&str, &[Part])] = &[
        ("", &[]),
        ("a", &[Part::Lit("a")]),
        (
            "a-{{ expr }}-b",
            &[Part::Lit("a-"), Part::Var("expr"), Part::Lit("-b")],
        ),
        ("{{a}}{{ b }}", &[Part::Var("a"), Part::Var("b")]),
        ("{{ \tspaced  }}", &[Part::Var("spaced")]),
        ("x }} { y", &[Part::Lit("x }} { y")]),
    ];
    for (tmpl, want) in cases {
        assert_eq!(template::parse(tmpl).unwrap(), *want, "{tmpl:?}");
    }
    for (bad, reason) in [("{{ open", "never closed"), ("a {{ }} b", "empty")] {
        let err = template::parse(bad).unwrap_err();
        assert!(err.contains(reason), "{bad:?}: {err}");
    }
}

#[test]
fn docs_example_resolves_through_the_env_provider() {
    // spin.toml: [variables] api_host = { default = "api.example.com" }, api_key = { required = true }
    let app = app(
        &[
            ("api_host", Some("api.example.com"), false),
            ("api_key", None, true),
        ],
        &[(
            "c",
            &[
                ("api_base_url", "https://{{ api_host }}/v1"),
                ("api_key", "{{ api_key }}"),
            ],
        )],
    );
    let r = resolver(
        &app,
        vec![spin_env(&[])],
        &[],
        &[("SPIN_VARIABLE_API_KEY", "1234")],
    )
    .unwrap();
    r.validate().unwrap();
    assert_eq!(
        r.get_component_variable("c", "api_base_url").unwrap(),
        "https://api.example.com/v1"
    );
    assert_eq!(r.get_component_variable("c", "api_key").unwrap(), "1234");
    assert_eq!(r.get_app_variable("api_host").unwrap(), "api.example.com");
    assert_eq!(
        r.component_variable_names("c"),
        vec!["api_base_url", "api_key"]
    );
    assert!(r.component_variable_names("nope").is_empty());
    assert!(r.is_secret("api_key") && !r.is_secret("api_host") && !r.is_secret("nope"));
}

#[test]
fn priority_is_cli_then_providers_in_order_then_default() {
    let app = app(&[("v", Some("default"), false)], &[]);
    let stat = |v: &str| Provider::Static(map(&[("v", v)]));
    // (providers, --variable, process env, expected)
    type Case = (
        Vec<Provider>,
        &'static [(&'static str, &'static str)],
        &'static [(&'static str, &'static str)],
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (vec![spin_env(&[])], &[], &[], "default"),
        (
            vec![spin_env(&[])],
            &[],
            &[("SPIN_VARIABLE_V", "env")],
            "env",
        ),
        (
            vec![spin_env(&[("SPIN_VARIABLE_V", "dotenv")])],
            &[],
            &[],
            "dotenv",
        ),
        (
            vec![spin_env(&[("SPIN_VARIABLE_V", "dotenv")])],
            &[],
            &[("SPIN_VARIABLE_V", "env")],
            "env",
        ),
        (
            vec![stat("static"), spin_env(&[])],
            &[],
            &[("SPIN_VARIABLE_V", "env")],
            "static",
        ),
        (
            vec![spin_env(&[]), stat("static")],
            &[],
            &[("SPIN_VARIABLE_V", "env")],
            "env",
        ),
        (vec![stat("first"), stat("second")], &[], &[], "first"),
        (
            vec![stat("static"), spin_env(&[])],
            &[("v", "cli")],
            &[("SPIN_VARIABLE_V", "env")],
            "cli",
        ),
    ];
    for (i, (providers, cli, env, want)) in cases.into_iter().enumerate() {
        let r = resolver(&app, providers, cli, env).unwrap();
        assert_eq!(r.get_app_variable("v").unwrap(), want, "case {i}");
    }
}

#[test]
fn spinkube_prefix_with_trailing_underscore_resolves() {
    let cfg = VariablesProviderConfig::Env {
        prefix: Some("SPIN_VARIABLE_".into()),
        dotenv_path: None,
    };
    let provider = Provider::from_config(&cfg, None).unwrap();
    let app = app(&[("api_key", None, false)], &[]);
    let r = resolver(
        &app,
        vec![provider.clone()],
        &[],
        &[("SPIN_VARIABLE_API_KEY", "k")],
    )
    .unwrap();
    assert_eq!(r.get_app_variable("api_key").unwrap(), "k");
    // The hint for a missing value names the real variable, not `SPIN_VARIABLE__API_KEY`.
    let err = resolver(&app, vec![provider], &[], &[])
        .unwrap()
        .validate()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("set SPIN_VARIABLE_API_KEY or") && !err.contains("__"),
        "{err}"
    );
}

#[test]
fn missing_required_variables_are_named_with_how_to_set_them() {
    let app = app(
        &[
            ("api_key", None, true),
            ("db_url", None, false),
            ("host", Some("h"), false),
        ],
        &[],
    );
    let r = resolver(&app, vec![spin_env(&[])], &[], &[]).unwrap();
    let err = r.validate().unwrap_err();
    assert!(
        matches!(&err, VariablesError::MissingRequired { names, .. } if names == &["api_key", "db_url"])
    );
    let msg = err.to_string();
    for want in [
        "`api_key`, `db_url`",
        "set SPIN_VARIABLE_API_KEY, SPIN_VARIABLE_DB_URL",
        "--variable api_key=... --variable db_url=...",
    ] {
        assert!(msg.contains(want), "{msg}\n  missing: {want}");
    }
    let one = r.get_app_variable("api_key").unwrap_err().to_string();
    assert!(
        one.contains(
            "required variable `api_key`: set SPIN_VARIABLE_API_KEY or pass --variable api_key=..."
        ),
        "{one}"
    );
    // Without an env provider only the flag is suggested.
    let r = resolver(&app, vec![], &[("db_url", "x")], &[]).unwrap();
    let msg = r.validate().unwrap_err().to_string();
    assert!(
        msg.contains("pass --variable api_key=...") && !msg.contains("SPIN_VARIABLE"),
        "{msg}"
    );
}

#[test]
fn bad_templates_and_lookups_name_component_and_key() {
    let vars = [("host", Some("h"), false)];
    // (component config, message fragments from validate())
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        (
            &[("url", "https://{{ hots }}/")],
            &[
                "component `web` variable `url`",
                "`hots` is not declared",
                "declared variables: host",
            ],
        ),
        (
            &[("url", "https://{{ host /")],
            &["component `web` variable `url`", "never closed"],
        ),
        (&[("url", "{{}}")], &["empty"]),
        (
            &[("URL", "x")],
            &["invalid variable name \"URL\"", "component `web` variables"],
        ),
    ];
    for (config, wants) in cases {
        let app = app(&vars, &[("web", config)]);
        let r = resolver(&app, vec![], &[], &[]).unwrap();
        let err = r.validate().unwrap_err().to_string();
        for want in *wants {
            assert!(err.contains(want), "{config:?}: {err}\n  missing: {want}");
        }
    }
    let app = app(&vars, &[("web", &[("url", "{{ nope }}")])]);
    let r = resolver(&app, vec![], &[], &[]).unwrap();
    // (component, key, message fragment)
    let lookups = [
        (
            "web",
            "url",
            "component `web` variable `url`: invalid template",
        ),
        ("web", "other", "component `web` has no variable `other`"),
        ("ghost", "url", "component `ghost` has no variable `url`"),
        ("web", "Bad", "invalid variable name \"Bad\""),
    ];
    for (c, k, want) in lookups {
        let err = r.get_component_variable(c, k).unwrap_err().to_string();
        assert!(err.contains(want), "{c}.{k}: {err}");
    }
    let err = r.get_app_variable("nope").unwrap_err().to_string();
    assert!(err.contains("the app declares no variable `nope`"), "{err}");
}

#[test]
fn render_templates_for_hosts_and_addresses() {
    let app = app(
        &[("host", Some("redis.local"), false), ("port", None, false)],
        &[],
    );
    let r = resolver(&app, vec![], &[("port", "6380")], &[]).unwrap();
    assert_eq!(
        r.render("redis://{{ host }}:{{port}}").unwrap(),
        "redis://redis.local:6380"
    );
    assert_eq!(r.render("no templates").unwrap(), "no templates");
    let err = r.render("https://{{ nope }}").unwrap_err().to_string();
    assert!(
        err.starts_with("template: invalid template \"https://{{ nope }}\""),
        "{err}"
    );
    let err = r
        .render_at("component `x` allowed_outbound_hosts", "{{ x")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("component `x` allowed_outbound_hosts:"),
        "{err}"
    );
}

#[test]
fn invalid_names_are_rejected_when_building() {
    let cases = [
        (app(&[("Bad", None, false)], &[]), vec![], "[variables]"),
        (
            app(&[("ok", None, false)], &[]),
            vec![("API_KEY", "x")],
            "--variable",
        ),
    ];
    for (app, cli, origin) in cases {
        let err = resolver(&app, vec![], &cli, &[]).unwrap_err().to_string();
        assert!(
            err.contains(origin) && err.contains("invalid variable name"),
            "{err}"
        );
    }
    // An undeclared (but valid) --variable is only warned about.
    let app = app(&[("ok", None, false)], &[]);
    assert!(resolver(&app, vec![], &[("unused", "x")], &[]).is_ok());
}

#[test]
fn secrets_never_appear_in_debug_or_errors() {
    let app = app(
        &[("token", None, true), ("plain", None, false)],
        &[("c", &[("t", "{{ token }}{{ nope }}")])],
    );
    let providers = vec![Provider::Static(map(&[
        ("token", "hunter2"),
        ("plain", "visible"),
    ]))];
    let r = resolver(&app, providers.clone(), &[], &[]).unwrap();
    let dbg = format!("{r:?} {providers:?}");
    assert!(
        !dbg.contains("hunter2") && dbg.contains("<secret>") && dbg.contains("visible"),
        "{dbg}"
    );
    let err = r.get_component_variable("c", "t").unwrap_err().to_string();
    assert!(!err.contains("hunter2"), "{err}");
    let dbg = format!("{:?}", spin_env(&[("SPIN_VARIABLE_TOKEN", "hunter2")]));
    assert!(
        !dbg.contains("hunter2") && dbg.contains("SPIN_VARIABLE_TOKEN"),
        "{dbg}"
    );
}

#[test]
fn provider_errors_propagate() {
    let app = app(&[("v", None, false)], &[]);
    let failing = |k: &str| -> Result<Option<String>, VariablesError> {
        Err(VariablesError::Provider {
            provider: "env".into(),
            message: format!("{k} is not valid UTF-8"),
        })
    };
    let err = Resolver::with_env(&app, vec![spin_env(&[])], BTreeMap::new(), &failing).unwrap_err();
    assert!(
        err.to_string()
            .contains("SPIN_VARIABLE_V is not valid UTF-8"),
        "{err}"
    );
}

#[test]
fn dotenv_syntax() {
    let text = "# comment\n\nA=1\nexport B = two words # note\nC='single # kept'\nD=\"line\\nnext \\\"q\\\"\"\nE=\"multi\nline\"\nF=\nG=a#b\r\nbroken line\nH='open\n";
    let (got, errors) = super::dotenv::parse(text);
    let want = map(&[
        ("A", "1"),
        ("B", "two words"),
        ("C", "single # kept"),
        ("D", "line\nnext \"q\""),
        ("E", "multi\nline"),
        ("F", ""),
        ("G", "a#b"),
    ]);
    assert_eq!(got, want);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with("line 11:") && errors[1].starts_with("line 12:"),
        "{errors:?}"
    );
}

#[test]
fn dotenv_files_from_config_and_default() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "SPIN_VARIABLE_A=from_default\n").unwrap();
    std::fs::write(dir.path().join("vars.env"), "MY_A=from_config\n").unwrap();
    std::fs::write(dir.path().join("bad.env"), "MY_A=1\nnot an entry\n").unwrap();

    let default = Provider::default_env(Some(dir.path()));
    assert_eq!(default, spin_env(&[("SPIN_VARIABLE_A", "from_default")]));
    let cfg = |p: &str| VariablesProviderConfig::Env {
        prefix: Some("MY".into()),
        dotenv_path: Some(p.into()),
    };
    let configured = Provider::from_config(&cfg("vars.env"), Some(dir.path())).unwrap();
    let app = app(&[("a", None, false)], &[]);
    let r = resolver(&app, vec![configured, default], &[], &[]).unwrap();
    assert_eq!(r.get_app_variable("a").unwrap(), "from_config");

    // Like Spin: a missing file is fine, a malformed one is an error naming file and line.
    Provider::from_config(&cfg("missing.env"), Some(dir.path())).unwrap();
    let err = Provider::from_config(&cfg("bad.env"), Some(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.env") && err.contains("line 2"), "{err}");
    assert_eq!(
        Provider::default_env(Some(Path::new("/nonexistent"))),
        spin_env(&[])
    );
}

#[test]
fn providers_from_config_appends_the_default_env_provider() {
    let cfgs = [
        VariablesProviderConfig::Static {
            values: map(&[("a", "1")]),
        },
        VariablesProviderConfig::Env {
            prefix: None,
            dotenv_path: None,
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    let got = providers_from_config(&cfgs, Some(dir.path())).unwrap();
    assert_eq!(
        got,
        vec![
            Provider::Static(map(&[("a", "1")])),
            spin_env(&[]),
            spin_env(&[])
        ]
    );
}
