//! What a registry says of a reference without pulling it (`GET /distribution/{name}/json`,
//! docker-py's `get_registry_data`): the manifest's descriptor and the platforms it serves —
//! every entry's of an index, the config's of a single image, as dockerd reports them.

use std::io::Read;

use serde_json::Value;

use super::auth::repo_scope;
use super::client::{ReqBody, Request};
use super::error::RegistryError;
use super::pull::{fetch_manifest, is_index, manifest_blobs, BlobRef};
use super::RegistryClient;
use crate::digest::Digest;
use crate::reference::Reference;

/// An image config larger than this is not read for its platform.
const MAX_CONFIG: u64 = 4 << 20;

/// A manifest as the registry serves it, and the platforms it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteImage {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    pub platforms: Vec<RemotePlatform>,
}

/// Looks `reference` up (by digest, else by tag, `latest` by default).
pub fn inspect(
    client: &RegistryClient,
    reference: &Reference,
) -> Result<RemoteImage, RegistryError> {
    let repo = reference.path();
    let target = match reference.digest() {
        Some(d) => d.to_string(),
        None => reference.tag().unwrap_or("latest").to_string(),
    };
    let m = fetch_manifest(client, repo, &target, reference.digest())?;
    let platforms = if is_index(&m) {
        index_platforms(&m.bytes)
    } else {
        // As dockerd: a config that cannot be read leaves the list empty, not the request
        // failed.
        manifest_blobs(&m.bytes)
            .ok()
            .and_then(|blobs| blobs.into_iter().next())
            .and_then(|config| fetch_small_blob(client, repo, &config).ok())
            .and_then(|bytes| config_platform(&bytes))
            .into_iter()
            .collect()
    };
    Ok(RemoteImage {
        media_type: m.media_type,
        digest: m.digest,
        size: m.bytes.len() as u64,
        platforms,
    })
}

/// A small blob (an image config) read whole, checked against its digest.
fn fetch_small_blob(
    client: &RegistryClient,
    repo: &str,
    blob: &BlobRef,
) -> Result<Vec<u8>, RegistryError> {
    let what = format!("blob {}", blob.digest);
    let req = Request::new(
        "GET",
        client.url(&format!("/v2/{repo}/blobs/{}", blob.digest)),
        vec![repo_scope(repo, "pull")],
        what.clone(),
    )
    .body(ReqBody::Empty);
    let resp = client.send(&req)?;
    if resp.status() != 200 {
        return Err(client.status_error(resp, &what));
    }
    let mut bytes = Vec::new();
    resp.into_body()
        .into_reader()
        .take(MAX_CONFIG.min(blob.size) + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| client.body_error(&what, e))?;
    let actual = Digest::of(&bytes);
    if actual != blob.digest {
        return Err(RegistryError::DigestMismatch {
            registry: client.registry().to_string(),
            what,
            expected: blob.digest,
            actual,
        });
    }
    Ok(bytes)
}

/// A platform as an index entry or an image config states it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemotePlatform {
    pub architecture: String,
    pub os: String,
    pub os_version: Option<String>,
    pub os_features: Vec<String>,
    pub variant: Option<String>,
}

impl RemotePlatform {
    /// The OCI platform fields of `v` (an index entry's `platform`, an image config).
    fn of(v: &Value) -> RemotePlatform {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let some = |k: &str| Some(s(k)).filter(|s| !s.is_empty());
        RemotePlatform {
            architecture: s("architecture"),
            os: s("os"),
            os_version: some("os.version"),
            os_features: (v.get("os.features").and_then(Value::as_array).into_iter())
                .flatten()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect(),
            variant: some("variant"),
        }
    }
}

/// Every entry's platform of an index, in its order.
pub fn index_platforms(bytes: &[u8]) -> Vec<RemotePlatform> {
    let v: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    (v.get("manifests").and_then(Value::as_array).into_iter())
        .flatten()
        .map(|e| RemotePlatform::of(e.get("platform").unwrap_or(&Value::Null)))
        .collect()
}

/// An image config's platform; `None` when it names neither OS nor architecture.
pub fn config_platform(bytes: &[u8]) -> Option<RemotePlatform> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    let p = RemotePlatform::of(&v);
    (!p.os.is_empty() || !p.architecture.is_empty()).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(arch: &str, os: &str, variant: Option<&str>) -> RemotePlatform {
        RemotePlatform {
            architecture: arch.into(),
            os: os.into(),
            variant: variant.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn platforms_of_configs() {
        let windows = RemotePlatform {
            os_version: Some("10.0.1".into()),
            os_features: vec!["win32k".into()],
            ..p("amd64", "windows", None)
        };
        for (config, want) in [
            (
                json!({"architecture": "amd64", "os": "linux", "rootfs": {}}),
                Some(p("amd64", "linux", None)),
            ),
            (
                json!({"architecture": "arm", "os": "linux", "variant": "v7", "os.version": ""}),
                Some(p("arm", "linux", Some("v7"))),
            ),
            (
                json!({"architecture": "amd64", "os": "windows", "os.version": "10.0.1",
                       "os.features": ["win32k"]}),
                Some(windows),
            ),
            (json!({"config": {}}), None),
        ] {
            let bytes = serde_json::to_vec(&config).unwrap();
            assert_eq!(config_platform(&bytes), want, "{config}");
        }
        assert_eq!(config_platform(b"not json"), None);
    }

    #[test]
    fn platforms_of_indexes() {
        let index = json!({"schemaVersion": 2, "manifests": [
            {"digest": "sha256:aa", "platform": {"architecture": "amd64", "os": "linux"}},
            {"digest": "sha256:bb", "platform": {"architecture": "arm", "os": "linux",
                                                  "variant": "v7", "os.features": []}},
            {"digest": "sha256:cc"},
        ]});
        assert_eq!(
            index_platforms(&serde_json::to_vec(&index).unwrap()),
            [
                p("amd64", "linux", None),
                p("arm", "linux", Some("v7")),
                p("", "", None)
            ]
        );
        assert!(index_platforms(b"{}").is_empty());
    }
}
