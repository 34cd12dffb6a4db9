//! Errors as the Engine API sends them: a status and Docker's `{"message": …}` body
//! (bollard's `ErrorResponse`), mapped from the engine's typed errors.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bollard_stubs::models::ErrorResponse;

use crate::container::volume_store::VolumeError;
use crate::container::ContainerError;
use crate::distribution::verify::VerifyError;
use crate::distribution::RegistryError;
use crate::engine::build::BuildError;
use crate::engine::containers::{Error as ContainersError, ErrorKind};
use crate::engine::EngineError;
use crate::network::NetworkError;
use crate::reference::Reference;
use crate::store::events::EventError;
use crate::store::StoreError;

/// Docker's reply to any swarm endpoint on a node that is not a manager.
pub const NOT_SWARM_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" \
     or \"docker swarm join\" to connect this node to swarm and try again.";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found_page() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "page not found")
    }

    pub fn not_swarm_manager() -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, NOT_SWARM_MANAGER)
    }

    /// A blocking task that panicked or was cancelled.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

/// The whole chain in one line, as the CLI renders it (`outer: cause`), without repeats.
pub(super) fn chain(err: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.last().is_some_and(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// Docker names a missing tag in full: `No such image: x:latest`.
pub(super) fn no_such_image(name: &str) -> String {
    let name = Reference::parse(name)
        .ok()
        .map_or(name.to_string(), |r| r.familiar_string());
    format!("No such image: {name}")
}

impl From<ContainersError> for ApiError {
    fn from(e: ContainersError) -> ApiError {
        // A network more that a create could not connect: answered as `network connect` is.
        let e = match e {
            ContainersError::Network(n) => return ApiError::from(*n),
            e => e,
        };
        if let ContainersError::Store(StoreError::NoSuchImage(name)) = &e {
            return ApiError::new(StatusCode::NOT_FOUND, no_such_image(name));
        }
        let status = match e.kind() {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            ErrorKind::Other => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, chain(&e))
    }
}

/// Volume and network failures in dockerd's words and statuses, where they differ from the
/// messages the CLI has always printed.
fn volnet(e: &EngineError) -> Option<ApiError> {
    use NetworkError as N;
    use StatusCode as S;
    let (status, message) = match e {
        EngineError::Volume(v) => match v {
            VolumeError::NotFound(name) => (S::NOT_FOUND, format!("get {name}: no such volume")),
            VolumeError::InUse { name, containers } => (
                S::CONFLICT,
                format!(
                    "remove {name}: volume is in use - [{}]",
                    containers.join(", ")
                ),
            ),
            VolumeError::BadName(name) => (
                S::BAD_REQUEST,
                format!(
                    "create {name}: \"{name}\" includes invalid characters for a local volume \
                     name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to \
                     pass a host directory, use absolute path"
                ),
            ),
            VolumeError::Options(o) => (S::BAD_REQUEST, o.to_string()),
            _ => return None,
        },
        EngineError::VolumeDriver { driver, .. } => (
            S::NOT_FOUND,
            format!("error looking up volume plugin {driver}: plugin \"{driver}\" not found"),
        ),
        EngineError::NetworkUnsupported(_) => (S::BAD_REQUEST, e.to_string()),
        EngineError::Network(n) | EngineError::NetworkContainer(ContainerError::Network(n)) => {
            let status = match n {
                N::NotFound(_) => S::NOT_FOUND,
                N::NameInUse(_) => S::CONFLICT,
                N::Predefined(name) => {
                    return Some(ApiError::new(
                        S::FORBIDDEN,
                        format!("operation is not permitted on predefined {name} network "),
                    ))
                }
                // The host and none networks exist once, made by the daemon.
                N::Driver(d) if d == "host" || d == "null" => {
                    return Some(ApiError::new(
                        S::FORBIDDEN,
                        format!("only one instance of \"{d}\" network is allowed"),
                    ))
                }
                N::Driver(d) => {
                    return Some(ApiError::new(
                        S::NOT_FOUND,
                        format!(
                            "could not find plugin {d} in v1 plugin registry: plugin not found"
                        ),
                    ))
                }
                N::RemoveDefault(_)
                | N::ActiveEndpoints { .. }
                | N::SubnetOverlap { .. }
                | N::PoolExhausted
                | N::AddressInUse { .. }
                | N::AddressesExhausted(_) => S::FORBIDDEN,
                N::InvalidName(_)
                | N::InvalidSubnet(_)
                | N::InvalidGateway { .. }
                | N::InvalidRange { .. }
                | N::InvalidAux { .. }
                | N::GatewayWithoutSubnet
                | N::Label(_)
                | N::AddressOutside { .. }
                | N::StaticIpOnDefault => S::BAD_REQUEST,
                _ => S::INTERNAL_SERVER_ERROR,
            };
            (status, n.to_string())
        }
        EngineError::NetworkContainer(c) => {
            let status = match c {
                ContainerError::NotFound(_) => S::NOT_FOUND,
                ContainerError::Ambiguous(_) => S::CONFLICT,
                ContainerError::NetworkConflict(_) => S::FORBIDDEN,
                _ => S::INTERNAL_SERVER_ERROR,
            };
            (status, chain(c))
        }
        _ => return None,
    };
    Some(ApiError::new(status, message))
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        if let Some(a) = volnet(&e) {
            return a;
        }
        let status = match &e {
            EngineError::Store(StoreError::NoSuchImage(name)) => {
                return ApiError::new(StatusCode::NOT_FOUND, no_such_image(name))
            }
            EngineError::Store(StoreError::Conflict(_)) => StatusCode::CONFLICT,
            EngineError::Pull { source, .. } => match **source {
                RegistryError::NameUnknown { .. }
                | RegistryError::ManifestUnknown { .. }
                | RegistryError::NotFound { .. } => StatusCode::NOT_FOUND,
                RegistryError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            EngineError::Push { source, .. }
                if matches!(**source, RegistryError::Unauthorized { .. }) =>
            {
                StatusCode::UNAUTHORIZED
            }
            EngineError::Store(StoreError::AmbiguousId(_) | StoreError::Reference(_))
            | EngineError::Filter(_)
            | EngineError::Unsupported(_)
            | EngineError::Search(_)
            | EngineError::BadTime { .. }
            | EngineError::BadReference { .. }
            | EngineError::TagWithDigest(_)
            | EngineError::Events(
                EventError::FilterFormat(_)
                | EventError::UnknownFilter(_)
                | EventError::BadTime(_)
                | EventError::SinceAfterUntil { .. },
            ) => StatusCode::BAD_REQUEST,
            EngineError::Import(e) if e.is_invalid_request() => StatusCode::BAD_REQUEST,
            EngineError::Login(VerifyError::Unauthorized { .. }) => StatusCode::UNAUTHORIZED,
            EngineError::Build(b) => match &**b {
                BuildError::Syntax(_)
                | BuildError::Plan(_)
                | BuildError::BadBase { .. }
                | BuildError::BadPlatform(_) => StatusCode::BAD_REQUEST,
                BuildError::Pull { source, .. } => match **source {
                    RegistryError::NameUnknown { .. }
                    | RegistryError::ManifestUnknown { .. }
                    | RegistryError::NotFound { .. } => StatusCode::NOT_FOUND,
                    RegistryError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                },
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, chain(&e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorResponse {
            message: self.message,
        };
        (self.status, axum::Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_map_to_docker_statuses() {
        let cases: Vec<(EngineError, StatusCode, &str)> = vec![
            (
                EngineError::Store(StoreError::NoSuchImage("nope".into())),
                StatusCode::NOT_FOUND,
                "No such image: nope:latest",
            ),
            (
                EngineError::Store(StoreError::NoSuchImage("sha256:abcd".into())),
                StatusCode::NOT_FOUND,
                "No such image: sha256:abcd",
            ),
            (
                EngineError::TagWithDigest("a@sha256:00".into()),
                StatusCode::BAD_REQUEST,
                "refusing to create a tag with a digest reference: \"a@sha256:00\"",
            ),
            (
                EngineError::Events(EventError::UnknownFilter("bogus".into())),
                StatusCode::BAD_REQUEST,
                "invalid filter 'bogus'",
            ),
            (
                EngineError::Login(VerifyError::Unauthorized {
                    url: "https://r/v2/".into(),
                    message: "bad password".into(),
                }),
                StatusCode::UNAUTHORIZED,
                "unauthorized: bad password",
            ),
        ];
        for (err, status, message) in cases {
            let got = ApiError::from(err);
            assert_eq!((got.status, got.message.as_str()), (status, message));
        }
    }
}
