use oci_client::manifest::{OciDescriptor, OciImageManifest};

use super::*;

fn desc(cache: &BlobCache, media_type: &str, bytes: &[u8]) -> OciDescriptor {
    let digest = digest_of(bytes);
    cache.put(&digest, bytes).unwrap();
    OciDescriptor {
        media_type: media_type.into(),
        digest,
        size: bytes.len() as i64,
        ..Default::default()
    }
}

fn manifest(cache: &BlobCache, layers: Vec<OciDescriptor>) -> OciImageManifest {
    OciImageManifest {
        config: desc(cache, "application/vnd.oci.image.config.v1+json", b"{}"),
        layers,
        ..Default::default()
    }
}

#[test]
fn wkg_single_component_serves_everything() {
    let dir = tempfile::tempdir().unwrap();
    let cache = BlobCache::new(dir.path());
    let wasm = desc(&cache, WKG_WASM_MEDIA_TYPE, b"\0asm fake component bytes");
    let m = manifest(&cache, vec![wasm.clone()]);
    let app = load_app(
        &m,
        &cache,
        &dir.path().join("files"),
        "127.0.0.1:5000/my_Hello",
    )
    .unwrap();
    assert_eq!(app.components[0].id, "my-hello");
    assert_eq!(app.triggers[0].trigger_config["route"], "/...");
    let src = app.components[0].source.content.source.clone().unwrap();
    assert!(
        src.ends_with(wasm.digest.trim_start_matches("sha256:")),
        "{src}"
    );
}

#[test]
fn ordinary_image_with_spin_toml_in_rootfs() {
    let dir = tempfile::tempdir().unwrap();
    let cache = BlobCache::new(dir.path());
    let app_dir = dir.path().join("app");
    std::fs::create_dir_all(&app_dir).unwrap();
    std::fs::write(app_dir.join("app.wasm"), b"\0asm").unwrap();
    std::fs::write(
        app_dir.join("spin.toml"),
        "spin_manifest_version = 2\n[application]\nname = \"img\"\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"c\"\n[component.c]\nsource = \"app.wasm\"\n",
    )
    .unwrap();
    let files = vec![
        ("spin.toml".to_string(), app_dir.join("spin.toml")),
        ("app.wasm".to_string(), app_dir.join("app.wasm")),
    ];
    let layer = super::super::archive::pack(&files).unwrap();
    let m = manifest(
        &cache,
        vec![desc(
            &cache,
            "application/vnd.oci.image.layer.v1.tar+gzip",
            &layer,
        )],
    );
    let app = load_app(&m, &cache, &dir.path().join("files"), "x/img").unwrap();
    assert_eq!(app.name(), Some("img"));
    assert_eq!(app.components[0].id, "c");

    let empty = super::super::archive::pack(&files[1..]).unwrap();
    let m = manifest(
        &cache,
        vec![desc(
            &cache,
            "application/vnd.oci.image.layer.v1.tar+gzip",
            &empty,
        )],
    );
    let err = load_app(&m, &cache, &dir.path().join("f2"), "x/img").unwrap_err();
    assert!(err.to_string().contains("spin.toml"), "{err}");
}

#[test]
fn locked_app_paths_may_not_escape() {
    assert!(safe_relative("static/a.txt").is_ok());
    assert!(safe_relative("/static/a.txt").is_ok());
    assert!(safe_relative("../etc/passwd").is_err());
    assert!(safe_relative("a/../../b").is_err());
}

#[test]
fn missing_layer_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cache = BlobCache::new(dir.path());
    let locked = br#"{"spin_lock_version":0,"triggers":[],"components":[{"id":"c","source":{"content_type":"application/wasm","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}}]}"#;
    let m = manifest(
        &cache,
        vec![desc(&cache, SPIN_APPLICATION_MEDIA_TYPE, locked)],
    );
    let err = load_app(&m, &cache, dir.path(), "x")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("component `c`") && err.contains("not in the image"),
        "{err}"
    );
}
