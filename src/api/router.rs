//! Routing: the optional `/v1.NN` prefix and its version check, the endpoint table, and the
//! split of image paths whose names contain slashes (`/images/localhost:5000/a/b:1/json`).
//! The parsing here is pure and tested as tables.

use std::sync::Arc;

use axum::routing::{any, delete, get, post};
use axum::Router;

use super::error::ApiError;
use super::{
    archive, build, commit, container_files as files, container_update, containers as c,
    containers_create, distribution, events, exec, hijack, images, logs, networks as n, pull,
    search, stats, system, volumes as v, State,
};
use crate::engine::system::{API_VERSION, MIN_API};

/// An API version `MAJOR.MINOR`, ordered numerically (`1.9` < `1.24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion(pub u32, pub u32);

impl ApiVersion {
    /// The version this server speaks ([`API_VERSION`]).
    pub fn current() -> ApiVersion {
        ApiVersion::parse(API_VERSION).expect("API_VERSION is MAJOR.MINOR")
    }

    pub fn parse(s: &str) -> Option<ApiVersion> {
        let (major, minor) = s.split_once('.')?;
        let num = |p: &str| {
            (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        };
        Some(ApiVersion(num(major)?, num(minor)?))
    }
}

/// `/v1.41/version` → (`Some("1.41")`, `/version`); a path without a version prefix is kept.
/// Like Docker's router, the prefix is `/v` followed by digits and dots only.
pub fn split_version(path: &str) -> (Option<&str>, &str) {
    let Some(rest) = path.strip_prefix("/v") else {
        return (None, path);
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let (v, tail) = rest.split_at(end);
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return (None, path);
    }
    (Some(v), if tail.is_empty() { "/" } else { tail })
}

/// Docker's check of the version a client asked for, with its messages.
pub fn check_version(v: &str) -> Result<ApiVersion, ApiError> {
    let ours = ApiVersion::parse(API_VERSION).expect("API_VERSION is MAJOR.MINOR");
    let min = ApiVersion::parse(MIN_API).expect("MIN_API is MAJOR.MINOR");
    let Some(asked) = ApiVersion::parse(v) else {
        return Err(ApiError::bad_request(format!(
            "invalid API version {v:?}: expected MAJOR.MINOR"
        )));
    };
    if asked < min {
        return Err(ApiError::bad_request(format!(
            "client version {v} is too old. Minimum supported API version is {MIN_API}, \
             please upgrade your client to a newer version"
        )));
    }
    if asked > ours {
        return Err(ApiError::bad_request(format!(
            "client version {v} is too new. Maximum supported API version is {API_VERSION}"
        )));
    }
    Ok(asked)
}

/// What a path under `/images/` asks of which image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImagePath<'a> {
    Inspect(&'a str),
    History(&'a str),
    Tag(&'a str),
    Push(&'a str),
    /// `GET /images/{name}/get`: the image's archive.
    Save(&'a str),
    /// No known suffix: the whole rest names the image (`DELETE /images/{name}`).
    Image(&'a str),
}

/// Splits the part after `/images/` at its last segment.
pub fn image_path(rest: &str) -> ImagePath<'_> {
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    match rest.rsplit_once('/') {
        Some((name, "json")) if !name.is_empty() => ImagePath::Inspect(name),
        Some((name, "history")) if !name.is_empty() => ImagePath::History(name),
        Some((name, "tag")) if !name.is_empty() => ImagePath::Tag(name),
        Some((name, "push")) if !name.is_empty() => ImagePath::Push(name),
        Some((name, "get")) if !name.is_empty() => ImagePath::Save(name),
        _ => ImagePath::Image(rest),
    }
}

/// `DELETE /containers//parent/alias?link=1` names a link, whose name holds slashes (dockerd
/// routes `{name:.*}` there): the rest becomes one percent-encoded segment for `{id}`.
pub fn container_link_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/containers/")?;
    rest.contains('/').then(|| {
        format!(
            "/containers/{}",
            rest.replace('%', "%25").replace('/', "%2F")
        )
    })
}

/// Swarm-mode endpoints: strata is never a swarm manager.
const SWARM: &[&str] = &["swarm", "services", "nodes", "secrets", "configs", "tasks"];

/// The endpoint table (paths without the version prefix).
pub fn routes(state: Arc<State>) -> Router {
    let mut r = Router::new()
        .route("/_ping", get(system::ping).head(system::ping))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/system/df", get(system::df))
        .route("/events", get(events::events))
        .route("/auth", post(system::auth))
        .route("/plugins", get(system::plugins))
        .route("/build", post(build::build))
        .route("/build/prune", post(build::prune))
        .route("/containers/json", get(c::list))
        .route("/containers/create", post(containers_create::create))
        .route("/containers/prune", post(c::prune))
        .route("/containers/{id}/json", get(c::inspect))
        .route("/containers/{id}/start", post(c::start))
        .route("/containers/{id}/stop", post(c::stop))
        .route("/containers/{id}/kill", post(c::kill))
        .route("/containers/{id}/restart", post(c::restart))
        .route("/containers/{id}/wait", post(c::wait))
        .route("/containers/{id}/rename", post(c::rename))
        .route("/containers/{id}/pause", post(c::pause))
        .route("/containers/{id}/unpause", post(c::unpause))
        .route("/containers/{id}/top", get(c::top))
        .route("/containers/{id}/logs", get(logs::logs))
        .route("/containers/{id}/attach", post(hijack::attach))
        .route("/containers/{id}/update", post(container_update::update))
        .route("/containers/{id}/stats", get(stats::stats))
        .route("/containers/{id}/changes", get(files::changes))
        .route("/containers/{id}/export", get(files::export))
        .route(
            "/containers/{id}/archive",
            get(files::get_archive)
                .head(files::head_archive)
                .put(files::put_archive),
        )
        .route("/containers/{id}/resize", post(exec::resize_container))
        .route("/containers/{id}/exec", post(exec::create))
        .route("/exec/{id}/start", post(exec::start))
        .route("/exec/{id}/resize", post(exec::resize))
        .route("/exec/{id}/json", get(exec::inspect))
        .route("/containers/{id}", delete(c::remove))
        .route("/commit", post(commit::commit))
        .route("/volumes", get(v::list))
        .route("/volumes/create", post(v::create))
        .route("/volumes/prune", post(v::prune))
        .route("/volumes/{name}", get(v::inspect).delete(v::remove))
        .route("/networks", get(n::list))
        .route("/networks/create", post(n::create))
        .route("/networks/prune", post(n::prune))
        .route("/networks/{id}", get(n::inspect).delete(n::remove))
        .route("/networks/{id}/connect", post(n::connect))
        .route("/networks/{id}/disconnect", post(n::disconnect))
        .route("/images/json", get(images::list))
        .route("/images/prune", post(images::prune))
        .route("/images/search", get(search::search))
        .route("/images/create", post(pull::create))
        .route("/images/get", get(archive::get_many))
        .route("/distribution/{*rest}", get(distribution::inspect))
        .route("/images/load", post(archive::load))
        .route(
            "/images/{*rest}",
            get(images::get).post(images::post).delete(images::delete),
        );
    for s in SWARM {
        r = r
            .route(&format!("/{s}"), any(system::swarm))
            .route(&format!("/{s}/{{*rest}}"), any(system::swarm));
    }
    r.fallback(|| async { ApiError::not_found_page() })
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn version_prefixes() {
        for (path, want) in [
            ("/version", (None, "/version")),
            ("/v1.41/version", (Some("1.41"), "/version")),
            (
                "/v1.50/images/a/b:1/json",
                (Some("1.50"), "/images/a/b:1/json"),
            ),
            ("/v1.50", (Some("1.50"), "/")),
            ("/volumes", (None, "/volumes")),
            ("/vx/version", (None, "/vx/version")),
            ("/v/version", (None, "/v/version")),
        ] {
            assert_eq!(split_version(path), want, "{path}");
        }
    }

    #[test]
    fn link_names_become_one_segment() {
        for (path, want) in [
            ("/containers//web/db", Some("/containers/%2Fweb%2Fdb")),
            ("/containers/web/db", Some("/containers/web%2Fdb")),
            ("/containers/a%b/c", Some("/containers/a%25b%2Fc")),
            ("/containers/web", None),
            ("/images/a/b", None),
        ] {
            assert_eq!(container_link_path(path).as_deref(), want, "{path}");
        }
    }

    #[test]
    fn version_checks() {
        assert_eq!(check_version("1.41").unwrap(), ApiVersion(1, 41));
        assert_eq!(check_version("1.24").unwrap(), ApiVersion(1, 24));
        assert_eq!(check_version(API_VERSION).unwrap(), ApiVersion(1, 50));
        let e = check_version("1.12").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            e.message,
            "client version 1.12 is too old. Minimum supported API version is 1.24, please \
             upgrade your client to a newer version"
        );
        let e = check_version("1.99").unwrap_err();
        assert_eq!(
            e.message,
            "client version 1.99 is too new. Maximum supported API version is 1.50"
        );
        assert_eq!(
            check_version("1.2.3").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        // Numeric, not lexical: 1.9 is older than 1.24.
        assert!(check_version("1.9").is_err());
    }

    #[test]
    fn image_paths() {
        use ImagePath::*;
        for (rest, want) in [
            ("busybox/json", Inspect("busybox")),
            ("localhost:5000/a/b:1/json", Inspect("localhost:5000/a/b:1")),
            ("a/b/history", History("a/b")),
            ("busybox:1/tag", Tag("busybox:1")),
            ("localhost:5000/a/push", Push("localhost:5000/a")),
            ("a/b:1/get", Save("a/b:1")),
            ("localhost:5000/a/b:1", Image("localhost:5000/a/b:1")),
            ("sha256:abcd", Image("sha256:abcd")),
            ("json", Image("json")),
        ] {
            assert_eq!(image_path(rest), want, "{rest}");
        }
    }
}
