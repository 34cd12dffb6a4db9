//! `push`: each blob is checked with a HEAD, mounted from a sibling repository the store knows
//! holds it, or uploaded (monolithic below [`CHUNK_THRESHOLD`], chunked PATCHes above, falling
//! back to monolithic when the registry refuses chunks); then the manifest is PUT by tag.

use rayon::prelude::*;

use super::auth::{percent_encode, repo_scope};
use super::client::{ReqBody, Request};
use super::error::RegistryError;
use super::known_blobs::{self, KnownBlobs};
use super::pull::{manifest_blobs, media_type_of, BlobRef};
use super::RegistryClient;
use crate::digest::Digest;
use crate::reference::Reference;
use crate::store::{Store, StoreError};

/// Blobs at least this big go up in chunks.
pub const CHUNK_THRESHOLD: u64 = 8 << 20;
const CHUNK_SIZE: u64 = 8 << 20;
const PARALLEL: usize = 3;

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The manifest digest, as the registry now names it.
    pub digest: Digest,
    /// The manifest's size in bytes.
    pub size: u64,
    pub uploaded: usize,
    pub mounted: usize,
    /// Blobs the registry already had.
    pub existing: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Existing,
    Mounted,
    Uploaded,
}

/// What a push reports per blob (the config blob first, then the layers in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushProgress {
    /// The blobs of the manifest, config first.
    Resolved(Vec<Digest>),
    Pushing(Digest),
    /// Uploaded or mounted from another repository.
    Pushed(Digest),
    Existed(Digest),
}

/// Pushes the image `local_ref` (a reference or ID in the store) as `remote_ref`.
pub fn push(
    store: &Store,
    client: &RegistryClient,
    local_ref: &str,
    remote_ref: &Reference,
) -> Result<Pushed, RegistryError> {
    push_with_progress(store, client, local_ref, remote_ref, &|_| {})
}

/// `push`, reporting each blob to `progress` (called from the upload threads too).
pub fn push_with_progress(
    store: &Store,
    client: &RegistryClient,
    local_ref: &str,
    remote_ref: &Reference,
    progress: &(dyn Fn(PushProgress) + Sync),
) -> Result<Pushed, RegistryError> {
    let image = store.resolve(local_ref)?;
    // A multi-platform image: every platform's manifest goes up by digest, then the index
    // under the tag (a registry refuses an index whose manifests it lacks).
    let (top, children) = match &image.index {
        Some(index) => {
            let index = index.digest()?;
            let children = store
                .index_choices(&index)?
                .into_iter()
                .map(|c| c.digest)
                .collect();
            (index, children)
        }
        None => (image.manifest_digest, vec![image.manifest_digest]),
    };
    let mut manifests = Vec::new();
    let mut blobs: Vec<BlobRef> = Vec::new();
    for m in &children {
        let bytes = store.read_blob(m)?;
        let listed = manifest_blobs(&bytes).map_err(|message| RegistryError::BadResponse {
            registry: "the store".into(),
            what: format!("manifest {m}"),
            message,
        })?;
        for b in listed {
            if !blobs.iter().any(|x| x.digest == b.digest) {
                blobs.push(b);
            }
        }
        manifests.push((*m, bytes));
    }
    let bytes = store.read_blob(&top)?;
    let media_type = media_type_of(&bytes, None);
    let repo = remote_ref.path();
    let known = known_blobs::load(store);
    progress(PushProgress::Resolved(
        blobs.iter().map(|b| b.digest).collect(),
    ));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(PARALLEL)
        .build()
        .expect("a thread pool");
    let outcomes = pool.install(|| {
        blobs
            .par_iter()
            .map(|b| {
                progress(PushProgress::Pushing(b.digest));
                let o = push_blob(store, client, &known, repo, b)?;
                progress(match o {
                    Outcome::Existing => PushProgress::Existed(b.digest),
                    _ => PushProgress::Pushed(b.digest),
                });
                Ok(o)
            })
            .collect::<Result<Vec<Outcome>, RegistryError>>()
    })?;

    let target = match (remote_ref.tag(), remote_ref.digest()) {
        (Some(t), _) => t.to_string(),
        (None, Some(d)) => d.to_string(),
        (None, None) => "latest".to_string(),
    };
    if image.index.is_some() {
        for (m, child) in &manifests {
            put_manifest(
                client,
                repo,
                &m.to_string(),
                child,
                &media_type_of(child, None),
            )?;
        }
    }
    let digest = put_manifest(client, repo, &target, &bytes, &media_type)?;
    let digests: Vec<Digest> = blobs.iter().map(|b| b.digest).collect();
    // Only a hint for later mounts: failing to record it does not fail the push.
    let _ = known_blobs::remember(store, client.registry(), repo, &digests);
    let count = |o: Outcome| outcomes.iter().filter(|x| **x == o).count();
    Ok(Pushed {
        digest,
        size: bytes.len() as u64,
        uploaded: count(Outcome::Uploaded),
        mounted: count(Outcome::Mounted),
        existing: count(Outcome::Existing),
    })
}

/// PUTs manifest `bytes` as `repo:target` (a tag or digest); returns its digest, checked
/// against the one the registry echoes.
pub fn put_manifest(
    client: &RegistryClient,
    repo: &str,
    target: &str,
    bytes: &[u8],
    media_type: &str,
) -> Result<Digest, RegistryError> {
    let what = format!("manifest {repo}:{target}");
    let req = Request::new(
        "PUT",
        client.url(&format!("/v2/{repo}/manifests/{target}")),
        push_scopes(repo),
        what.clone(),
    )
    .header("Content-Type", media_type)
    .body(ReqBody::Bytes(bytes));
    let resp = client.send(&req)?;
    if resp.status() != 201 {
        return Err(client.status_error(resp, &what));
    }
    let digest = Digest::of(bytes);
    let echoed = resp
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<Digest>().ok());
    if let Some(e) = echoed.filter(|e| *e != digest) {
        return Err(RegistryError::DigestMismatch {
            registry: client.registry().to_string(),
            what,
            expected: digest,
            actual: e,
        });
    }
    Ok(digest)
}

/// Whether `repo` already has blob `digest` (a HEAD).
pub fn blob_exists(
    client: &RegistryClient,
    repo: &str,
    digest: &Digest,
) -> Result<bool, RegistryError> {
    let what = format!("blob {digest}");
    let head = Request::new(
        "HEAD",
        client.url(&format!("/v2/{repo}/blobs/{digest}")),
        push_scopes(repo),
        what.clone(),
    );
    let resp = client.send(&head)?;
    match resp.status().as_u16() {
        200 => Ok(true),
        // The check only saves an upload: a registry that cannot answer it (a 5xx, e.g. its
        // record of this blob was torn by a crash) gets the blob again, and the upload's own
        // answer says whether the registry works.
        404 | 500..=599 => Ok(false),
        _ => Err(client.status_error(resp, &what)),
    }
}

/// Uploads one blob of the store to `repo` unless the registry has it; returns whether it
/// went up (rather than being there or mounted).
pub fn push_store_blob(
    store: &Store,
    client: &RegistryClient,
    repo: &str,
    blob: &BlobRef,
) -> Result<bool, RegistryError> {
    let known = known_blobs::load(store);
    let outcome = push_blob(store, client, &known, repo, blob)?;
    if outcome != Outcome::Existing {
        let _ = known_blobs::remember(store, client.registry(), repo, &[blob.digest]);
    }
    Ok(outcome == Outcome::Uploaded)
}

fn push_scopes(repo: &str) -> Vec<String> {
    vec![repo_scope(repo, "pull,push")]
}

/// `url` with one more query parameter.
fn with_query(url: &str, key: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{key}={}", percent_encode(value))
}

fn push_blob(
    store: &Store,
    client: &RegistryClient,
    known: &KnownBlobs,
    repo: &str,
    blob: &BlobRef,
) -> Result<Outcome, RegistryError> {
    let what = format!("blob {}", blob.digest);
    let path = store.blob_path(&blob.digest);
    if !store.has_blob(&blob.digest) {
        return Err(StoreError::MissingBlob(blob.digest).into());
    }
    if blob_exists(client, repo, &blob.digest)? {
        return Ok(Outcome::Existing);
    }

    let mut session = None;
    if let Some(from) = known.mount_source(&blob.digest, client.registry(), repo) {
        let url = with_query(
            &client.url(&format!("/v2/{repo}/blobs/uploads/")),
            "mount",
            &blob.digest.to_string(),
        );
        let mut scopes = push_scopes(repo);
        scopes.push(repo_scope(&from, "pull"));
        let req = Request::new(
            "POST",
            with_query(&url, "from", &from),
            scopes,
            what.clone(),
        );
        let resp = client.send(&req)?;
        match resp.status().as_u16() {
            201 => return Ok(Outcome::Mounted),
            // Not mountable after all: the registry opened an upload session instead.
            202 => session = Some(location(client, &resp, &what)?),
            _ => return Err(client.status_error(resp, &what)),
        }
    }
    let session = match session {
        Some(s) => s,
        None => start_upload(client, repo, &what)?,
    };
    let file = |offset: u64, len: u64| ReqBody::File {
        path: &path,
        offset,
        len,
    };
    if blob.size < CHUNK_THRESHOLD {
        finish_upload(client, repo, &session, blob, file(0, blob.size), &what)?;
        return Ok(Outcome::Uploaded);
    }
    match upload_chunks(client, repo, session, blob, &file, &what)? {
        Some(last) => finish_upload(client, repo, &last, blob, ReqBody::Empty, &what)?,
        None => {
            let fresh = start_upload(client, repo, &what)?;
            finish_upload(client, repo, &fresh, blob, file(0, blob.size), &what)?;
        }
    }
    Ok(Outcome::Uploaded)
}

fn location(
    client: &RegistryClient,
    resp: &ureq::http::Response<ureq::Body>,
    what: &str,
) -> Result<String, RegistryError> {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(|l| client.absolute(l))
        .ok_or_else(|| RegistryError::BadResponse {
            registry: client.registry().to_string(),
            what: what.to_string(),
            message: "upload response without a Location".into(),
        })
}

fn start_upload(client: &RegistryClient, repo: &str, what: &str) -> Result<String, RegistryError> {
    let req = Request::new(
        "POST",
        client.url(&format!("/v2/{repo}/blobs/uploads/")),
        push_scopes(repo),
        what.to_string(),
    );
    let resp = client.send(&req)?;
    if resp.status() != 202 {
        return Err(client.status_error(resp, what));
    }
    location(client, &resp, what)
}

/// PATCHes the blob in chunks; returns the last session URL, or `None` when the registry
/// refused the first chunk (the caller falls back to one PUT).
fn upload_chunks<'a>(
    client: &RegistryClient,
    repo: &str,
    mut session: String,
    blob: &BlobRef,
    file: &dyn Fn(u64, u64) -> ReqBody<'a>,
    what: &str,
) -> Result<Option<String>, RegistryError> {
    let mut offset = 0;
    while offset < blob.size {
        let len = CHUNK_SIZE.min(blob.size - offset);
        let req = Request::new(
            "PATCH",
            session.clone(),
            push_scopes(repo),
            what.to_string(),
        )
        .header("Content-Type", "application/octet-stream")
        .header("Content-Range", format!("{offset}-{}", offset + len - 1))
        .body(file(offset, len));
        let resp = client.send(&req)?;
        match resp.status().as_u16() {
            202 => session = location(client, &resp, what)?,
            400 | 405 | 416 | 501 if offset == 0 => return Ok(None),
            _ => return Err(client.status_error(resp, what)),
        }
        offset += len;
    }
    Ok(Some(session))
}

fn finish_upload(
    client: &RegistryClient,
    repo: &str,
    session: &str,
    blob: &BlobRef,
    body: ReqBody,
    what: &str,
) -> Result<(), RegistryError> {
    let req = Request::new(
        "PUT",
        with_query(session, "digest", &blob.digest.to_string()),
        push_scopes(repo),
        what.to_string(),
    )
    .header("Content-Type", "application/octet-stream")
    .body(body);
    let resp = client.send(&req)?;
    if resp.status() != 201 {
        return Err(client.status_error(resp, what));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters() {
        assert_eq!(
            with_query("http://h/v2/a/blobs/uploads/u", "digest", "sha256:ab"),
            "http://h/v2/a/blobs/uploads/u?digest=sha256%3Aab"
        );
        assert_eq!(
            with_query("http://h/u?_state=x", "from", "a/b"),
            "http://h/u?_state=x&from=a%2Fb"
        );
    }
}
