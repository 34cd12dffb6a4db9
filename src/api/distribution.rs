//! `GET /distribution/{name}/json`: the registry's manifest descriptor for a reference and the
//! platforms it serves, without pulling (docker-py's `images.get_registry_data`). The name
//! may hold slashes and a port, so the route takes the whole rest of the path.

use std::sync::Arc;

use axum::extract::{self, Path};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use bollard_stubs::models::{DistributionInspect, OciDescriptor, OciPlatform};

use super::error::{chain, ApiError};
use super::{registry_auth, State};
use crate::distribution::inspect::{RemoteImage, RemotePlatform};
use crate::distribution::RegistryError;
use crate::engine::{self, EngineError};
use crate::reference::Reference;

/// A reference as `/distribution/` takes it: a name with a tag or digest; a bare image ID
/// names no repository.
fn reference(name: &str) -> Result<Reference, ApiError> {
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::internal("no manifest found for full image ID"));
    }
    Reference::parse(name)
        .map_err(|e| ApiError::bad_request(format!("invalid reference format: {e}")))
}

/// A registry's refusal with its status and its own words (`manifest unknown: …`), as
/// dockerd relays the registry's error code.
fn registry_error(e: EngineError) -> ApiError {
    let EngineError::Registry(r) = &e else {
        return ApiError::from(e);
    };
    let (status, message) = match &**r {
        RegistryError::NameUnknown { message, .. } => {
            (StatusCode::NOT_FOUND, format!("name unknown: {message}"))
        }
        RegistryError::ManifestUnknown { message, .. } => (
            StatusCode::NOT_FOUND,
            format!("manifest unknown: {message}"),
        ),
        RegistryError::NotFound { .. } => (StatusCode::NOT_FOUND, chain(&e)),
        RegistryError::Unauthorized { message, .. } => {
            (StatusCode::UNAUTHORIZED, format!("unauthorized: {message}"))
        }
        RegistryError::Denied { message, .. } => {
            (StatusCode::FORBIDDEN, format!("denied: {message}"))
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, chain(&e)),
    };
    ApiError::new(status, message)
}

fn platform(p: RemotePlatform) -> OciPlatform {
    OciPlatform {
        architecture: Some(p.architecture),
        os: Some(p.os),
        os_version: p.os_version,
        os_features: Some(p.os_features).filter(|f| !f.is_empty()),
        variant: p.variant,
    }
}

fn model(r: RemoteImage) -> DistributionInspect {
    DistributionInspect {
        descriptor: OciDescriptor {
            media_type: Some(r.media_type),
            digest: Some(r.digest.to_string()),
            size: Some(i64::try_from(r.size).unwrap_or(i64::MAX)),
            ..Default::default()
        },
        platforms: r.platforms.into_iter().map(platform).collect(),
    }
}

pub async fn inspect(
    extract::State(_): extract::State<Arc<State>>,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> Result<Json<DistributionInspect>, ApiError> {
    let Some(name) = rest.strip_suffix("/json").filter(|n| !n.is_empty()) else {
        return Err(ApiError::not_found_page());
    };
    let reference = reference(name)?;
    // As dockerd: an unreadable X-Registry-Auth is no credential rather than an error.
    let credential = registry_auth::credential(&headers).unwrap_or(None);
    let found = tokio::task::spawn_blocking(move || {
        engine::distribution::inspect(&reference, credential.as_ref(), &[])
    })
    .await
    .map_err(|e| ApiError::internal(format!("the operation failed: {e}")))?
    .map_err(registry_error)?;
    Ok(Json(model(found)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(reference("127.0.0.1:5000/a/b:1").is_ok());
        let id = "sha256:".to_string() + &"ab".repeat(32);
        for (name, status) in [
            (id.as_str(), StatusCode::INTERNAL_SERVER_ERROR),
            (&id[7..], StatusCode::INTERNAL_SERVER_ERROR),
            ("Bad/Name", StatusCode::BAD_REQUEST),
        ] {
            assert_eq!(reference(name).unwrap_err().status, status, "{name}");
        }
    }

    #[test]
    fn registry_refusals() {
        let reg = |e: RegistryError| registry_error(EngineError::Registry(Box::new(e)));
        let got = reg(RegistryError::ManifestUnknown {
            registry: "r".into(),
            what: "manifest a:1".into(),
            message: "manifest unknown".into(),
        });
        assert_eq!(
            (got.status, got.message.as_str()),
            (StatusCode::NOT_FOUND, "manifest unknown: manifest unknown")
        );
        let got = reg(RegistryError::Unauthorized {
            registry: "r".into(),
            message: "authentication required".into(),
        });
        assert_eq!(
            (got.status, got.message.as_str()),
            (
                StatusCode::UNAUTHORIZED,
                "unauthorized: authentication required"
            )
        );
    }
}
