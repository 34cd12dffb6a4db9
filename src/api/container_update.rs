//! `POST /containers/{id}/update`: Docker's `UpdateConfig` body (the resources strata applies,
//! and `RestartPolicy`) into the engine's `UpdateRequest`; reply `{"Warnings": […]}`.

use axum::body::Bytes;
use axum::extract::{self};
use axum::Json;
use bollard_stubs::models::ContainerUpdateResponse;
use serde::Deserialize;

use super::containers::{cblocking, Shared};
use super::error::ApiError;
use super::query::json_body;
use crate::container::resources::Resources;
use crate::container::restart::RestartPolicy;
use crate::engine::containers::update::{update as update_container, UpdateRequest};

/// The parts of Docker's body strata honours; the rest (block I/O weights, devices, …) is
/// ignored as an older daemon ignores fields it does not know.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Body {
    memory: i64,
    memory_swap: i64,
    nano_cpus: i64,
    cpu_shares: i64,
    pids_limit: Option<i64>,
    cpuset_cpus: String,
    cpuset_mems: String,
    restart_policy: Option<RestartObj>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RestartObj {
    name: String,
    maximum_retry_count: i64,
}

fn to_request(b: Body) -> Result<UpdateRequest, ApiError> {
    let restart = match b.restart_policy {
        // An empty name leaves the policy as it is.
        Some(r) if !r.name.is_empty() => {
            let s = if r.name == "on-failure" && r.maximum_retry_count > 0 {
                format!("on-failure:{}", r.maximum_retry_count)
            } else {
                r.name
            };
            Some(RestartPolicy::parse(&s).map_err(|e| ApiError::bad_request(e.to_string()))?)
        }
        _ => None,
    };
    let resources = Resources {
        memory: b.memory,
        memory_swap: b.memory_swap,
        nano_cpus: b.nano_cpus,
        cpu_shares: b.cpu_shares,
        pids_limit: b.pids_limit,
        cpuset_cpus: b.cpuset_cpus,
        cpuset_mems: b.cpuset_mems,
        ..Resources::default()
    };
    let any = resources.memory != 0
        || resources.memory_swap != 0
        || resources.nano_cpus != 0
        || resources.cpu_shares != 0
        || resources.pids_limit.is_some()
        || !resources.cpuset_cpus.is_empty()
        || !resources.cpuset_mems.is_empty();
    Ok(UpdateRequest {
        restart,
        resources: any.then_some(resources),
    })
}

pub async fn update(
    extract::State(s): Shared,
    extract::Path(id): extract::Path<String>,
    raw: Bytes,
) -> Result<Json<ContainerUpdateResponse>, ApiError> {
    let body: Body = if raw.iter().all(u8::is_ascii_whitespace) {
        Body::default()
    } else {
        json_body(&raw)?
    };
    let req = to_request(body)?;
    let root = s.root.clone();
    let warnings = cblocking(move || {
        if req.is_empty() {
            // Nothing to change: dockerd answers as for any update; the container must exist.
            crate::container::Containers::new(&root).find(&id)?;
            return Ok(Vec::new());
        }
        Ok(update_container(&root, &id, &req)?.warnings)
    })
    .await?;
    Ok(Json(ContainerUpdateResponse {
        warnings: Some(warnings),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        let b: Body = json_body(
            br#"{"Memory":67108864,"MemorySwap":-1,"PidsLimit":null,"BlkioWeightDevice":null,
                 "RestartPolicy":{"Name":"","MaximumRetryCount":0}}"#,
        )
        .unwrap();
        let r = to_request(b).unwrap();
        assert_eq!(r.restart, None);
        let res = r.resources.unwrap();
        assert_eq!((res.memory, res.memory_swap), (67108864, -1));
        let b: Body =
            json_body(br#"{"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3}}"#).unwrap();
        let r = to_request(b).unwrap();
        assert_eq!(
            r.restart,
            Some(RestartPolicy::parse("on-failure:3").unwrap())
        );
        assert!(r.resources.is_none());
        let e = json_body::<Body>(br#"{"Memory":"lots"}"#).unwrap_err();
        assert!(e.message.contains("Memory"), "{}", e.message);
    }
}
