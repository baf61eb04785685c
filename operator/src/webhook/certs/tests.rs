use super::*;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).expect("valid timestamp") // 2026-01-01
}

fn sans() -> Vec<String> {
    webhook_sans("hook", "ops", &["127.0.0.1".to_string()])
}

fn fresh() -> CertBundle {
    generate(&sans(), t0()).expect("generate")
}

#[test]
fn sans_cover_service_names_then_extras_without_duplicates() {
    let got = webhook_sans(
        "svc",
        "ns",
        &[
            "svc".into(),
            " 10.0.0.1 ".into(),
            "".into(),
            "x.example".into(),
        ],
    );
    assert_eq!(
        got,
        [
            "svc",
            "svc.ns",
            "svc.ns.svc",
            "svc.ns.svc.cluster.local",
            "10.0.0.1",
            "x.example"
        ]
    );
}

#[test]
fn fresh_bundle_needs_nothing_and_has_expected_validity() {
    let b = fresh();
    assert_eq!(needs_rotation(&b, t0(), &sans()), None);
    let info = inspect(&b).expect("inspect");
    assert_eq!(info.not_after, t0() + SERVING_VALIDITY);
    assert_eq!(info.ca_not_after, t0() + CA_VALIDITY);
    assert_eq!(info.sans, canonical_sans(&sans()));
    assert!(info.sans.contains("127.0.0.1"));
}

#[test]
fn serving_cert_is_renewed_30_days_before_expiry_by_the_same_ca() {
    let b = fresh();
    let just_before = t0() + SERVING_VALIDITY - SERVING_RENEW_BEFORE - TimeDelta::seconds(1);
    assert_eq!(needs_rotation(&b, just_before, &sans()), None);
    let late = t0() + SERVING_VALIDITY - TimeDelta::days(29);
    let reason = needs_rotation(&b, late, &sans()).expect("must rotate");
    assert!(
        matches!(reason, RotationReason::ServingExpiring { .. }),
        "{reason}"
    );
    assert!(!reason.renews_ca());

    let renewed = renew(&b, &reason, &sans(), late).expect("renew");
    assert_eq!(
        renewed.ca_cert_pem, b.ca_cert_pem,
        "caBundle must not change"
    );
    assert_eq!(renewed.ca_key_pem, b.ca_key_pem);
    assert_ne!(
        inspect(&renewed).expect("inspect").serial_hex,
        inspect(&b).expect("inspect").serial_hex
    );
    assert_eq!(needs_rotation(&renewed, late, &sans()), None);
}

#[test]
fn changed_sans_reissue_the_serving_cert_only() {
    let b = fresh();
    let mut wanted = sans();
    wanted.push("webhook.example.com".into());
    let reason = needs_rotation(&b, t0(), &wanted).expect("must rotate");
    assert!(
        matches!(reason, RotationReason::SansChanged { .. }),
        "{reason}"
    );
    let renewed = renew(&b, &reason, &wanted, t0()).expect("renew");
    assert_eq!(renewed.ca_cert_pem, b.ca_cert_pem);
    assert_eq!(needs_rotation(&renewed, t0(), &wanted), None);
    // Fewer names is a change too.
    assert!(matches!(
        needs_rotation(&renewed, t0(), &sans()),
        Some(RotationReason::SansChanged { .. })
    ));
}

#[test]
fn san_comparison_ignores_case_order_and_ip_spelling() {
    let b = generate(&["A.example".into(), "::1".into()], t0()).expect("generate");
    assert_eq!(
        needs_rotation(&b, t0(), &["0:0::1".into(), "a.example".into()]),
        None
    );
}

#[test]
fn ca_is_replaced_a_year_before_expiry_keeping_the_old_one_trusted() {
    let b = fresh();
    let ok = t0() + CA_VALIDITY - CA_RENEW_BEFORE - TimeDelta::days(1);
    // Serving cert long expired by then, but that is not the CA's problem.
    assert!(matches!(
        needs_rotation(&b, ok, &sans()),
        Some(RotationReason::ServingExpiring { .. })
    ));
    let late = t0() + CA_VALIDITY - TimeDelta::days(364);
    let reason = needs_rotation(&b, late, &sans()).expect("must rotate");
    assert!(
        matches!(reason, RotationReason::CaExpiring { .. }),
        "{reason}"
    );
    assert!(reason.renews_ca());

    let renewed = renew(&b, &reason, &sans(), late).expect("renew");
    assert_ne!(renewed.ca_key_pem, b.ca_key_pem);
    let cas = pem_certs(&renewed.ca_cert_pem, "ca").expect("pem");
    let old = pem_certs(&b.ca_cert_pem, "ca").expect("pem");
    assert_eq!(cas.len(), 2, "new CA then the old one");
    assert_eq!(cas[1], old[0]);
    assert_eq!(needs_rotation(&renewed, late, &sans()), None);
}

#[test]
fn an_expired_old_ca_is_not_carried_over() {
    let b = fresh();
    let after = t0() + CA_VALIDITY + TimeDelta::days(1);
    let reason = needs_rotation(&b, after, &sans()).expect("must rotate");
    let renewed = renew(&b, &reason, &sans(), after).expect("renew");
    assert_eq!(pem_certs(&renewed.ca_cert_pem, "ca").expect("pem").len(), 1);
}

#[test]
fn missing_or_garbage_ca_starts_over() {
    let empty = CertBundle {
        ca_cert_pem: String::new(),
        ca_key_pem: String::new(),
        cert_pem: String::new(),
        key_pem: String::new(),
    };
    let reason = needs_rotation(&empty, t0(), &sans()).expect("must rotate");
    assert!(matches!(reason, RotationReason::CaInvalid(_)), "{reason}");
    let renewed = renew(&empty, &reason, &sans(), t0()).expect("renew");
    assert_eq!(needs_rotation(&renewed, t0(), &sans()), None);

    let b = fresh();
    let garbage_key = CertBundle {
        ca_key_pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into(),
        ..b.clone()
    };
    assert!(matches!(
        needs_rotation(&garbage_key, t0(), &sans()),
        Some(RotationReason::CaInvalid(_))
    ));

    let other = fresh();
    let wrong_ca_key = CertBundle {
        ca_key_pem: other.ca_key_pem.clone(),
        ..b.clone()
    };
    assert!(matches!(
        needs_rotation(&wrong_ca_key, t0(), &sans()),
        Some(RotationReason::CaInvalid(_))
    ));

    let leaf_as_ca = CertBundle {
        ca_cert_pem: b.cert_pem.clone(),
        ca_key_pem: b.key_pem.clone(),
        ..b.clone()
    };
    assert!(matches!(
        needs_rotation(&leaf_as_ca, t0(), &sans()),
        Some(RotationReason::CaInvalid(_))
    ));
}

#[test]
fn broken_serving_cert_is_reissued_by_the_existing_ca() {
    let b = fresh();
    let other = fresh();
    let cases = [
        (
            "missing key",
            CertBundle {
                key_pem: String::new(),
                ..b.clone()
            },
        ),
        (
            "mismatched key",
            CertBundle {
                key_pem: other.key_pem.clone(),
                ..b.clone()
            },
        ),
        (
            "other CA",
            CertBundle {
                cert_pem: other.cert_pem.clone(),
                key_pem: other.key_pem.clone(),
                ..b.clone()
            },
        ),
        (
            "not PEM",
            CertBundle {
                cert_pem: "hello".into(),
                ..b.clone()
            },
        ),
    ];
    for (name, bundle) in cases {
        let reason =
            needs_rotation(&bundle, t0(), &sans()).unwrap_or_else(|| panic!("{name}: must rotate"));
        assert!(
            matches!(reason, RotationReason::ServingInvalid(_)),
            "{name}: {reason}"
        );
        let renewed = renew(&bundle, &reason, &sans(), t0()).expect("renew");
        assert_eq!(renewed.ca_cert_pem, b.ca_cert_pem, "{name}");
        assert_eq!(needs_rotation(&renewed, t0(), &sans()), None, "{name}");
    }
}

#[test]
fn invalid_san_is_an_error_naming_it() {
    let err = generate(&["bad name ü".into()], t0()).expect_err("must fail");
    assert!(err.to_string().contains("bad name ü"), "{err}");
}

#[test]
fn serial_of_der_matches_inspect() {
    let b = fresh();
    let der = pem_certs(&b.cert_pem, "tls.crt").expect("pem");
    assert_eq!(
        serial_hex_of_der(&der[0]).expect("serial"),
        inspect(&b).expect("inspect").serial_hex
    );
    assert!(
        !format!("{b:?}").contains("PRIVATE"),
        "Debug must not print keys"
    );
}
