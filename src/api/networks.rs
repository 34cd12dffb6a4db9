//! Network endpoints: list, inspect, create, remove, prune, connect and disconnect, each an
//! `engine::networks` call on the blocking pool rendered as bollard's models.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{self, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bollard_stubs::models::{
    ConfigReference, EndpointResource, Ipam, IpamConfig, NetworkConnectRequest,
    NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest, NetworkInspect,
    NetworkPruneResponse,
};

use super::blocking;
use super::body::json_body;
use super::containers::Shared;
use super::error::ApiError;
use super::query::{filters, Params};
use crate::engine::networks::{self, Attached, ConnectRequest, CreateRequest, Entry, Pool};

type Id = extract::Path<String>;

/// Docker's JSON of one network; `containers` only for inspect (the list shows `{}`).
fn render(e: &Entry, containers: Vec<Attached>) -> NetworkInspect {
    let (range, aux) = e.pool_extras();
    let config = match e.ipam() {
        Some((subnet, gateway)) => vec![IpamConfig {
            subnet: Some(subnet.to_string()),
            gateway: Some(gateway.to_string()),
            ip_range: range.map(|r| r.to_string()),
            auxiliary_addresses: (!aux.is_empty()).then(|| {
                aux.iter()
                    .map(|(k, v)| (k.clone(), v.to_string()))
                    .collect()
            }),
        }],
        None => Vec::new(),
    };
    let containers: HashMap<String, EndpointResource> = containers
        .into_iter()
        .map(|a| {
            (
                a.id,
                EndpointResource {
                    name: Some(a.name),
                    endpoint_id: Some(a.endpoint_id),
                    mac_address: Some(a.mac),
                    ipv4_address: Some(a.ipv4),
                    ipv6_address: Some(String::new()),
                },
            )
        })
        .collect();
    NetworkInspect {
        name: Some(e.name().to_string()),
        id: Some(e.id()),
        created: Some(e.created().to_string()),
        scope: Some("local".into()),
        driver: Some(e.driver().to_string()),
        enable_ipv4: Some(e.ipam().is_some()),
        enable_ipv6: Some(false),
        ipam: Some(Ipam {
            driver: Some("default".into()),
            config: Some(config),
            // dockerd keeps the nil map of a request without IPAM options.
            options: None,
        }),
        internal: Some(e.internal()),
        attachable: Some(e.attachable()),
        ingress: Some(false),
        config_from: Some(ConfigReference {
            network: Some(String::new()),
        }),
        config_only: Some(false),
        containers: Some(containers),
        options: Some(e.options().into_iter().collect()),
        labels: Some(e.labels().into_iter().collect()),
        ..NetworkInspect::default()
    }
}

/// `GET /networks?filters=`.
pub async fn list(
    extract::State(s): Shared,
    Query(p): Query<Params>,
) -> Result<Json<Vec<NetworkInspect>>, ApiError> {
    let f = filters(&p)?;
    let root = s.root.clone();
    let all = blocking(move || networks::list(&root, &f)).await?;
    Ok(Json(all.iter().map(|e| render(e, Vec::new())).collect()))
}

/// `GET /networks/{id}?scope=`: with the containers attached. Every strata network is of
/// the `local` scope; asking for another finds none, as dockerd answers.
pub async fn inspect(
    extract::State(s): Shared,
    id: Id,
    Query(p): Query<Params>,
) -> Result<Json<NetworkInspect>, ApiError> {
    let root = s.root.clone();
    let scope = p.get("scope").filter(|s| !s.is_empty()).cloned();
    let (e, attached) = blocking(move || {
        if scope.as_deref().is_some_and(|s| s != "local") {
            return Err(crate::network::NetworkError::NotFound(id.0).into());
        }
        let e = networks::find(&root, &id)?;
        let attached = networks::attached(&root, &e)?;
        Ok((e, attached))
    })
    .await?;
    Ok(Json(render(&e, attached)))
}

/// `POST /networks/create` → 201 `{"Id", "Warning"}`.
pub async fn create(extract::State(s): Shared, raw: Bytes) -> Result<Response, ApiError> {
    let body: NetworkCreateRequest = json_body(&raw, false)?;
    if body.name.is_empty() {
        return Err(ApiError::bad_request("network name cannot be empty"));
    }
    let ipam = body.ipam.unwrap_or_default();
    if let Some(d) = ipam
        .driver
        .as_deref()
        .filter(|d| !d.is_empty() && *d != "default")
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("could not find plugin {d} in v1 plugin registry: plugin not found"),
        ));
    }
    let req = CreateRequest {
        name: body.name,
        driver: body.driver,
        pools: ipam
            .config
            .unwrap_or_default()
            .into_iter()
            .map(|c| Pool {
                subnet: c.subnet,
                gateway: c.gateway,
                ip_range: c.ip_range,
                aux_addresses: c
                    .auxiliary_addresses
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
            })
            .collect(),
        internal: body.internal.unwrap_or(false),
        attachable: body.attachable.unwrap_or(false),
        enable_ipv6: body.enable_ipv6.unwrap_or(false),
        labels: body.labels.unwrap_or_default().into_iter().collect(),
        options: body.options.unwrap_or_default().into_iter().collect(),
    };
    let root = s.root.clone();
    let n = blocking(move || networks::create(&root, &req)).await?;
    Ok((
        StatusCode::CREATED,
        Json(NetworkCreateResponse {
            id: n.id,
            warning: String::new(),
        }),
    )
        .into_response())
}

/// `DELETE /networks/{id}` → 204.
pub async fn remove(extract::State(s): Shared, id: Id) -> Result<StatusCode, ApiError> {
    let root = s.root.clone();
    blocking(move || networks::remove(&root, &id).map(drop)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /networks/prune?filters=`.
pub async fn prune(
    extract::State(s): Shared,
    Query(p): Query<Params>,
) -> Result<Json<NetworkPruneResponse>, ApiError> {
    let f = filters(&p)?;
    let root = s.root.clone();
    let removed = blocking(move || networks::prune(&root, &f)).await?;
    Ok(Json(NetworkPruneResponse {
        networks_deleted: Some(removed),
    }))
}

/// `POST /networks/{id}/connect` with `{"Container", "EndpointConfig": {"Aliases", …}}`.
pub async fn connect(
    extract::State(s): Shared,
    id: Id,
    raw: Bytes,
) -> Result<StatusCode, ApiError> {
    let body: NetworkConnectRequest = json_body(&raw, false)?;
    let ep = body.endpoint_config.unwrap_or_default();
    let req = ConnectRequest {
        network: id.0,
        container: body.container,
        aliases: ep.aliases.unwrap_or_default(),
        ipv4_address: ep.ipam_config.and_then(|c| c.ipv4_address),
        mac_address: canonical_mac(ep.mac_address)?,
    };
    let root = s.root.clone();
    blocking(move || networks::connect(&root, &req)).await?;
    Ok(StatusCode::OK)
}

/// A MAC address a client sent (empty: none), in canonical form; a malformed one is a 400
/// in dockerd's words.
pub fn canonical_mac(mac: Option<String>) -> Result<Option<String>, ApiError> {
    match mac.filter(|m| !m.is_empty()) {
        None => Ok(None),
        Some(m) => match crate::network::netlink::canonical_mac(&m) {
            Some(mac) => Ok(Some(mac)),
            None => Err(ApiError::bad_request(format!(
                "{m} is not a valid mac address"
            ))),
        },
    }
}

/// `POST /networks/{id}/disconnect` with `{"Container", "Force"}`.
pub async fn disconnect(
    extract::State(s): Shared,
    id: Id,
    raw: Bytes,
) -> Result<StatusCode, ApiError> {
    let body: NetworkDisconnectRequest = json_body(&raw, false)?;
    let _ = body.force;
    let root = s.root.clone();
    blocking(move || networks::disconnect(&root, &id, &body.container)).await?;
    Ok(StatusCode::OK)
}
