//! The cache artifact: how cache entries and their blobs travel, in a registry or in an OCI
//! layout directory. Pure: bytes in, bytes out.
//!
//! An OCI image manifest (`application/vnd.oci.image.manifest.v1+json`) with
//! - `artifactType`: `application/vnd.strata.cache.v1+json`;
//! - `config`: a blob of media type `application/vnd.strata.cache.config.v1+json` holding
//!   `{"version":1,"entries":[…],"inputs":[…],"mounts":[…]}`. Each entry is a step result
//!   exactly as the local index stores it: `{"key","result":{"kind":"layer","digest",
//!   "diff_id","size","media_type"} | {"kind":"config_only"},"created","description"}`. Keys
//!   already chain their parents and inputs, so no parent links are needed. `inputs` lists
//!   `{"key","input"}`: what a `COPY --from` or `RUN --mount from=` selected from its source,
//!   keyed by the source's chain ID and the step (`exec::remote_cache::input_memo_key`).
//!   `mounts` (with `cache-mounts=true`) lists `{"name","digest","size"}`: a gzip tar of one
//!   `RUN --mount=type=cache` directory;
//! - `layers`: every blob an entry or mount names, with its own media type (mounts carry the
//!   annotation `dev.strata.cache-mount`), so the registry's garbage collection keeps them.
//!
//! Inline caches put the same `{"version","entries"}` document in the image config under
//! `strata.cache.v1` (a top-level field, as BuildKit's `moby.buildkit.cache.v0`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::digest::Digest;
use crate::exec::remote_cache::{CacheDocument, CACHE_DOCUMENT_VERSION, INLINE_FIELD};

pub const ARTIFACT_TYPE: &str = "application/vnd.strata.cache.v1+json";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.strata.cache.config.v1+json";
pub const MOUNT_ANNOTATION: &str = "dev.strata.cache-mount";
pub const MOUNT_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const IMAGE_CONFIGS: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// A cache mount's content as a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountBlob {
    /// The directory's name under `cache-mounts-v1/` (a hash of its id and seed).
    pub name: String,
    pub digest: Digest,
    pub size: u64,
}

/// The config blob of a cache artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactConfig {
    #[serde(flatten)]
    pub doc: CacheDocument,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<MountBlob>,
}

/// A blob descriptor of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

impl ArtifactConfig {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a cache config serialises")
    }

    /// Every blob the manifest must list: entry layers, then mount tars.
    pub fn blobs(&self) -> Vec<(Blob, Option<&str>)> {
        let mut out: Vec<(Blob, Option<&str>)> = self
            .doc
            .layers()
            .into_iter()
            .map(|l| {
                (
                    Blob {
                        media_type: l.media_type,
                        digest: l.digest,
                        size: l.size,
                    },
                    None,
                )
            })
            .collect();
        for m in &self.mounts {
            out.push((
                Blob {
                    media_type: MOUNT_MEDIA_TYPE.into(),
                    digest: m.digest,
                    size: m.size,
                },
                Some(m.name.as_str()),
            ));
        }
        out
    }
}

fn descriptor(b: &Blob) -> Value {
    json!({"mediaType": b.media_type, "digest": b.digest.to_string(), "size": b.size})
}

/// The artifact manifest for `config` (whose serialised bytes are `config_bytes`).
pub fn artifact_manifest(config: &ArtifactConfig, config_bytes: &[u8]) -> Vec<u8> {
    let layers: Vec<Value> = config
        .blobs()
        .iter()
        .map(|(b, mount)| {
            let mut d = descriptor(b);
            if let Some(name) = mount {
                d["annotations"] = json!({ MOUNT_ANNOTATION: name });
            }
            d
        })
        .collect();
    let m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": descriptor(&Blob {
            media_type: CONFIG_MEDIA_TYPE.into(),
            digest: Digest::of(config_bytes),
            size: config_bytes.len() as u64,
        }),
        "layers": layers,
    });
    serde_json::to_vec(&m).expect("a manifest serialises")
}

/// What a manifest found under a cache ref is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A strata cache artifact: its config blob is an [`ArtifactConfig`].
    Artifact { config: Blob },
    /// An image: its config may carry inline cache metadata.
    Image { config: Blob },
}

/// Classifies a manifest by its config's media type.
pub fn classify_manifest(bytes: &[u8]) -> Result<Found, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let c = v.get("config").ok_or("a manifest without config")?;
    let media_type = c
        .get("mediaType")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let digest: Digest = c
        .get("digest")
        .and_then(Value::as_str)
        .ok_or("a config without digest")?
        .parse()
        .map_err(|_| "a config digest that is not sha256".to_string())?;
    let size = c
        .get("size")
        .and_then(Value::as_u64)
        .ok_or("a config without size")?;
    let blob = Blob {
        media_type: media_type.clone(),
        digest,
        size,
    };
    let artifact = v.get("artifactType").and_then(Value::as_str) == Some(ARTIFACT_TYPE);
    if artifact || media_type == CONFIG_MEDIA_TYPE {
        Ok(Found::Artifact { config: blob })
    } else if IMAGE_CONFIGS.contains(&media_type.as_str()) {
        Ok(Found::Image { config: blob })
    } else {
        Err(format!(
            "neither a strata cache nor an image (config {media_type})"
        ))
    }
}

/// Reads an artifact's config blob.
pub fn parse_artifact_config(bytes: &[u8]) -> Result<ArtifactConfig, String> {
    let c: ArtifactConfig = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    check_version(&c.doc)?;
    Ok(c)
}

/// Reads the inline cache of an image config.
pub fn parse_inline(config: &[u8]) -> Result<CacheDocument, String> {
    let v: Value = serde_json::from_slice(config).map_err(|e| e.to_string())?;
    let field = v
        .get(INLINE_FIELD)
        .ok_or_else(|| format!("the image has no inline cache (no {INLINE_FIELD} field)"))?;
    let doc: CacheDocument = serde_json::from_value(field.clone()).map_err(|e| e.to_string())?;
    check_version(&doc)?;
    Ok(doc)
}

fn check_version(doc: &CacheDocument) -> Result<(), String> {
    if doc.version != CACHE_DOCUMENT_VERSION {
        return Err(format!(
            "cache format version {} (this strata reads {CACHE_DOCUMENT_VERSION})",
            doc.version
        ));
    }
    Ok(())
}

/// The `index.json` of a local cache directory naming the artifact manifest.
pub fn layout_index(manifest: &[u8]) -> Vec<u8> {
    let v = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": OCI_MANIFEST,
            "artifactType": ARTIFACT_TYPE,
            "digest": Digest::of(manifest).to_string(),
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "latest"},
        }],
    });
    serde_json::to_vec_pretty(&v).expect("an index serialises")
}

/// The manifest a local cache directory's `index.json` names: the strata cache artifact, else
/// the first manifest.
pub fn layout_manifest(index: &[u8]) -> Result<Blob, String> {
    let v: Value = serde_json::from_slice(index).map_err(|e| e.to_string())?;
    let list = v
        .get("manifests")
        .and_then(Value::as_array)
        .ok_or("index.json without manifests")?;
    let chosen = list
        .iter()
        .find(|m| m.get("artifactType").and_then(Value::as_str) == Some(ARTIFACT_TYPE))
        .or_else(|| list.first())
        .ok_or("index.json lists no manifest")?;
    Ok(Blob {
        media_type: OCI_MANIFEST.into(),
        digest: chosen
            .get("digest")
            .and_then(Value::as_str)
            .ok_or("an index entry without digest")?
            .parse()
            .map_err(|_| "an index digest that is not sha256".to_string())?,
        size: chosen.get("size").and_then(Value::as_u64).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::CacheKey;
    use crate::store::cache::{CacheEntry, CacheResult};

    fn config() -> ArtifactConfig {
        let layer = |n: u8| CacheEntry {
            key: CacheKey::from_bytes([n; 32]),
            result: CacheResult::Layer {
                digest: Digest::of(&[n]),
                diff_id: Digest::of(&[n, n]),
                size: 10 + n as u64,
                media_type: "application/vnd.oci.image.layer.v1.tar+zstd".into(),
            },
            created: "2026-11-22T10:00:00Z".into(),
            description: format!("RUN step {n}"),
        };
        ArtifactConfig {
            doc: CacheDocument::new(vec![layer(2), layer(1)]),
            mounts: vec![MountBlob {
                name: "abc".into(),
                digest: Digest::of(b"mount"),
                size: 5,
            }],
        }
    }

    #[test]
    fn artifact_round_trip() {
        let c = config();
        let bytes = c.to_bytes();
        let m = artifact_manifest(&c, &bytes);
        let v: Value = serde_json::from_slice(&m).unwrap();
        assert_eq!(v["artifactType"], ARTIFACT_TYPE);
        assert_eq!(v["config"]["mediaType"], CONFIG_MEDIA_TYPE);
        assert_eq!(v["config"]["digest"], Digest::of(&bytes).to_string());
        let layers = v["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 3);
        assert_eq!(layers[0]["digest"], Digest::of(&[1]).to_string());
        assert_eq!(layers[0]["size"], 11);
        assert_eq!(
            layers[0]["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );
        assert_eq!(layers[2]["annotations"][MOUNT_ANNOTATION], "abc");
        assert_eq!(
            classify_manifest(&m).unwrap(),
            Found::Artifact {
                config: Blob {
                    media_type: CONFIG_MEDIA_TYPE.into(),
                    digest: Digest::of(&bytes),
                    size: bytes.len() as u64
                }
            }
        );
        assert_eq!(parse_artifact_config(&bytes).unwrap(), c);
        // Deterministic: the same entries give the same manifest.
        assert_eq!(artifact_manifest(&config(), &config().to_bytes()), m);

        let idx = layout_index(&m);
        assert_eq!(layout_manifest(&idx).unwrap().digest, Digest::of(&m));
    }

    #[test]
    fn images_inline_metadata_and_versions() {
        let image = json!({"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":Digest::of(b"c").to_string(),"size":1},"layers":[]});
        assert!(matches!(
            classify_manifest(image.to_string().as_bytes()),
            Ok(Found::Image { .. })
        ));
        let other = image.to_string().replace("oci.image.config", "other.thing");
        assert!(classify_manifest(other.as_bytes()).is_err());

        let doc = config().doc;
        let cfg = json!({"architecture":"amd64", INLINE_FIELD: doc});
        assert_eq!(parse_inline(cfg.to_string().as_bytes()).unwrap(), doc);
        assert!(parse_inline(br#"{"architecture":"amd64"}"#)
            .unwrap_err()
            .contains("no inline cache"));
        let future = json!({INLINE_FIELD: {"version": 9, "entries": []}});
        assert!(parse_inline(future.to_string().as_bytes())
            .unwrap_err()
            .contains("version 9"));
    }
}
