use super::*;

const FILE: &str = "/etc/spin/runtime-config.toml";

fn parse_ok(text: &str) -> RuntimeConfig {
    match parse(text, Path::new(FILE)) {
        Ok(rc) => rc,
        Err(e) => panic!("{text}\n=> {e}"),
    }
}

fn spin_kv(path: &str) -> KeyValueStoreConfig {
    KeyValueStoreConfig::Spin {
        path: Some(path.into()),
    }
}

fn app(components: &str) -> LockedApp {
    let json = format!(r#"{{"spin_lock_version":0,"triggers":[],"components":[{components}]}}"#);
    serde_json::from_str(&json).unwrap()
}

fn component(id: &str, metadata: &str) -> String {
    format!(
        r#"{{"id":"{id}","source":{{"content_type":"application/wasm"}},"metadata":{{{metadata}}}}}"#
    )
}

#[test]
fn docs_examples_parse() {
    // (runtime-config.toml from the Spin docs, check on the result)
    type Check = fn(&RuntimeConfig);
    let cases: &[(&str, Check)] = &[
        (
            "[key_value_store.default]\ntype = \"spin\"\npath = \".spin/precious-data.db\"",
            |rc| assert_eq!(rc.key_value_stores["default"], spin_kv("/etc/spin/.spin/precious-data.db")),
        ),
        (
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://localhost\"",
            |rc| assert_eq!(rc.key_value_stores["default"], KeyValueStoreConfig::Redis { url: "redis://localhost".into() }),
        ),
        (
            "[key_value_store.user_data]\ntype = \"spin\"\npath = \".spin/user_data.db\"\n\n[key_value_store.other_data]\ntype = \"redis\"\nurl = \"redis://localhost\"",
            |rc| {
                assert_eq!(rc.key_value_stores.len(), 2);
                assert_eq!(rc.key_value_stores["user_data"], spin_kv("/etc/spin/.spin/user_data.db"));
            },
        ),
        (
            "[sqlite_database.todo]\ntype = \"spin\"\npath = \"/planning/todo.db\"\n\n[sqlite_database.finance]\ntype = \"spin\"\npath = \"/super/secret/monies.db\"",
            |rc| assert_eq!(rc.sqlite_databases["todo"], SqliteDatabaseConfig::Spin { path: Some("/planning/todo.db".into()) }),
        ),
        (
            "[[variables_provider]]\ntype = \"env\"\nprefix = \"MY_APP\"\ndotenv_path = \"vars.env\"\n\n[[variables_provider]]\ntype = \"static\"\nvalues = { foo = \"bar\" }",
            |rc| {
                assert_eq!(rc.variables_providers, vec![
                    VariablesProviderConfig::Env { prefix: Some("MY_APP".into()), dotenv_path: Some("vars.env".into()) },
                    VariablesProviderConfig::Static { values: [("foo".to_owned(), "bar".to_owned())].into() },
                ]);
            },
        ),
        (
            "state_dir = \"/var/spin\"\nlog_dir = \"\"\nmax_instance_memory = 10485760",
            |rc| {
                assert_eq!(rc.state_dir.as_deref(), Some(Path::new("/var/spin")));
                assert_eq!(rc.log_dir.as_deref(), Some(Path::new("")));
                assert_eq!(rc.max_instance_memory, Some(10 << 20));
            },
        ),
        ("", |rc| assert_eq!(*rc, RuntimeConfig::default())),
    ];
    for (text, check) in cases {
        check(&parse_ok(text));
    }
}

/// What spin-operator renders for a SpinApp using every runtimeConfig field.
const SPINKUBE_GENERATED: &str = r#"
[[config_provider]]
type = "env"
prefix = "SPIN_VARIABLE_"

[key_value_store.default]
type = "redis"
url = "redis://redis.default.svc:6379"

[key_value_store.cosmos]
type = "azure_cosmos"
key = "k"
account = "a"
database = "d"
container = "c"

[sqlite_database.default]
type = "libsql"
url = "https://sensational-penguin-ahacker.libsql.example.com"
token = "a secret"

[llm_compute]
type = "remote_http"
url = "https://llm-app.fermyon.app"
auth_token = "secret"
"#;

#[test]
fn spinkube_generated_config_loads_and_unsupported_backends_fail_only_when_used() {
    let rc = parse_ok(SPINKUBE_GENERATED);
    assert_eq!(
        rc.variables_providers,
        vec![VariablesProviderConfig::Env {
            prefix: Some("SPIN_VARIABLE_".into()),
            dotenv_path: None
        }]
    );
    assert!(matches!(
        rc.sqlite_databases["default"],
        SqliteDatabaseConfig::Unsupported(_)
    ));
    let unused = app(&component("web", r#""key_value_stores":["default"]"#));
    rc.check_app(&unused).unwrap();

    // (grant, expected key in the error)
    let cases = [
        (r#""databases":["default"]"#, "sqlite_database.default.type"),
        (
            r#""key_value_stores":["cosmos"]"#,
            "key_value_store.cosmos.type",
        ),
        (r#""ai_models":["llama2-chat"]"#, "llm_compute.type"),
    ];
    for (grant, key) in cases {
        let err = rc
            .check_app(&app(&component("web", grant)))
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{grant}: {err}");
        assert!(err.contains("not supported by this runtime yet"), "{err}");
        assert!(err.contains(FILE), "{err}");
        assert!(!err.contains("a secret"), "{err}");
    }
}

#[test]
fn check_app_rejects_undefined_labels_but_not_default() {
    let rc = parse_ok("[key_value_store.cache]\ntype = \"spin\"");
    let ok = component(
        "a",
        r#""key_value_stores":["default","cache"],"databases":["default"]"#,
    );
    rc.check_app(&app(&ok)).unwrap();
    let cases = [
        (r#""key_value_stores":["nope"]"#, "key-value store `nope`"),
        (r#""databases":["todo"]"#, "[sqlite_database.todo]"),
    ];
    for (grant, want) in cases {
        let err = rc
            .check_app(&app(&component("a", grant)))
            .unwrap_err()
            .to_string();
        assert!(err.contains(want) && err.contains("component `a`"), "{err}");
    }
}

#[test]
fn errors_name_the_key_the_file_and_what_is_accepted() {
    // (file contents, substrings the message must contain)
    let cases: &[(&str, &[&str])] = &[
        ("colour = 1", &["unknown key `colour`", "key_value_store, sqlite_database"]),
        ("[key_value_store.cache]\ntype = \"dynamo\"", &["`key_value_store.cache.type` = \"dynamo\"", "\"spin\", \"redis\""]),
        ("[key_value_store.cache]\ntype = \"spin\"\ncolour = \"x\"", &["unknown key `key_value_store.cache.colour`", "type, path"]),
        ("[key_value_store.cache]\npath = \"x\"", &["`key_value_store.cache.type` is missing", "\"spin\", \"redis\""]),
        ("[key_value_store.cache]\ntype = 3", &["invalid `key_value_store.cache.type`", "expected a string, found integer"]),
        ("[key_value_store.cache]\ntype = \"redis\"", &["`key_value_store.cache.url` is missing"]),
        ("[key_value_store.cache]\ntype = \"redis\"\nurl = \"http://h\"", &["invalid `key_value_store.cache.url`", "redis://"]),
        ("[key_value_store.cache]\ntype = \"redis\"\nurl = \"redis://localhost\"\npassword = \"x\"", &["`key_value_store.cache.password`", "type, url"]),
        ("[key_value_store.\"my.store\"]\ntype = \"x\"", &["`key_value_store.\"my.store\".type`"]),
        ("key_value_store = 1", &["invalid `key_value_store`", "expected a table"]),
        ("[key_value_store]\ncache = \"redis\"", &["invalid `key_value_store.cache`", "expected a table"]),
        ("[sqlite_database.db]\ntype = \"postgres\"", &["`sqlite_database.db.type` = \"postgres\"", "accepted: \"spin\""]),
        ("[sqlite_database.db]\ntype = \"spin\"\npath = \"\"", &["invalid `sqlite_database.db.path`", "must not be empty"]),
        ("[sqlite_database.db]\ntype = \"spin\"\nurl = \"x\"", &["unknown key `sqlite_database.db.url`"]),
        ("[[variables_provider]]\ntype = \"vault\"\nurl = \"http://v\"\ntoken = \"t\"\nmount = \"m\"", &["`variables_provider[0].type`", "\"vault\"", "not supported by this runtime yet", "\"env\", \"static\""]),
        ("[[config_provider]]\ntype = \"env\"\n[[config_provider]]\ntype = \"azure_key_vault\"", &["`config_provider[1].type`", "not supported by this runtime yet"]),
        ("[[variables_provider]]\ntype = \"env\"\nprefx = \"X\"", &["unknown key `variables_provider[0].prefx`", "type, prefix, dotenv_path"]),
        ("[[variables_provider]]\ntype = \"nope\"", &["`variables_provider[0].type` = \"nope\""]),
        ("[[variables_provider]]\ntype = \"static\"\nvalues = { a = 1 }", &["invalid `variables_provider[0].values.a`"]),
        ("[variables_provider]\ntype = \"env\"", &["invalid `variables_provider`", "[[variables_provider]]"]),
        ("[[variables_provider]]\ntype = \"env\"\n[[config_provider]]\ntype = \"env\"", &["`config_provider`", "not both"]),
        ("[outbound_http]\nconnection_pooling = false", &["`outbound_http`", "not supported by this runtime yet"]),
        ("[[client_tls]]\ncomponent_ids = [\"a\"]\nhosts = [\"h\"]", &["`client_tls`", "not supported by this runtime yet"]),
        ("[llm_compute]\ntype = \"gpu\"", &["`llm_compute.type` = \"gpu\""]),
        ("max_instance_memory = -1", &["invalid `max_instance_memory`", "non-negative"]),
        ("state_dir = 5", &["invalid `state_dir`", "expected a string"]),
        ("[key_value_store.x\ntype = \"spin\"", &["is not valid TOML"]),
    ];
    for (text, wants) in cases {
        let err = match parse(text, Path::new(FILE)) {
            Ok(rc) => panic!("{text:?} parsed: {rc:?}"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(FILE), "{text:?} => {err}");
        for want in *wants {
            assert!(err.contains(want), "{text:?} => {err}\n  missing: {want}");
        }
    }
}

#[test]
fn redis_passwords_stay_out_of_errors_and_debug() {
    let err = parse(
        "[key_value_store.c]\ntype = \"redis\"\nurl = \"tcp://u:hunter2@h\"",
        Path::new(FILE),
    )
    .unwrap_err()
    .to_string();
    assert!(!err.contains("hunter2"), "{err}");
    let rc = parse_ok("[key_value_store.c]\ntype = \"redis\"\nurl = \"redis://u:hunter2@h:6379\"");
    let dbg = format!("{rc:?}");
    assert!(
        !dbg.contains("hunter2") && dbg.contains("redis://u:***@h:6379"),
        "{dbg}"
    );
    let rc =
        parse_ok("[[variables_provider]]\ntype = \"static\"\nvalues = { api_key = \"hunter2\" }");
    let dbg = format!("{rc:?}");
    assert!(!dbg.contains("hunter2") && dbg.contains("api_key"), "{dbg}");
}

#[test]
fn relative_paths_resolve_against_the_config_files_directory() {
    // (config file, path in the file, resolved path)
    let cases = [
        ("/etc/spin/rc.toml", "data/kv.db", "/etc/spin/data/kv.db"),
        ("/etc/spin/rc.toml", "/abs/kv.db", "/abs/kv.db"),
        ("rc.toml", "kv.db", "kv.db"),
        ("conf/rc.toml", "../kv.db", "conf/../kv.db"),
    ];
    for (file, path, want) in cases {
        for section in ["key_value_store", "sqlite_database"] {
            let text = format!("[{section}.s]\ntype = \"spin\"\npath = \"{path}\"");
            let rc = parse(&text, Path::new(file)).unwrap();
            let got = match section {
                "key_value_store" => match &rc.key_value_stores["s"] {
                    KeyValueStoreConfig::Spin { path } => path.clone(),
                    other => panic!("{other:?}"),
                },
                _ => match &rc.sqlite_databases["s"] {
                    SqliteDatabaseConfig::Spin { path } => path.clone(),
                    other => panic!("{other:?}"),
                },
            };
            assert_eq!(
                got.as_deref(),
                Some(Path::new(want)),
                "{section} {file} {path}"
            );
        }
    }
    // Spin opens these relative to the working directory, so they stay as written.
    let rc = parse(
        "state_dir = \"st\"\n[[variables_provider]]\ntype = \"env\"\ndotenv_path = \"x.env\"",
        Path::new("/etc/rc.toml"),
    )
    .unwrap();
    assert_eq!(rc.state_dir.as_deref(), Some(Path::new("st")));
    assert_eq!(
        rc.variables_providers[0],
        VariablesProviderConfig::Env {
            prefix: None,
            dotenv_path: Some("x.env".into())
        }
    );
}

#[test]
fn default_store_and_database_locations() {
    let state = Path::new("/app/.spin");
    let empty = RuntimeConfig::default();
    assert_eq!(
        empty.default_kv_path(state),
        Path::new("/app/.spin/sqlite_key_value.db")
    );
    assert_eq!(
        empty.default_sqlite_path(state),
        Path::new("/app/.spin/sqlite_db.db")
    );
    assert_eq!(
        empty.key_value_store("default", Some(state)),
        Some(spin_kv("/app/.spin/sqlite_key_value.db"))
    );
    assert_eq!(
        empty.key_value_store("default", None),
        Some(KeyValueStoreConfig::Spin { path: None })
    );
    assert_eq!(empty.key_value_store("other", Some(state)), None);
    assert_eq!(
        empty.sqlite_database("default", Some(state)),
        Some(SqliteDatabaseConfig::Spin {
            path: Some("/app/.spin/sqlite_db.db".into())
        })
    );
    assert_eq!(empty.sqlite_database("other", None), None);

    let rc = parse_ok("[key_value_store.default]\ntype = \"spin\"\npath = \"/data/kv.db\"\n[sqlite_database.default]\ntype = \"spin\"\npath = \"/data/db.db\"");
    assert_eq!(rc.default_kv_path(state), Path::new("/data/kv.db"));
    assert_eq!(rc.default_sqlite_path(state), Path::new("/data/db.db"));
    let redis = parse_ok("[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://h\"");
    assert!(matches!(
        redis.key_value_store("default", Some(state)),
        Some(KeyValueStoreConfig::Redis { .. })
    ));
}

#[test]
fn state_and_log_dir_precedence() {
    // (--state-dir, file's state_dir, app dir, expected)
    type Case<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );
    let cases: &[Case] = &[
        (None, None, Some("/app"), Some("/app/.spin")),
        (None, None, None, None),
        (None, Some("/st"), Some("/app"), Some("/st")),
        (Some("/cli"), Some("/st"), Some("/app"), Some("/cli")),
        (None, Some(""), Some("/app"), None),
        (Some(""), Some("/st"), Some("/app"), None),
    ];
    for (cli, file, app_dir, want) in cases {
        let rc = RuntimeConfig {
            state_dir: file.map(PathBuf::from),
            ..Default::default()
        };
        let got = rc.effective_state_dir(cli.map(Path::new), app_dir.map(Path::new));
        assert_eq!(
            got.as_deref(),
            want.map(Path::new),
            "{cli:?} {file:?} {app_dir:?}"
        );
    }
    let rc = RuntimeConfig::default();
    assert_eq!(
        rc.effective_log_dir(None, Some(Path::new("/s"))),
        Some(PathBuf::from("/s/logs"))
    );
    assert_eq!(
        rc.effective_log_dir(Some(Path::new("/l")), Some(Path::new("/s"))),
        Some(PathBuf::from("/l"))
    );
    let off = RuntimeConfig {
        log_dir: Some(PathBuf::new()),
        ..Default::default()
    };
    assert_eq!(off.effective_log_dir(None, Some(Path::new("/s"))), None);
}

#[test]
fn load_reads_the_file_and_names_it_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("runtime-config.toml");
    std::fs::write(
        &file,
        "[key_value_store.default]\ntype = \"spin\"\npath = \"kv.db\"",
    )
    .unwrap();
    let rc = load(&file).unwrap();
    assert_eq!(
        rc.key_value_stores["default"],
        KeyValueStoreConfig::Spin {
            path: Some(dir.path().join("kv.db"))
        }
    );
    let missing = dir.path().join("nope.toml");
    let err = load(&missing).unwrap_err().to_string();
    assert!(
        err.contains("cannot read runtime config file") && err.contains("nope.toml"),
        "{err}"
    );
}

#[test]
fn check_app_sees_the_grants_a_spin_toml_makes() {
    // The check reads the metadata keys the manifest loader writes: a drift between the two
    // once let every SQLite grant through unchecked.
    let manifest = r#"
spin_manifest_version = 2
[application]
name = "grants"
[[trigger.http]]
route = "/..."
component = "web"
[component.web]
source = "web.wasm"
key_value_stores = ["default"]
sqlite_databases = ["todo"]
"#;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("web.wasm"), b"").unwrap();
    let app = crate::app::manifest::parse_manifest(
        manifest,
        &dir.join("spin.toml"),
        dir,
        &crate::app::manifest::LoadOptions {
            files_root: dir.join("files"),
        },
    )
    .expect("manifest parses");
    let err = parse_ok("").check_app(&app).unwrap_err().to_string();
    assert!(
        err.contains("[sqlite_database.todo]") && err.contains("component `web`"),
        "{err}"
    );
}
