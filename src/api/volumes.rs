//! Volume endpoints: list, create, inspect, remove and prune, each an `engine::volumes`
//! call on the blocking pool rendered as bollard's models.

use axum::body::Bytes;
use axum::extract::{self, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bollard_stubs::models::{
    Volume as ApiVolume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse,
    VolumeScopeEnum,
};

use super::blocking;
use super::body::json_body;
use super::containers::Shared;
use super::error::ApiError;
use super::query::{bool_param, filters, Params};
use crate::container::volume_filter::DRIVER;
use crate::container::volume_store::Volume;
use crate::engine::volumes::{self, CreateRequest, PruneRequest};

/// The volume as Docker shows it. Labels and options a volume was made without read `null`
/// there (dockerd keeps the nil map a client like docker-py sends), which bollard's
/// non-optional maps cannot say.
fn render(v: Volume) -> serde_json::Value {
    let mut json = serde_json::to_value(model(v)).expect("a volume serialises");
    for key in ["Labels", "Options"] {
        if json[key].as_object().is_some_and(|m| m.is_empty()) {
            json[key] = serde_json::Value::Null;
        }
    }
    json
}

fn model(v: Volume) -> ApiVolume {
    ApiVolume {
        labels: v.docker_labels().into_iter().collect(),
        mountpoint: v.mountpoint.display().to_string(),
        created_at: Some(v.created_at),
        name: v.name,
        driver: DRIVER.to_string(),
        scope: Some(VolumeScopeEnum::LOCAL),
        options: v.options.into_iter().collect(),
        ..ApiVolume::default()
    }
}

/// `GET /volumes?filters=`.
pub async fn list(
    extract::State(s): Shared,
    Query(p): Query<Params>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let f = filters(&p)?;
    let root = s.root.clone();
    let all = blocking(move || volumes::list(&root, &f)).await?;
    let mut json = serde_json::to_value(VolumeListResponse {
        volumes: Some(Vec::new()),
        warnings: Some(Vec::new()),
    })
    .expect("a volume list serialises");
    json["Volumes"] = all.into_iter().map(render).collect();
    Ok(Json(json))
}

/// `POST /volumes/create` → 201 and the volume.
pub async fn create(extract::State(s): Shared, raw: Bytes) -> Result<Response, ApiError> {
    let body: VolumeCreateRequest = json_body(&raw, true)?;
    let req = CreateRequest {
        name: body.name.filter(|n| !n.is_empty()),
        driver: body.driver,
        driver_opts: body.driver_opts.unwrap_or_default().into_iter().collect(),
        labels: body.labels.unwrap_or_default().into_iter().collect(),
    };
    let root = s.root.clone();
    let v = blocking(move || volumes::create(&root, &req)).await?;
    Ok((StatusCode::CREATED, Json(render(v))).into_response())
}

/// `GET /volumes/{name}`.
pub async fn inspect(
    extract::State(s): Shared,
    extract::Path(name): extract::Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let root = s.root.clone();
    Ok(Json(render(
        blocking(move || volumes::get(&root, &name)).await?,
    )))
}

/// `DELETE /volumes/{name}?force=` → 204.
pub async fn remove(
    extract::State(s): Shared,
    extract::Path(name): extract::Path<String>,
    Query(p): Query<Params>,
) -> Result<StatusCode, ApiError> {
    let force = bool_param(&p, "force");
    let root = s.root.clone();
    blocking(move || volumes::remove(&root, &name, force)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /volumes/prune?filters=`: anonymous volumes, all unused ones with `all=true`.
pub async fn prune(
    extract::State(s): Shared,
    Query(p): Query<Params>,
) -> Result<Json<VolumePruneResponse>, ApiError> {
    let req = PruneRequest {
        all: false,
        filters: filters(&p)?,
    };
    let root = s.root.clone();
    let pruned = blocking(move || volumes::prune(&root, &req)).await?;
    Ok(Json(VolumePruneResponse {
        volumes_deleted: Some(pruned.names),
        space_reclaimed: Some(i64::try_from(pruned.reclaimed).unwrap_or(i64::MAX)),
    }))
}
