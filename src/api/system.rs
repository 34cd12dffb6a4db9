//! System endpoints: `/_ping`, `/version`, `/info`, `/system/df`, `/auth`, `/plugins`, and the
//! swarm endpoints strata refuses as a node outside a swarm does.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bollard_stubs::models::{
    AuthConfig, AuthResponse, BuildCache, BuildCacheTypeEnum, ContainerSummary, LocalNodeState,
    PluginsInfo, SwarmInfo, SystemInfo, SystemInfoCgroupDriverEnum, SystemInfoCgroupVersionEnum,
    SystemVersion, Volume, VolumeScopeEnum, VolumeUsageData,
};
use serde_json::json;

use super::error::ApiError;
use super::{blocking, images, State};
use crate::container::host_info;
use crate::distribution::credentials::Credential;
use crate::engine;
use crate::store::build_prune::{CacheRecord, CacheRecordKind};

type Shared = extract::State<Arc<State>>;

/// `GET|HEAD /_ping`: `OK` with the headers a client negotiates its version from.
pub async fn ping() -> Response {
    let mut r = "OK".into_response();
    let h = r.headers_mut();
    for (k, v) in [
        ("api-version", engine::system::API_VERSION),
        ("builder-version", "1"),
        ("ostype", "linux"),
        ("docker-experimental", "false"),
        ("swarm", "inactive"),
        ("cache-control", "no-cache, no-store, must-revalidate"),
        ("pragma", "no-cache"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

pub async fn version() -> Json<SystemVersion> {
    Json(engine::system::version())
}

pub async fn info(extract::State(s): Shared) -> Result<Json<SystemInfo>, ApiError> {
    let root = s.root.clone();
    let i = blocking(move || engine::system::info(&root)).await?;
    Ok(Json(info_model(i)))
}

/// host_info's report in the API's model.
fn info_model(i: host_info::SystemInfo) -> SystemInfo {
    let plugins = |k: &str| i.plugins.get(k).cloned();
    let n = |v: usize| Some(i64::try_from(v).unwrap_or(i64::MAX));
    SystemInfo {
        id: Some(i.id.clone()),
        containers: n(i.containers),
        containers_running: n(i.containers_running),
        containers_paused: n(i.containers_paused),
        containers_stopped: n(i.containers_stopped),
        images: n(i.images),
        driver: Some(i.driver.clone()),
        driver_status: Some(i.driver_status.iter().map(|p| p.to_vec()).collect()),
        docker_root_dir: Some(i.docker_root_dir.display().to_string()),
        plugins: Some(PluginsInfo {
            volume: plugins("Volume"),
            network: plugins("Network"),
            authorization: None,
            log: plugins("Log"),
        }),
        debug: Some(i.debug),
        system_time: Some(i.system_time.clone()),
        logging_driver: Some(i.logging_driver.clone()),
        cgroup_driver: Some(match i.cgroup_driver.as_str() {
            "systemd" => SystemInfoCgroupDriverEnum::SYSTEMD,
            "none" => SystemInfoCgroupDriverEnum::NONE,
            "cgroupfs" => SystemInfoCgroupDriverEnum::CGROUPFS,
            _ => SystemInfoCgroupDriverEnum::EMPTY,
        }),
        cgroup_version: Some(match i.cgroup_version.as_str() {
            "1" => SystemInfoCgroupVersionEnum::_1,
            "2" => SystemInfoCgroupVersionEnum::_2,
            _ => SystemInfoCgroupVersionEnum::EMPTY,
        }),
        kernel_version: Some(i.kernel_version.clone()),
        operating_system: Some(i.operating_system.clone()),
        os_version: Some(i.os_version.clone()),
        os_type: Some(i.os_type.clone()),
        architecture: Some(i.architecture.clone()),
        ncpu: n(i.ncpu),
        mem_total: Some(i64::try_from(i.mem_total).unwrap_or(i64::MAX)),
        index_server_address: Some(i.index_server_address.clone()),
        name: Some(i.name.clone()),
        labels: Some(i.labels.clone()),
        experimental_build: Some(i.experimental_build),
        server_version: Some(i.server_version.clone()),
        swarm: Some(SwarmInfo {
            local_node_state: Some(LocalNodeState::INACTIVE),
            control_available: Some(false),
            ..Default::default()
        }),
        live_restore_enabled: Some(i.live_restore_enabled),
        security_options: Some(i.security_options.clone()),
        warnings: Some(i.warnings.clone()),
        ..Default::default()
    }
}

/// `GET /system/df`. Hand-built at the top level: API 1.52 (bollard's model) replaced this
/// shape with per-kind summaries, but the 1.50 clients strata serves read `LayersSize`,
/// `Images`, `Containers`, `Volumes`, `BuildCache` and `BuilderSize`. The items are bollard's
/// models; the build cache is what `builder prune --all` would remove, by the same IDs its
/// `CachesDeleted` names.
pub async fn df(extract::State(s): Shared) -> Result<Json<serde_json::Value>, ApiError> {
    let root = s.root.clone();
    let du = blocking(move || engine::system::disk_usage(&root)).await?;
    let images: Vec<_> = du
        .images
        .iter()
        .zip(du.image_shares())
        .map(|(img, share)| images::summary(img, &img.tags, Some(share)))
        .collect();
    let now = crate::store::time::now_unix();
    let containers: Vec<ContainerSummary> = du
        .containers
        .iter()
        .map(|c| {
            let ctr = &c.container;
            // The docker CLI's `system df -v` shows the STATUS column from these.
            let status = crate::engine::containers::list::status_text(ctr, now);
            ContainerSummary {
                id: Some(ctr.id.clone()),
                names: Some(vec![format!("/{}", ctr.name)]),
                image: Some(ctr.image.clone()),
                image_id: Some(ctr.image_id.to_string()),
                command: Some(crate::engine::containers::list::command(ctr)),
                created: crate::store::time::parse_rfc3339(&ctr.created),
                size_rw: Some(i64::try_from(c.size_rw).unwrap_or(i64::MAX)),
                state: serde_json::from_value(json!(ctr.docker_status())).ok(),
                status: Some(status),
                labels: Some(ctr.config.labels.clone().into_iter().collect()),
                ..Default::default()
            }
        })
        .collect();
    let volumes: Vec<Volume> = du
        .volumes
        .iter()
        .map(|v| Volume {
            name: v.volume.name.clone(),
            driver: "local".into(),
            mountpoint: v.volume.mountpoint.display().to_string(),
            labels: v.volume.labels.clone().into_iter().collect(),
            scope: Some(VolumeScopeEnum::LOCAL),
            options: Default::default(),
            usage_data: Some(VolumeUsageData {
                size: i64::try_from(v.size).unwrap_or(i64::MAX),
                ref_count: i64::try_from(v.links).unwrap_or(i64::MAX),
            }),
            ..Default::default()
        })
        .collect();
    Ok(Json(json!({
        "LayersSize": du.image_usage.size,
        "Images": images,
        "Containers": containers,
        "Volumes": volumes,
        "BuildCache": du.build_records.iter().map(build_cache_model).collect::<Vec<_>>(),
        "BuilderSize": du.build_cache.size,
    })))
}

/// One build cache record in Docker's model. strata keeps no parent links or hit counts
/// between records, so `Parents` is empty and `UsageCount` absent; nothing is shared, and
/// nothing is held by a running build between steps.
fn build_cache_model(r: &CacheRecord) -> BuildCache {
    let (typ, description) = match r.kind {
        CacheRecordKind::Step => (BuildCacheTypeEnum::REGULAR, r.description.clone()),
        CacheRecordKind::Snapshot => (BuildCacheTypeEnum::REGULAR, "unpacked layer".into()),
        CacheRecordKind::CacheMount => (
            BuildCacheTypeEnum::EXEC_CACHEMOUNT,
            format!("cache mount {}", r.id),
        ),
    };
    let at = |t: std::time::SystemTime| {
        let secs = t
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        crate::store::time::format_rfc3339(secs)
    };
    BuildCache {
        id: Some(r.id.clone()),
        parents: Some(Vec::new()),
        typ: Some(typ),
        description: Some(description),
        in_use: Some(false),
        shared: Some(false),
        size: Some(i64::try_from(r.size).unwrap_or(i64::MAX)),
        created_at: Some(at(r.created)),
        last_used_at: Some(at(r.last_used)),
        usage_count: None,
    }
}

/// `POST /auth`: checks the credential against the registry; nothing is saved (the client
/// keeps its credentials, as with dockerd).
pub async fn auth(body: Bytes) -> Result<Json<AuthResponse>, ApiError> {
    let cfg: AuthConfig = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON in the request body: {e}")))?;
    let server = cfg.serveraddress.clone().filter(|s| !s.is_empty());
    let cred = Credential::password(
        cfg.username.unwrap_or_default(),
        cfg.password.unwrap_or_default(),
    );
    blocking(move || engine::auth::check_login(server.as_deref(), &cred, &[])).await?;
    Ok(Json(AuthResponse {
        status: "Login Succeeded".into(),
        identity_token: Some(String::new()),
    }))
}

pub async fn plugins() -> Json<Vec<serde_json::Value>> {
    Json(Vec::new())
}

pub async fn swarm() -> ApiError {
    ApiError::not_swarm_manager()
}
