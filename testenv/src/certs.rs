//! The control plane's PKI: one CA (also the cluster signing CA and the
//! request-header CA), the apiserver's serving certificate and the
//! service-account signing key. All ECDSA P-256, made with rcgen.

use std::net::IpAddr;

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

pub(crate) struct Pki {
    pub ca_cert: String,
    pub ca_key: String,
    pub serving_cert: String,
    pub serving_key: String,
    pub service_account_key: String,
    pub service_account_pub: String,
}

/// `bind_ip`: where kube-apiserver listens (127.0.0.1, or a node address pods reach).
pub(crate) fn generate(kubernetes_service_ip: IpAddr, bind_ip: IpAddr) -> Result<Pki> {
    let ca_key = KeyPair::generate().context("CA key")?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "spinkube-testenv-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).context("CA certificate")?;
    let ca_cert_pem = ca_cert.pem();
    let ca_key_pem = ca_key.serialize_pem();
    let issuer = Issuer::new(ca_params, ca_key);

    let serving_key = KeyPair::generate().context("serving key")?;
    let mut params = CertificateParams::new(vec![
        "127.0.0.1".to_string(),
        bind_ip.to_string(),
        kubernetes_service_ip.to_string(),
        "localhost".to_string(),
        "kubernetes".to_string(),
        "kubernetes.default".to_string(),
        "kubernetes.default.svc".to_string(),
        "kubernetes.default.svc.cluster.local".to_string(),
    ])?;
    params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let serving_cert = params
        .signed_by(&serving_key, &issuer)
        .context("serving certificate")?;

    let sa_key = KeyPair::generate().context("service-account key")?;
    Ok(Pki {
        ca_cert: ca_cert_pem,
        ca_key: ca_key_pem,
        serving_cert: serving_cert.pem(),
        serving_key: serving_key.serialize_pem(),
        service_account_key: sa_key.serialize_pem(),
        service_account_pub: sa_key.public_key_pem(),
    })
}
