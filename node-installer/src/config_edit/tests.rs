use super::*;

const SHIM: &str = "/opt/spinkube/bin/containerd-shim-spin-v2";

fn fixture(name: &str) -> &'static str {
    match name {
        "containerd-1.7-default" => include_str!("../../testdata/containerd-1.7-default.toml"),
        "containerd-2.2-default" => include_str!("../../testdata/containerd-2.2-default.toml"),
        "k3s-generated" => include_str!("../../testdata/k3s-generated.toml"),
        "existing-spin" => include_str!("../../testdata/existing-spin.toml"),
        "nvidia-kata" => include_str!("../../testdata/nvidia-kata.toml"),
        "malformed" => include_str!("../../testdata/malformed.toml"),
        "inline-runtimes" => include_str!("../../testdata/inline-runtimes.toml"),
        other => panic!("no fixture {other}"),
    }
}

fn changed(added: Added) -> String {
    match added {
        Added::Changed(text) => text,
        other => panic!("expected a change, got {other:?}"),
    }
}

/// The `spin` runtime's (type, path) as containerd would read them.
fn spin_entry(text: &str) -> (String, String) {
    let doc: toml::Table = text.parse().unwrap();
    let format = version_format(&doc).unwrap();
    let t = spin_runtime(&doc, format).expect("a spin runtime");
    let s = |k: &str| t.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    (s("runtime_type"), s("runtime_path"))
}

#[test]
fn each_default_config_gets_the_runtime_once_and_gives_the_original_back() {
    for (name, format) in [
        ("containerd-1.7-default", Format::V2),
        ("containerd-2.2-default", Format::V3),
        ("nvidia-kata", Format::V3),
    ] {
        let original = fixture(name);
        assert_eq!(format_of(original), Ok(format), "{name}");
        let edited = changed(add_runtime(original, SHIM).unwrap());
        assert!(
            edited.starts_with(original),
            "{name}: the original comes first, unchanged"
        );
        assert_eq!(
            spin_entry(&edited),
            (RUNTIME_TYPE.to_string(), SHIM.to_string()),
            "{name}"
        );
        // The other runtimes are still there, as they were.
        let before: toml::Table = original.parse().unwrap();
        let after: toml::Table = edited.parse().unwrap();
        let runtimes = |d: &toml::Table| {
            d["plugins"][format.cri_plugin()]["containerd"]["runtimes"]
                .as_table()
                .unwrap()
                .clone()
        };
        let mut expected = runtimes(&before);
        expected.remove(RUNTIME_NAME);
        let mut got = runtimes(&after);
        got.remove(RUNTIME_NAME);
        assert_eq!(got, expected, "{name}");
        // Idempotent: the second edit changes nothing.
        assert_eq!(add_runtime(&edited, SHIM), Ok(Added::Unchanged), "{name}");
        assert_eq!(remove_runtime(&edited).as_deref(), Some(original), "{name}");
    }
}

#[test]
fn the_block_uses_each_formats_cri_plugin() {
    let v2 = changed(add_runtime(fixture("containerd-1.7-default"), SHIM).unwrap());
    assert!(v2.contains("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.spin]\n"));
    let v3 = changed(add_runtime(fixture("containerd-2.2-default"), SHIM).unwrap());
    assert!(v3.contains("[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.spin]\n"));
}

#[test]
fn a_new_shim_path_rewrites_only_the_block() {
    let original = fixture("containerd-2.2-default");
    let first = changed(add_runtime(original, SHIM).unwrap());
    let moved =
        changed(add_runtime(&first, "/usr/local/spinkube/containerd-shim-spin-v2").unwrap());
    assert_eq!(
        spin_entry(&moved).1,
        "/usr/local/spinkube/containerd-shim-spin-v2"
    );
    assert_eq!(remove_runtime(&moved).as_deref(), Some(original));
}

#[test]
fn a_spin_runtime_of_its_own_is_kept() {
    let original = fixture("existing-spin");
    assert_eq!(
        add_runtime(original, SHIM),
        Ok(Added::Foreign {
            runtime_type: "/opt/kwasm/bin/containerd-shim-spin-v2".into(),
            runtime_path: String::new(),
        })
    );
    assert_eq!(remove_runtime(original), None, "nothing of ours to remove");
}

#[test]
fn what_cannot_be_edited_is_refused_with_the_reason() {
    match add_runtime(fixture("malformed"), SHIM) {
        Err(EditError::Malformed(why)) => assert!(why.contains("line 3"), "{why}"),
        other => panic!("{other:?}"),
    }
    match add_runtime(fixture("inline-runtimes"), SHIM) {
        Err(e @ EditError::WouldBreak(_)) => assert!(e.to_string().contains("add it by hand")),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        add_runtime("root = \"/var/lib/containerd\"\n", SHIM),
        Err(EditError::UnknownVersion(None))
    );
    assert_eq!(
        add_runtime("version = 1\n", SHIM),
        Err(EditError::UnknownVersion(Some(1)))
    );
    assert_eq!(
        add_runtime("version = 3\n", "/opt/it's/shim"),
        Err(EditError::BadShimPath("/opt/it's/shim".into()))
    );
    assert!(EditError::UnknownVersion(None)
        .to_string()
        .contains("containerd config migrate"));
}

#[test]
fn odd_endings_still_give_valid_toml() {
    for original in ["", "version = 3", "version = 3\r\n", "version = 3\n\n\n"] {
        let text = if original.is_empty() {
            "version = 3\n"
        } else {
            original
        };
        let edited = changed(add_runtime(text, SHIM).unwrap());
        assert_eq!(spin_entry(&edited).1, SHIM, "{text:?}");
        assert_eq!(add_runtime(&edited, SHIM), Ok(Added::Unchanged), "{text:?}");
        let removed = remove_runtime(&edited).unwrap();
        // Without a final newline the newline stays: the installer's backup restores the rest.
        assert_eq!(removed.trim_end(), text.trim_end(), "{text:?}");
        if text.ends_with('\n') {
            assert_eq!(removed, text, "{text:?}");
        }
    }
}

#[test]
fn k3s_gets_a_template_made_of_its_base_and_our_block() {
    let generated = fixture("k3s-generated");
    let made = changed(add_to_template(generated, None, SHIM).unwrap());
    assert!(made.starts_with(K3S_TEMPLATE_BASE));
    assert!(made.contains("[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.spin]"));
    assert_eq!(
        add_to_template(generated, Some(&made), SHIM),
        Ok(Added::Unchanged)
    );
    assert!(template_is_ours_alone(&remove_runtime(&made).unwrap()));

    // A template the admin wrote keeps their lines; removing gives it back.
    let theirs = format!("{K3S_TEMPLATE_BASE}\n[plugins.'io.containerd.cri.v1.images'.registry]\n  config_path = \"/etc/certs.d\"\n");
    let edited = changed(add_to_template(generated, Some(&theirs), SHIM).unwrap());
    assert_eq!(remove_runtime(&edited).as_deref(), Some(theirs.as_str()));
    assert!(!template_is_ours_alone(&theirs));

    // k3s found a spin shim on its PATH and configured it: not ours to replace.
    let with_spin = format!(
        "{generated}\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'spin']\n  runtime_type = \"/usr/local/bin/containerd-shim-spin-v2\"\n"
    );
    assert!(matches!(
        add_to_template(&with_spin, None, SHIM),
        Ok(Added::Foreign { .. })
    ));
    let their_spin = format!(
        "{K3S_TEMPLATE_BASE}[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.\"spin\"]\n"
    );
    assert!(matches!(
        add_to_template(generated, Some(&their_spin), SHIM),
        Ok(Added::Foreign { .. })
    ));
}
