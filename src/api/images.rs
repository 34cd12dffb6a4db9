//! Image endpoints: list, inspect, history, tag, remove, prune. Names may contain slashes, so
//! everything under `/images/` but `json` and `prune` arrives as one path (`router::image_path`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{self, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bollard_stubs::models::{
    HistoryResponseItem, ImageDeleteResponseItem, ImageInspect, ImagePruneResponse, ImageSummary,
};

use super::error::ApiError;
use super::query::{bool_param, filters, Params};
use super::router::{image_path, ImagePath};
use super::{blocking, State};
use crate::engine;
use crate::engine::images::{created, ListRequest};
use crate::engine::system::ImageShare;
use crate::reference::Reference;
use crate::store::image::RemoveEvent;
use crate::store::time::parse_rfc3339;
use crate::store::Image;

type Shared = extract::State<Arc<State>>;

fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The list item for one image under `tags` (`share` when known, else Docker's `-1`).
pub fn summary(img: &Image, tags: &[Reference], share: Option<ImageShare>) -> ImageSummary {
    let labels: HashMap<String, String> = img
        .config
        .config
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    // As dockerd: with a reference filter, only the digests of the repositories shown.
    let mut repo_digests: Vec<String> = Vec::new();
    for t in tags {
        let d = t.with_digest(img.manifest_digest).familiar_string();
        if !repo_digests.contains(&d) {
            repo_digests.push(d);
        }
    }
    ImageSummary {
        id: img.id.to_string(),
        parent_id: String::new(),
        repo_tags: tags.iter().map(|t| t.familiar_string()).collect(),
        repo_digests,
        created: created(img).unwrap_or_default(),
        size: i64_of(img.size()),
        shared_size: share.map_or(-1, |s| i64_of(s.shared)),
        labels,
        containers: share.map_or(-1, |s| i64::try_from(s.containers).unwrap_or(i64::MAX)),
        manifests: None,
        descriptor: None,
    }
}

/// `GET /images/json?all=&filters=&digests=`: one item per image (strata records no parent
/// images, so `all` lists the same ones; `digests` is always honoured).
pub async fn list(
    extract::State(s): Shared,
    Query(p): Query<Params>,
) -> Result<Json<Vec<ImageSummary>>, ApiError> {
    let req = ListRequest {
        filters: filters(&p)?,
        reference: None,
    };
    let root = s.root.clone();
    let listed = blocking(move || engine::images::list(&root, &req)).await?;
    Ok(Json(
        listed
            .iter()
            .map(|l| summary(&l.image, &l.tags, None))
            .collect(),
    ))
}

/// `GET /images/{name}/json`, `GET /images/{name}/history` and `GET /images/{name}/get`.
pub async fn get(
    extract::State(s): Shared,
    extract::Path(rest): extract::Path<String>,
) -> Result<Response, ApiError> {
    let root = s.root.clone();
    match image_path(&rest) {
        ImagePath::Inspect(name) => {
            let name = name.to_string();
            let (img, parent) = blocking(move || {
                let img = engine::images::get(&root, &name)?;
                let parent = crate::store::Store::open(&root)?.parent_of(&img.id);
                Ok::<_, crate::engine::EngineError>((img, parent))
            })
            .await?;
            let v = engine::image_inspect::inspect_json(&img, parent.as_ref());
            // Checked against bollard's model, but sent as built: the model drops the `null`s
            // (`"Cmd": null`) that dockerd sends and clients index into.
            serde_json::from_value::<ImageInspect>(v.clone())
                .map_err(|e| ApiError::internal(format!("image {}: {e}", img.id)))?;
            Ok(Json(v).into_response())
        }
        ImagePath::History(name) => {
            let name = name.to_string();
            let entries = blocking(move || engine::images::history(&root, &name)).await?;
            let items: Vec<HistoryResponseItem> = entries
                .into_iter()
                .map(|e| HistoryResponseItem {
                    id: e.id.map_or("<missing>".into(), |d| d.to_string()),
                    created: e
                        .created
                        .as_deref()
                        .and_then(parse_rfc3339)
                        .unwrap_or_default(),
                    created_by: e.created_by,
                    tags: e.tags.iter().map(|t| t.familiar_string()).collect(),
                    size: i64_of(e.size),
                    comment: e.comment,
                })
                .collect();
            Ok(Json(items).into_response())
        }
        ImagePath::Save(name) => super::archive::save(root, vec![name.to_string()]).await,
        _ => Err(ApiError::not_found_page()),
    }
}

/// `POST /images/{name}/tag?repo=&tag=` (201 on success, as dockerd) and
/// `POST /images/{name}/push` (`api::push`).
pub async fn post(
    extract::State(s): Shared,
    extract::Path(rest): extract::Path<String>,
    Query(p): Query<Params>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let name = match image_path(&rest) {
        ImagePath::Tag(name) => name,
        ImagePath::Push(name) => {
            return super::push::push(s.root.clone(), name, &p, &headers).await
        }
        _ => return Err(ApiError::not_found_page()),
    };
    let repo = p.get("repo").cloned().unwrap_or_default();
    if repo.is_empty() {
        return Err(ApiError::bad_request(
            "repository name must have at least one component",
        ));
    }
    let target = match p.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{repo}:{t}"),
        None => repo,
    };
    let (root, name) = (s.root.clone(), name.to_string());
    blocking(move || engine::images::tag(&root, &name, &target)).await?;
    Ok(StatusCode::CREATED.into_response())
}

fn removal_item(e: RemoveEvent) -> ImageDeleteResponseItem {
    match e {
        RemoveEvent::Untagged(t) => ImageDeleteResponseItem {
            untagged: Some(t.familiar_string()),
            deleted: None,
        },
        RemoveEvent::Deleted(id) => ImageDeleteResponseItem {
            untagged: None,
            deleted: Some(id.to_string()),
        },
    }
}

/// `DELETE /images/{name}?force=&noprune=`. strata never keeps untagged parents, so `noprune`
/// changes nothing; blobs are reclaimed by prune.
pub async fn delete(
    extract::State(s): Shared,
    extract::Path(rest): extract::Path<String>,
    Query(p): Query<Params>,
) -> Result<Json<Vec<ImageDeleteResponseItem>>, ApiError> {
    let name = rest.strip_prefix('/').unwrap_or(&rest).to_string();
    let force = bool_param(&p, "force");
    let root = s.root.clone();
    let events = blocking(move || engine::images::remove(&root, &name, force)).await?;
    Ok(Json(events.into_iter().map(removal_item).collect()))
}

/// `POST /images/prune?filters=`: dangling images, or every unused one with
/// `dangling=false`.
pub async fn prune(
    extract::State(s): Shared,
    Query(p): Query<Params>,
) -> Result<Json<ImagePruneResponse>, ApiError> {
    let mut all = false;
    for f in filters(&p)? {
        match f.split_once('=') {
            Some(("dangling", v)) => {
                all = matches!(v.to_ascii_lowercase().as_str(), "false" | "0");
            }
            _ => return Err(ApiError::bad_request(format!("invalid filter '{f}'"))),
        }
    }
    let root = s.root.clone();
    let report = blocking(move || engine::images::prune(&root, all)).await?;
    Ok(Json(ImagePruneResponse {
        images_deleted: Some(report.images.into_iter().map(removal_item).collect()),
        space_reclaimed: Some(i64_of(report.reclaimed)),
    }))
}
