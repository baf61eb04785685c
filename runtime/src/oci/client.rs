//! Push and pull Spin artifacts with `oci-client`, mapping registry failures to errors that say
//! what to do.

use std::collections::HashMap;
use std::io::Write as _;

use futures::{StreamExt, TryStreamExt};
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::config::{Architecture, ConfigFile, Os};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::{Reference, RegistryOperation};

use super::assemble::Artifact;
use super::cache::{digest_of, BlobCache};
use super::OCI_MANIFEST_MEDIA_TYPE;
use super::{Credentials, OciError, DOCKER_MANIFEST_MEDIA_TYPE, LOCKED_APP_DIGEST_LABEL};

/// Parallel blob transfers.
const PARALLEL: usize = 4;

/// How to reach and authenticate to a registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Plain HTTP for every registry. Loopback registries (localhost, 127.0.0.0/8, ::1) use plain
    /// HTTP regardless, as Docker does.
    pub insecure: bool,
    /// Explicit credentials; `None` reads the Docker config, else anonymous.
    pub credentials: Option<Credentials>,
}

/// Byte-level progress for blob transfers (the CLI draws bars; the shim passes `()`).
pub trait Progress: Send + Sync {
    /// A transfer of `_total_bytes` begins.
    fn start(&self, _total_bytes: u64) {}
    /// `_bytes` more were transferred.
    fn advance(&self, _bytes: u64) {}
    /// The transfer is done.
    fn finish(&self) {}
}

impl Progress for () {}

/// A registry session for one image reference (`REGISTRY/REPO[:TAG|@DIGEST]`).
pub struct RegistryClient {
    client: oci_client::Client,
    reference: Reference,
    input: String,
    auth: oci_client::secrets::RegistryAuth,
}

/// What a push did.
#[derive(Debug)]
pub struct PushOutcome {
    /// `sha256:...` of the pushed manifest.
    pub digest: String,
    /// Layers uploaded by this push.
    pub layers_uploaded: usize,
    /// Layers the registry already had, so not uploaded.
    pub layers_present: usize,
}

/// What a pull did.
#[derive(Debug)]
pub struct PullOutcome {
    /// The pulled image manifest.
    pub manifest: OciImageManifest,
    /// `sha256:...` of the manifest.
    pub digest: String,
    /// Layers fetched from the registry.
    pub layers_downloaded: usize,
    /// Layers already in the blob cache, so not fetched.
    pub layers_cached: usize,
}

/// Parses `REGISTRY/REPO[:TAG|@DIGEST]`.
pub fn parse_reference(input: &str) -> Result<Reference, OciError> {
    input
        .parse()
        .map_err(|e: oci_client::ParseError| OciError::Reference {
            reference: input.into(),
            message: e.to_string(),
        })
}

fn is_loopback(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => registry,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

impl RegistryClient {
    /// A client for `reference`; plain HTTP if `opts.insecure` or the registry is loopback,
    /// credentials per [`Credentials::resolve`].
    pub fn new(reference: &str, opts: &RegistryOptions) -> Result<Self, OciError> {
        let parsed = parse_reference(reference)?;
        let registry = parsed.resolve_registry().to_string();
        let protocol = if opts.insecure {
            ClientProtocol::Http
        } else if is_loopback(&registry) {
            ClientProtocol::HttpsExcept(vec![registry.clone()])
        } else {
            ClientProtocol::Https
        };
        let creds = Credentials::resolve(opts.credentials.clone(), &registry)?;
        // reqwest is built without a bundled crypto provider: use ring, like the rest of the
        // runtime (an error only means one is already installed).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = oci_client::Client::new(ClientConfig {
            protocol,
            max_concurrent_download: PARALLEL,
            max_concurrent_upload: PARALLEL,
            ..Default::default()
        });
        Ok(RegistryClient {
            client,
            reference: parsed,
            input: reference.into(),
            auth: creds.to_registry_auth(),
        })
    }

    /// The parsed image reference.
    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    fn map_err(&self, op: &'static str) -> impl Fn(OciDistributionError) -> OciError + '_ {
        move |e| classify(e, &self.input, self.reference.resolve_registry(), op)
    }

    /// Uploads the artifact's layers (skipping those the registry has), its config, then the manifest.
    pub async fn push(
        &self,
        artifact: &Artifact,
        progress: &dyn Progress,
    ) -> Result<PushOutcome, OciError> {
        let r = &self.reference;
        self.client
            .auth(r, &self.auth, RegistryOperation::Push)
            .await
            .map_err(self.map_err("push"))?;
        let locked = artifact.layers.last().map(|l| l.digest.clone());
        let config_file = ConfigFile {
            architecture: Architecture::Wasm,
            // Spin writes this exact value.
            os: Os::Other("Wasip1".into()),
            // The label makes each app's config (and so its image ID) unique.
            config: Some(oci_client::config::Config {
                labels: locked.map(|d| HashMap::from([(LOCKED_APP_DIGEST_LABEL.into(), d)])),
                ..Default::default()
            }),
            ..Default::default()
        };
        let config = Config::oci_v1_from_config_file(config_file, None)
            .map_err(|e| OciError::Invalid(format!("image config: {e}")))?;
        let total: u64 = artifact.layers.iter().map(|l| l.data.len() as u64).sum();
        progress.start(total);
        let results: Vec<bool> = futures::stream::iter(&artifact.layers)
            .map(|layer| async move {
                let exists = self
                    .client
                    .blob_exists(r, &layer.digest)
                    .await
                    .map_err(self.map_err("push"))?;
                if !exists {
                    self.client
                        .push_blob(r, layer.data.clone(), &layer.digest)
                        .await
                        .map_err(self.map_err("push"))?;
                }
                progress.advance(layer.data.len() as u64);
                Ok::<_, OciError>(!exists)
            })
            .buffered(PARALLEL)
            .try_collect()
            .await?;
        self.client
            .push_blob(r, config.data.clone(), &digest_of(&config.data))
            .await
            .map_err(self.map_err("push"))?;
        let image_layers: Vec<ImageLayer> = artifact
            .layers
            .iter()
            .map(|l| ImageLayer::new(l.data.to_vec(), l.media_type.clone(), None))
            .collect();
        let mut manifest =
            OciImageManifest::build(&image_layers, &config, Some(artifact.annotations.clone()));
        manifest.media_type = Some(OCI_MANIFEST_MEDIA_TYPE.into());
        let body = serde_json::to_vec(&manifest)
            .map_err(|e| OciError::Invalid(format!("manifest: {e}")))?;
        self.client
            .push_manifest_raw(
                r,
                body.clone(),
                http::HeaderValue::from_static(OCI_MANIFEST_MEDIA_TYPE),
            )
            .await
            .map_err(self.map_err("push"))?;
        progress.finish();
        let uploaded = results.iter().filter(|u| **u).count();
        Ok(PushOutcome {
            digest: digest_of(&body),
            layers_uploaded: uploaded,
            layers_present: results.len() - uploaded,
        })
    }

    /// Fetches the manifest (from the cache when the reference pins a digest we hold) and every
    /// blob not already in `cache`; each blob is verified before it is stored.
    pub async fn pull(
        &self,
        cache: &BlobCache,
        progress: &dyn Progress,
    ) -> Result<PullOutcome, OciError> {
        let r = &self.reference;
        let pinned = r.digest().map(String::from);
        let (bytes, digest) = match pinned.as_deref().and_then(|d| cache.get(d).map(|_| d)) {
            Some(d) => (cache.read(d)?, d.to_string()),
            None => {
                let (bytes, _) = self
                    .client
                    .pull_manifest_raw(
                        r,
                        &self.auth,
                        &[OCI_MANIFEST_MEDIA_TYPE, DOCKER_MANIFEST_MEDIA_TYPE],
                    )
                    .await
                    .map_err(self.map_err("pull"))?;
                let digest = digest_of(&bytes);
                if let Some(want) = &pinned {
                    if *want != digest {
                        return Err(OciError::DigestMismatch {
                            expected: want.clone(),
                            actual: digest,
                        });
                    }
                }
                cache.put(&digest, &bytes)?;
                (bytes.to_vec(), digest)
            }
        };
        let manifest: OciImageManifest = serde_json::from_slice(&bytes).map_err(|e| {
            OciError::Invalid(format!(
                "{}: not an image manifest ({e}); image indexes are not supported, push a single-platform artifact",
                self.input
            ))
        })?;
        let mut wanted: Vec<&OciDescriptor> = Vec::new();
        for d in std::iter::once(&manifest.config).chain(&manifest.layers) {
            if cache.get(&d.digest).is_none() && !wanted.iter().any(|w| w.digest == d.digest) {
                wanted.push(d);
            }
        }
        let all = 1 + manifest.layers.len();
        progress.start(wanted.iter().map(|d| d.size.max(0) as u64).sum());
        futures::stream::iter(&wanted)
            .map(|d| self.fetch_blob(d, cache, progress))
            .buffer_unordered(PARALLEL)
            .try_collect::<Vec<()>>()
            .await?;
        progress.finish();
        Ok(PullOutcome {
            layers_downloaded: wanted.len(),
            layers_cached: all - wanted.len(),
            manifest,
            digest,
        })
    }

    async fn fetch_blob(
        &self,
        desc: &OciDescriptor,
        cache: &BlobCache,
        progress: &dyn Progress,
    ) -> Result<(), OciError> {
        let mut stream = self
            .client
            .pull_blob_stream(&self.reference, desc)
            .await
            .map_err(self.map_err("pull"))?;
        let mut writer = cache.writer(&desc.digest)?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| OciError::Registry {
                reference: self.input.clone(),
                message: format!("downloading {}: {e}", desc.digest),
            })?;
            writer
                .write_all(&chunk)
                .map_err(|e| OciError::Cache(format!("writing {}: {e}", desc.digest)))?;
            progress.advance(chunk.len() as u64);
        }
        if desc.size >= 0 && writer.written() != desc.size as u64 {
            return Err(OciError::Registry {
                reference: self.input.clone(),
                message: format!(
                    "blob {} has {} bytes, the manifest says {}; the registry returned truncated or corrupted data (nothing was cached)",
                    desc.digest,
                    writer.written(),
                    desc.size
                ),
            });
        }
        writer.commit()?;
        Ok(())
    }
}

fn classify(e: OciDistributionError, input: &str, registry: &str, op: &'static str) -> OciError {
    let reference = input.to_string();
    let status =
        match &e {
            OciDistributionError::ServerError { code, .. } => Some(*code),
            OciDistributionError::UnauthorizedError { .. }
            | OciDistributionError::AuthenticationFailure(_) => Some(401),
            OciDistributionError::ImageManifestNotFoundError(_) => Some(404),
            OciDistributionError::RequestError(err) => err.status().map(|s| s.as_u16()),
            OciDistributionError::RegistryError { envelope, .. } => envelope
                .errors
                .iter()
                .find_map(|err| match format!("{:?}", err.code).as_str() {
                    "Unauthorized" => Some(401),
                    "Denied" => Some(403),
                    "ManifestUnknown" | "NameUnknown" | "BlobUnknown" | "NotFound" => Some(404),
                    _ => None,
                }),
            _ => None,
        };
    match status {
        Some(401) => {
            return OciError::Unauthorized {
                reference,
                registry: registry.into(),
            }
        }
        Some(403) => {
            return OciError::Forbidden {
                reference,
                operation: op,
            }
        }
        Some(404) => return OciError::NotFound { reference },
        _ => {}
    }
    match e {
        OciDistributionError::RequestError(err) => {
            let mut message = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(s) = source {
                message = format!("{message}: {s}");
                source = s.source();
            }
            OciError::Unreachable {
                reference,
                registry: registry.into(),
                message,
            }
        }
        OciDistributionError::DigestError(d) => OciError::Registry {
            reference,
            message: format!("{d}; the registry returned corrupted data (nothing was cached)"),
        },
        other => OciError::Registry {
            reference,
            message: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_registries() {
        for r in [
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
        ] {
            assert!(super::is_loopback(r), "{r}");
        }
        for r in ["ghcr.io", "10.0.0.1:5000", "localhost.example.com"] {
            assert!(!super::is_loopback(r), "{r}");
        }
    }
}
