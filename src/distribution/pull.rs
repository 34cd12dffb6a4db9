//! `pull`: manifest negotiation (OCI and Docker v2 schema 2, indexes resolved to a platform),
//! blobs streamed in parallel straight into the store and verified on commit, then the manifest
//! stored byte for byte and tagged. Layers stay packed; snapshots are made when a build needs
//! them.

use std::fs::{self, File};
use std::io::{Read, Write};

use oci_spec::image::{Descriptor, MediaType};
use rayon::prelude::*;
use serde_json::Value;

use super::auth::repo_scope;
use super::client::{ReqBody, Request};
use super::error::RegistryError;
use super::known_blobs;
use super::RegistryClient;
use crate::digest::Digest;
use crate::plan::platform::Platform;
use crate::reference::Reference;
use crate::store::{oci_digest, Image, Store, StoreError};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Manifests larger than this are refused (the registry's own limit is 4 MiB).
const MAX_MANIFEST: u64 = 4 << 20;
/// Blobs downloaded at once.
const PARALLEL: usize = 3;

/// A blob a manifest references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRef {
    pub digest: Digest,
    pub size: u64,
}

/// A manifest as fetched: its exact bytes, media type and digest.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
}

pub use crate::plan::platform_choice::{choose_platform, index_entries, IndexChoice};

/// What a pull reports as it goes (the API streams these as Docker's progress lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobProgress {
    /// The manifest is resolved: these are its blobs, and whether each is already stored.
    Resolved(Vec<(BlobRef, bool)>),
    /// A missing blob's download starts.
    Downloading(Digest),
    /// A missing blob is downloaded, verified and stored.
    Stored(Digest),
}

/// Pulls `reference` for `platform` into `store` and tags it (unless it names a digest only).
pub fn pull(
    store: &Store,
    client: &RegistryClient,
    reference: &Reference,
    platform: &Platform,
) -> Result<Image, RegistryError> {
    pull_with_progress(store, client, reference, platform, &|_| {})
}

/// `pull`, reporting each step to `progress` (called from the download threads too).
pub fn pull_with_progress(
    store: &Store,
    client: &RegistryClient,
    reference: &Reference,
    platform: &Platform,
    progress: &(dyn Fn(BlobProgress) + Sync),
) -> Result<Image, RegistryError> {
    let repo = reference.path();
    let mut m = fetch_manifest(client, repo, &target_of(reference), reference.digest())?;
    if is_index(&m) {
        let entries = index_entries(&m.bytes).map_err(|message| bad(client, &m, message))?;
        let chosen = choose_platform(&entries, platform).ok_or_else(|| {
            RegistryError::NoMatchingPlatform {
                registry: client.registry().to_string(),
                reference: reference.to_string(),
                platform: platform.to_string(),
                available: entries
                    .iter()
                    .filter_map(|e| e.platform.as_ref().map(Platform::to_string))
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })?;
        m = fetch_manifest(client, repo, &chosen.to_string(), Some(&chosen))?;
        if is_index(&m) {
            return Err(bad(client, &m, "an index inside an index".into()));
        }
    }
    let blobs = store_image(store, client, repo, &m, progress)?;
    let digests: Vec<Digest> = blobs.iter().map(|b| b.digest).collect();
    name(store, client, reference, &m, &digests)?;
    Ok(store.image(&m.digest)?)
}

/// The tag or digest a reference asks the registry for.
fn target_of(reference: &Reference) -> String {
    match reference.digest() {
        Some(d) => d.to_string(),
        None => reference.tag().unwrap_or("latest").to_string(),
    }
}

/// Lists the pulled manifest or index `m` (stored already) in index.json under the reference's
/// tag (untagged when pulled by digest), and remembers where its blobs came from.
fn name(
    store: &Store,
    client: &RegistryClient,
    reference: &Reference,
    m: &Fetched,
    blobs: &[Digest],
) -> Result<(), RegistryError> {
    let desc = Descriptor::new(
        MediaType::from(m.media_type.as_str()),
        m.bytes.len() as u64,
        oci_digest(&m.digest),
    );
    store.update_index(|idx| {
        match reference.digest() {
            Some(_) => idx.add_untagged_any(&desc),
            None => {
                idx.set_tag(&desc, reference);
            }
        }
        Ok(())
    })?;
    // Only a hint for later mounts: failing to record it does not fail the pull.
    let _ = known_blobs::remember(store, client.registry(), reference.path(), blobs);
    Ok(())
}

/// Pulls every platform of `reference`: an index (or manifest list) is stored byte for byte
/// with every manifest it lists and their blobs, and tagged as the index (its manifests stay
/// out of index.json, reached through it); a single manifest is pulled as [`pull`] pulls it.
/// Returns the tagged digest: the index's, or the manifest's.
pub fn pull_all_platforms(
    store: &Store,
    client: &RegistryClient,
    reference: &Reference,
    progress: &(dyn Fn(BlobProgress) + Sync),
) -> Result<Digest, RegistryError> {
    let repo = reference.path();
    let top = fetch_manifest(client, repo, &target_of(reference), reference.digest())?;
    let mut digests = Vec::new();
    if is_index(&top) {
        let entries = index_entries(&top.bytes).map_err(|message| bad(client, &top, message))?;
        for e in &entries {
            let m = fetch_manifest(client, repo, &e.digest.to_string(), Some(&e.digest))?;
            if is_index(&m) {
                return Err(bad(client, &m, "an index inside an index".into()));
            }
            let blobs = store_image(store, client, repo, &m, progress)?;
            digests.extend(blobs.iter().map(|b| b.digest));
        }
        store.write_blob(&top.bytes)?;
    } else {
        let blobs = store_image(store, client, repo, &top, progress)?;
        digests.extend(blobs.iter().map(|b| b.digest));
    }
    name(store, client, reference, &top, &digests)?;
    Ok(top.digest)
}

/// Downloads the config and layers of the image manifest `m` that the store lacks (a few at
/// once, each verified), then stores the manifest itself; returns its blobs, config first.
fn store_image(
    store: &Store,
    client: &RegistryClient,
    repo: &str,
    m: &Fetched,
    progress: &(dyn Fn(BlobProgress) + Sync),
) -> Result<Vec<BlobRef>, RegistryError> {
    let blobs = manifest_blobs(&m.bytes).map_err(|message| bad(client, m, message))?;
    let missing: Vec<&BlobRef> = blobs
        .iter()
        .filter(|b| !store.has_blob(&b.digest))
        .collect();
    progress(BlobProgress::Resolved(
        blobs
            .iter()
            .map(|b| (b.clone(), !missing.contains(&b)))
            .collect(),
    ));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(PARALLEL)
        .build()
        .expect("a thread pool");
    pool.install(|| {
        missing
            .par_iter()
            .map(|b| {
                progress(BlobProgress::Downloading(b.digest));
                fetch_blob(store, client, repo, b)?;
                progress(BlobProgress::Stored(b.digest));
                Ok(())
            })
            .collect::<Result<Vec<()>, RegistryError>>()
    })?;
    let stored = store.write_blob(&m.bytes)?;
    debug_assert_eq!(stored, m.digest);
    Ok(blobs)
}

fn bad(client: &RegistryClient, m: &Fetched, message: String) -> RegistryError {
    RegistryError::BadResponse {
        registry: client.registry().to_string(),
        what: format!("manifest {}", m.digest),
        message,
    }
}

pub(crate) fn is_index(m: &Fetched) -> bool {
    m.media_type == OCI_INDEX || m.media_type == DOCKER_LIST
}

/// GETs a manifest by tag or digest, checking it against `expected` (or the registry's
/// `Docker-Content-Digest`).
pub fn fetch_manifest(
    client: &RegistryClient,
    repo: &str,
    target: &str,
    expected: Option<&Digest>,
) -> Result<Fetched, RegistryError> {
    let what = format!("manifest {repo}:{target}");
    let req = Request::new(
        "GET",
        client.url(&format!("/v2/{repo}/manifests/{target}")),
        vec![repo_scope(repo, "pull")],
        what.clone(),
    )
    .header(
        "Accept",
        [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].join(", "),
    )
    .body(ReqBody::Empty);
    let resp = client.send(&req)?;
    if resp.status() != 200 {
        return Err(client.status_error(resp, &what));
    }
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header("content-type");
    let registry_digest = header("docker-content-digest").and_then(|d| d.parse::<Digest>().ok());
    let mut bytes = Vec::new();
    resp.into_body()
        .into_reader()
        .take(MAX_MANIFEST + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| client.body_error(&what, e))?;
    let digest = Digest::of(&bytes);
    if let Some(exp) = expected.or(registry_digest.as_ref()) {
        if *exp != digest {
            return Err(RegistryError::DigestMismatch {
                registry: client.registry().to_string(),
                what,
                expected: *exp,
                actual: digest,
            });
        }
    }
    let media_type = media_type_of(&bytes, content_type.as_deref());
    Ok(Fetched {
        bytes,
        media_type,
        digest,
    })
}

/// The manifest's media type: its own `mediaType` field, else the `Content-Type`, else OCI's
/// manifest or index by shape.
pub fn media_type_of(bytes: &[u8], content_type: Option<&str>) -> String {
    let v: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    if let Some(mt) = v.get("mediaType").and_then(Value::as_str) {
        return mt.to_string();
    }
    let ct = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim())
        .filter(|c| [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].contains(c));
    match ct {
        Some(c) => c.to_string(),
        None if v.get("manifests").is_some() => OCI_INDEX.to_string(),
        None => OCI_MANIFEST.to_string(),
    }
}

fn digest_field(v: &Value, what: &str) -> Result<Digest, String> {
    v.get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{what} has no digest"))?
        .parse()
        .map_err(|_| format!("{what} has an unsupported digest (only sha256 is)"))
}

/// The config and layers of an image manifest, config first.
pub fn manifest_blobs(bytes: &[u8]) -> Result<Vec<BlobRef>, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if v.get("schemaVersion").and_then(Value::as_u64) != Some(2) {
        return Err("only schema version 2 manifests are supported".into());
    }
    let blob = |e: &Value, what: &str| -> Result<BlobRef, String> {
        Ok(BlobRef {
            digest: digest_field(e, what)?,
            size: e
                .get("size")
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("{what} has no size"))?,
        })
    };
    let mut out = vec![blob(v.get("config").ok_or("no config")?, "the config")?];
    for l in v
        .get("layers")
        .and_then(Value::as_array)
        .ok_or("no layers")?
    {
        out.push(blob(l, "a layer")?);
    }
    Ok(out)
}

/// Times a dropped blob download is resumed with a `Range` request.
const RESUMES: usize = 3;

/// Streams one blob into the store; a short, long or corrupted body never enters it. A
/// connection dropped mid-body is resumed from the bytes already written; when the pull fails
/// anyway, those bytes are kept as `tmp/partial-<hex>` for the next pull to resume from (tmp/
/// is garbage to `system prune`, so an abandoned partial costs nothing for long).
pub fn fetch_blob(
    store: &Store,
    client: &RegistryClient,
    repo: &str,
    blob: &BlobRef,
) -> Result<(), RegistryError> {
    let what = format!("blob {}", blob.digest);
    let get = |from: u64| -> Result<Option<Box<dyn Read + Send>>, RegistryError> {
        let mut req = Request::new(
            "GET",
            client.url(&format!("/v2/{repo}/blobs/{}", blob.digest)),
            vec![repo_scope(repo, "pull")],
            what.clone(),
        );
        if from > 0 {
            req = req.header("Range", format!("bytes={from}-"));
        }
        let resp = client.send(&req)?;
        match resp.status().as_u16() {
            200 if from == 0 => {}
            206 if from > 0 => {}
            // The registry ignored the range: the caller keeps its own error.
            200 => return Ok(None),
            _ => return Err(client.status_error(resp, &what)),
        }
        Ok(Some(Box::new(resp.into_body().into_reader())))
    };
    let partial = store
        .tmp_dir()
        .join(format!("partial-{}", blob.digest.hex()));
    let mut w = store.blob_writer()?;
    if let Ok(mut f) = File::open(&partial) {
        let _ = fs::remove_file(&partial);
        if std::io::copy(&mut f, &mut w).is_err() || w.written() > blob.size {
            w = store.blob_writer()?;
        }
    }
    let mut reader = match get(w.written())? {
        Some(r) => r,
        None => {
            // The registry ignored the range: start over.
            w = store.blob_writer()?;
            get(0)?.expect("a full GET")
        }
    };
    let mut buf = vec![0u8; 256 * 1024];
    let mut resumes = 0;
    loop {
        let failure = match reader.read(&mut buf) {
            Ok(0) if w.written() >= blob.size => break,
            Ok(0) => std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("body ended after {} of {} bytes", w.written(), blob.size),
            ),
            Ok(n) => {
                w.write_all(&buf[..n])
                    .map_err(StoreError::io("cannot write", store.tmp_dir()))?;
                if w.written() > blob.size {
                    break;
                }
                continue;
            }
            Err(e) => e,
        };
        resumes += 1;
        let next = if resumes > RESUMES {
            None
        } else {
            get(w.written()).ok().flatten()
        };
        match next {
            Some(r) => reader = r,
            None => {
                if let Ok(p) = w.finish() {
                    let _ = fs::hard_link(p.path(), &partial);
                }
                return Err(client.body_error(&what, failure));
            }
        }
    }
    let pending = w.finish()?;
    let actual = pending.digest();
    if actual != blob.digest || pending.size() != blob.size {
        return Err(RegistryError::DigestMismatch {
            registry: client.registry().to_string(),
            what,
            expected: blob.digest,
            actual,
        });
    }
    pending.commit(Some(&blob.digest))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Digest {
        Digest::of(s.as_bytes())
    }

    #[test]
    fn index_and_manifest_parsing() {
        let h = |c: &str| d(c).to_string();
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[
              {{"digest":"{}","size":1,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}},
              {{"digest":"{}","size":1}}]}}"#,
            h("a"),
            h("b")
        );
        let entries = index_entries(index.as_bytes()).unwrap();
        assert_eq!(
            entries[0].platform,
            Some(Platform::parse("linux/arm64").unwrap())
        );
        assert_eq!(entries[1].platform, None);
        assert_eq!(media_type_of(index.as_bytes(), None), DOCKER_LIST);

        let m = format!(
            r#"{{"schemaVersion":2,"config":{{"digest":"{}","size":3}},"layers":[{{"digest":"{}","size":5}}]}}"#,
            h("c"),
            h("l")
        );
        assert_eq!(
            manifest_blobs(m.as_bytes()).unwrap(),
            vec![
                BlobRef {
                    digest: d("c"),
                    size: 3
                },
                BlobRef {
                    digest: d("l"),
                    size: 5
                }
            ]
        );
        assert_eq!(media_type_of(m.as_bytes(), None), OCI_MANIFEST);
        assert_eq!(
            media_type_of(
                m.as_bytes(),
                Some(&format!("{DOCKER_MANIFEST}; charset=utf-8"))
            ),
            DOCKER_MANIFEST
        );
        assert!(manifest_blobs(br#"{"schemaVersion":1}"#).is_err());
        assert!(manifest_blobs(
            br#"{"schemaVersion":2,"config":{"digest":"md5:x","size":1},"layers":[]}"#
        )
        .is_err());
    }
}
