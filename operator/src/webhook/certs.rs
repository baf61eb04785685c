//! The webhook's own PKI, as pure functions: make a CA and a serving certificate, read a stored bundle
//! back and decide whether it must be renewed.
//!
//! No I/O and no clock here (`now` is always passed in) so every renewal decision is unit-tested; the
//! Secret and the webhook configurations are handled by [`super::cert_manager`].
//!
//! The CA is long-lived (10 years) because its PEM is what the API server trusts (`caBundle`): changing
//! it means patching every webhook configuration, and replicas still serving a certificate from the old
//! CA would be rejected meanwhile. The serving certificate is short-lived (1 year) and re-issued by the
//! same CA, which needs no `caBundle` change at all. When the CA itself is replaced, the previous one
//! (while still valid) stays in `ca.crt` after the new one so that both are trusted during the hand-over.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::time::SystemTime;

use chrono::{DateTime, TimeDelta, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::CertificateDer;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

/// How long a new CA is valid.
pub const CA_VALIDITY: TimeDelta = TimeDelta::days(3650);
/// How long a new serving certificate is valid.
pub const SERVING_VALIDITY: TimeDelta = TimeDelta::days(365);
/// Renew the serving certificate when it has less than this left.
pub const SERVING_RENEW_BEFORE: TimeDelta = TimeDelta::days(30);
/// Replace the CA when it has less than this left (leaves a year for every client to pick up the new one).
pub const CA_RENEW_BEFORE: TimeDelta = TimeDelta::days(365);
/// `notBefore` is set this far in the past so a node whose clock is a little behind accepts a new cert.
const BACKDATE: TimeDelta = TimeDelta::hours(1);

const CA_COMMON_NAME: &str = "spin-operator-webhook-ca";

/// Errors of the pure certificate functions.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// rcgen refused the parameters or failed to sign.
    #[error("cannot {what}: {source}")]
    Generate {
        /// What was being generated or signed, e.g. `generate the CA key`.
        what: &'static str,
        /// The rcgen error.
        #[source]
        source: rcgen::Error,
    },
    /// A subject alternative name that is neither an IP address nor a valid DNS name.
    #[error(
        "invalid subject alternative name {san:?} (want a DNS name or an IP address): {source}"
    )]
    InvalidSan {
        /// The rejected name.
        san: String,
        /// The rcgen error.
        #[source]
        source: rcgen::Error,
    },
    /// Stored PEM/DER that does not parse, or keys that do not belong to their certificates.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was read, e.g. `CA key (ca.key)`.
        what: &'static str,
        /// Why it is unusable.
        reason: String,
    },
}

/// The four PEM documents that make up the webhook's PKI, as stored in the Secret.
#[derive(Clone, PartialEq, Eq)]
pub struct CertBundle {
    /// The signing CA first, then any previous CA still trusted during a hand-over. Goes into `caBundle`.
    pub ca_cert_pem: String,
    /// The signing CA's private key (PKCS#8).
    pub ca_key_pem: String,
    /// The serving certificate (leaf only).
    pub cert_pem: String,
    /// The serving certificate's private key (PKCS#8).
    pub key_pem: String,
}

impl fmt::Debug for CertBundle {
    // Keys stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let serial = inspect(self)
            .map(|i| i.serial_hex)
            .unwrap_or_else(|_| "<invalid>".into());
        f.debug_struct("CertBundle")
            .field("serving_serial", &serial)
            .finish_non_exhaustive()
    }
}

/// What a parsed, consistent bundle says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleInfo {
    /// `notAfter` of the signing CA.
    pub ca_not_after: DateTime<Utc>,
    /// `notAfter` of the serving certificate.
    pub not_after: DateTime<Utc>,
    /// Serial of the serving certificate, lowercase hex.
    pub serial_hex: String,
    /// Subject alternative names of the serving certificate, canonical (see [`canonical_sans`]).
    pub sans: BTreeSet<String>,
}

/// Why a stored bundle must be replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotationReason {
    /// The CA certificate or key is missing, unparsable or they do not match: start over.
    CaInvalid(String),
    /// The CA expires within [`CA_RENEW_BEFORE`].
    CaExpiring {
        /// When the CA certificate expires.
        not_after: DateTime<Utc>,
    },
    /// The serving certificate or key is missing, unparsable, mismatched or not signed by the CA.
    ServingInvalid(String),
    /// The serving certificate expires within [`SERVING_RENEW_BEFORE`].
    ServingExpiring {
        /// When the serving certificate expires.
        not_after: DateTime<Utc>,
    },
    /// The wanted DNS names / IPs differ from the serving certificate's.
    SansChanged {
        /// Names the serving certificate carries.
        have: Vec<String>,
        /// Names it should carry.
        want: Vec<String>,
    },
}

impl RotationReason {
    /// Whether the CA must be replaced too (and so `caBundle` changes), rather than only the serving cert.
    pub fn renews_ca(&self) -> bool {
        matches!(self, Self::CaInvalid(_) | Self::CaExpiring { .. })
    }
}

impl fmt::Display for RotationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CaInvalid(why) => write!(f, "CA unusable ({why})"),
            Self::CaExpiring { not_after } => write!(f, "CA expires {not_after}"),
            Self::ServingInvalid(why) => write!(f, "serving certificate unusable ({why})"),
            Self::ServingExpiring { not_after } => {
                write!(f, "serving certificate expires {not_after}")
            }
            Self::SansChanged { have, want } => {
                write!(
                    f,
                    "serving certificate names changed from {have:?} to {want:?}"
                )
            }
        }
    }
}

/// The names the API server may use to reach the webhook Service, then `extra` (DNS names or IPs),
/// without duplicates, in that order.
pub fn webhook_sans(service: &str, namespace: &str, extra: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let base = [
        service.to_string(),
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ];
    for san in base
        .into_iter()
        .chain(extra.iter().map(|s| s.trim().to_string()))
    {
        if !san.is_empty() && !out.contains(&san) {
            out.push(san);
        }
    }
    out
}

/// SANs in the form they are compared in: IPs normalised, DNS names lowercased.
pub fn canonical_sans(sans: &[String]) -> BTreeSet<String> {
    sans.iter().map(|s| canonical_san(s)).collect()
}

fn canonical_san(s: &str) -> String {
    match s.trim().parse::<IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => s.trim().trim_end_matches('.').to_ascii_lowercase(),
    }
}

/// A new CA and a serving certificate for `sans`, both valid from `now` (backdated an hour).
pub fn generate(sans: &[String], now: DateTime<Utc>) -> Result<CertBundle, CertError> {
    let (ca_cert_pem, ca_key) = new_ca(now)?;
    let issuer = Issuer::new(ca_params(now), &ca_key);
    let (cert_pem, key_pem) = new_serving(&issuer, sans, now)?;
    Ok(CertBundle {
        ca_cert_pem,
        ca_key_pem: ca_key.serialize_pem(),
        cert_pem,
        key_pem,
    })
}

/// A new serving certificate for `sans` from the bundle's existing CA (`caBundle` stays the same).
pub fn reissue_serving(
    bundle: &CertBundle,
    sans: &[String],
    now: DateTime<Utc>,
) -> Result<CertBundle, CertError> {
    let ca_key = KeyPair::from_pem(&bundle.ca_key_pem).map_err(|e| CertError::Invalid {
        what: "CA key (ca.key)",
        reason: e.to_string(),
    })?;
    let ca_der = first_cert(&bundle.ca_cert_pem, "CA certificate (ca.crt)")?;
    let issuer = Issuer::from_ca_cert_der(&ca_der, &ca_key).map_err(|e| CertError::Invalid {
        what: "CA certificate (ca.crt)",
        reason: e.to_string(),
    })?;
    let (cert_pem, key_pem) = new_serving(&issuer, sans, now)?;
    Ok(CertBundle {
        cert_pem,
        key_pem,
        ..bundle.clone()
    })
}

/// Whatever `reason` calls for: a serving cert from the same CA, or a new CA (the old one, while still
/// valid at `now`, kept in `ca_cert_pem` after the new one so both are trusted during the hand-over).
pub fn renew(
    bundle: &CertBundle,
    reason: &RotationReason,
    sans: &[String],
    now: DateTime<Utc>,
) -> Result<CertBundle, CertError> {
    if !reason.renews_ca() {
        return reissue_serving(bundle, sans, now);
    }
    let mut fresh = generate(sans, now)?;
    if let Ok(old) = first_cert(&bundle.ca_cert_pem, "old CA") {
        let still_valid = parse(&old, "old CA")
            .map(|c| timestamp(c.validity().not_after.timestamp()) > now)
            .unwrap_or(false);
        if still_valid {
            fresh.ca_cert_pem.push_str(&pem_encode(&old));
        }
    }
    Ok(fresh)
}

/// Parses the bundle and checks that it hangs together: keys match their certificates, the serving
/// certificate is signed by the (first) CA.
pub fn inspect(bundle: &CertBundle) -> Result<BundleInfo, CertError> {
    let ca = check_ca(bundle)?;
    check_serving(bundle, &ca)
}

/// `None` when `bundle` can keep being used at `now` for `wanted_sans`, otherwise the first reason to
/// renew it (CA problems first, since they decide whether the CA is replaced).
pub fn needs_rotation(
    bundle: &CertBundle,
    now: DateTime<Utc>,
    wanted_sans: &[String],
) -> Option<RotationReason> {
    let ca = match check_ca(bundle) {
        Ok(ca) => ca,
        Err(e) => return Some(RotationReason::CaInvalid(e.to_string())),
    };
    if ca.not_after - now < CA_RENEW_BEFORE {
        return Some(RotationReason::CaExpiring {
            not_after: ca.not_after,
        });
    }
    let info = match check_serving(bundle, &ca) {
        Ok(info) => info,
        Err(e) => return Some(RotationReason::ServingInvalid(e.to_string())),
    };
    if info.not_after - now < SERVING_RENEW_BEFORE {
        return Some(RotationReason::ServingExpiring {
            not_after: info.not_after,
        });
    }
    let want = canonical_sans(wanted_sans);
    if info.sans != want {
        return Some(RotationReason::SansChanged {
            have: info.sans.into_iter().collect(),
            want: want.into_iter().collect(),
        });
    }
    None
}

/// Serial (lowercase hex) of a DER certificate, e.g. the one a server presented.
pub fn serial_hex_of_der(der: &[u8]) -> Result<String, CertError> {
    Ok(hex::encode(parse(der, "certificate")?.raw_serial()))
}

/// The DER of every certificate in a PEM document, in order.
pub fn pem_certs(pem: &str, what: &'static str) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let certs = rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertError::Invalid {
            what,
            reason: format!("bad PEM: {e}"),
        })?;
    if certs.is_empty() {
        return Err(CertError::Invalid {
            what,
            reason: "no CERTIFICATE block".into(),
        });
    }
    Ok(certs)
}

// ---- internals ----

/// The parsed signing CA: its DER (to verify the serving cert against) and expiry.
struct CaInfo {
    der: CertificateDer<'static>,
    not_after: DateTime<Utc>,
}

fn check_ca(bundle: &CertBundle) -> Result<CaInfo, CertError> {
    const WHAT: &str = "CA certificate (ca.crt)";
    let der = first_cert(&bundle.ca_cert_pem, WHAT)?;
    let cert = parse(&der, WHAT)?;
    if !cert.is_ca() {
        return Err(CertError::Invalid {
            what: WHAT,
            reason: "not a CA (basicConstraints CA:false)".into(),
        });
    }
    let key = KeyPair::from_pem(&bundle.ca_key_pem).map_err(|e| CertError::Invalid {
        what: "CA key (ca.key)",
        reason: e.to_string(),
    })?;
    if cert.public_key().subject_public_key.data.as_ref() != key.der_bytes() {
        return Err(CertError::Invalid {
            what: "CA key (ca.key)",
            reason: "does not match ca.crt".into(),
        });
    }
    let not_after = timestamp(cert.validity().not_after.timestamp());
    Ok(CaInfo { der, not_after })
}

fn check_serving(bundle: &CertBundle, ca: &CaInfo) -> Result<BundleInfo, CertError> {
    const WHAT: &str = "serving certificate (tls.crt)";
    let der = first_cert(&bundle.cert_pem, WHAT)?;
    let cert = parse(&der, WHAT)?;
    let key = KeyPair::from_pem(&bundle.key_pem).map_err(|e| CertError::Invalid {
        what: "serving key (tls.key)",
        reason: e.to_string(),
    })?;
    if cert.public_key().subject_public_key.data.as_ref() != key.der_bytes() {
        return Err(CertError::Invalid {
            what: "serving key (tls.key)",
            reason: "does not match tls.crt".into(),
        });
    }
    let ca_cert = parse(&ca.der, "CA certificate (ca.crt)")?;
    cert.verify_signature(Some(ca_cert.public_key()))
        .map_err(|e| CertError::Invalid {
            what: WHAT,
            reason: format!("not signed by ca.crt: {e}"),
        })?;
    let sans = match cert.subject_alternative_name() {
        Ok(Some(ext)) => ext
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => Some(canonical_san(d)),
                GeneralName::IPAddress(b) => ip_from_bytes(b).map(|ip| ip.to_string()),
                _ => None,
            })
            .collect(),
        Ok(None) => BTreeSet::new(),
        Err(e) => {
            return Err(CertError::Invalid {
                what: WHAT,
                reason: format!("subjectAltName: {e}"),
            })
        }
    };
    Ok(BundleInfo {
        ca_not_after: ca.not_after,
        not_after: timestamp(cert.validity().not_after.timestamp()),
        serial_hex: hex::encode(cert.raw_serial()),
        sans,
    })
}

fn ca_params(now: DateTime<Utc>) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_COMMON_NAME);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = SystemTime::from(now - BACKDATE).into();
    params.not_after = SystemTime::from(now + CA_VALIDITY).into();
    params
}

fn new_ca(now: DateTime<Utc>) -> Result<(String, KeyPair), CertError> {
    let key =
        KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|source| CertError::Generate {
            what: "generate the CA key",
            source,
        })?;
    let cert = ca_params(now)
        .self_signed(&key)
        .map_err(|source| CertError::Generate {
            what: "self-sign the CA",
            source,
        })?;
    Ok((cert.pem(), key))
}

fn new_serving(
    issuer: &Issuer<'_, &KeyPair>,
    sans: &[String],
    now: DateTime<Utc>,
) -> Result<(String, String), CertError> {
    let mut params = CertificateParams::default();
    params.subject_alt_names = sans.iter().map(|s| san_type(s)).collect::<Result<_, _>>()?;
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        sans.first()
            .map(String::as_str)
            .unwrap_or("spin-operator-webhook"),
    );
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = SystemTime::from(now - BACKDATE).into();
    params.not_after = SystemTime::from(now + SERVING_VALIDITY).into();
    let key =
        KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|source| CertError::Generate {
            what: "generate the serving key",
            source,
        })?;
    let cert = params
        .signed_by(&key, issuer)
        .map_err(|source| CertError::Generate {
            what: "sign the serving certificate",
            source,
        })?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn san_type(s: &str) -> Result<SanType, CertError> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let name = s
        .to_string()
        .try_into()
        .map_err(|source| CertError::InvalidSan {
            san: s.to_string(),
            source,
        })?;
    Ok(SanType::DnsName(name))
}

fn first_cert(pem: &str, what: &'static str) -> Result<CertificateDer<'static>, CertError> {
    pem_certs(pem, what)?
        .into_iter()
        .next()
        .ok_or_else(|| CertError::Invalid {
            what,
            reason: "no CERTIFICATE block".into(),
        })
}

fn parse<'a>(der: &'a [u8], what: &'static str) -> Result<X509Certificate<'a>, CertError> {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, cert)| cert)
        .map_err(|e| CertError::Invalid {
            what,
            reason: format!("not an X.509 certificate: {e}"),
        })
}

fn pem_encode(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => <[u8; 4]>::try_from(b).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(b).ok().map(IpAddr::from),
        _ => None,
    }
}

fn timestamp(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests;
