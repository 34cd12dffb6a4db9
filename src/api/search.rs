//! `GET /images/search?term=&limit=&filters=`: forwarded to the v1 search of the registry the
//! term names (Docker Hub otherwise), as dockerd does; its results filtered here.

use std::sync::Arc;

use axum::extract::{self, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use bollard_stubs::models::ImageSearchResponseItem;

use super::error::{chain, ApiError};
use super::query::{filters, Params};
use super::{registry_auth, State};
use crate::distribution::search::{SearchFilters, SearchResult};
use crate::distribution::RegistryError;
use crate::engine::distribution::{search_images, SearchRequest};
use crate::engine::EngineError;

/// `limit` as dockerd reads it: absent or 0 is the default.
fn limit(p: &Params) -> Result<Option<u32>, ApiError> {
    match p.get("limit").filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => match v.parse::<i64>() {
            Ok(0) => Ok(None),
            Ok(n) if n > 0 => Ok(Some(u32::try_from(n).unwrap_or(u32::MAX))),
            _ => Err(ApiError::bad_request(format!(
                "invalid limit specified: {v:?}"
            ))),
        },
    }
}

/// `is-official`, `is-automated` (booleans as Go's `ParseBool` takes them) and `stars`.
fn search_filters(p: &Params) -> Result<SearchFilters, ApiError> {
    let mut out = SearchFilters::default();
    for f in filters(p)? {
        let (k, v) = f.split_once('=').unwrap_or((&f, ""));
        let invalid = || ApiError::bad_request(format!("invalid filter '{k}={v}'"));
        let boolean = || match v {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
            _ => Err(invalid()),
        };
        match k {
            "is-official" => out.is_official = Some(boolean()?),
            "is-automated" => out.is_automated = Some(boolean()?),
            "stars" => out.min_stars = Some(v.parse().map_err(|_| invalid())?),
            _ => return Err(ApiError::bad_request(format!("invalid filter '{k}'"))),
        }
    }
    Ok(out)
}

/// dockerd reports any registry answer but 200 as `Unexpected status code N` (a 500).
fn search_error(e: EngineError) -> ApiError {
    let EngineError::Registry(r) = &e else {
        return ApiError::from(e);
    };
    let status = match &**r {
        RegistryError::UnexpectedStatus { status, .. } => *status,
        RegistryError::NotFound { .. }
        | RegistryError::NameUnknown { .. }
        | RegistryError::ManifestUnknown { .. } => 404,
        RegistryError::Unauthorized { .. } => 401,
        RegistryError::Denied { .. } => 403,
        _ => return ApiError::internal(chain(&e)),
    };
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("Unexpected status code {status}"),
    )
}

fn item(r: SearchResult) -> ImageSearchResponseItem {
    ImageSearchResponseItem {
        description: Some(r.description),
        is_official: Some(r.is_official),
        is_automated: Some(r.is_automated),
        name: Some(r.name),
        star_count: Some(r.star_count),
    }
}

pub async fn search(
    extract::State(_): extract::State<Arc<State>>,
    Query(p): Query<Params>,
    headers: HeaderMap,
) -> Result<Json<Vec<ImageSearchResponseItem>>, ApiError> {
    let req = SearchRequest {
        term: p.get("term").cloned().unwrap_or_default(),
        limit: limit(&p)?,
        filters: search_filters(&p)?,
        // As dockerd: an unreadable X-Registry-Auth is no credential rather than an error.
        credential: registry_auth::credential(&headers).unwrap_or(None),
        insecure: Vec::new(),
    };
    let found = tokio::task::spawn_blocking(move || search_images(&req))
        .await
        .map_err(|e| ApiError::internal(format!("the operation failed: {e}")))?
        .map_err(search_error)?;
    Ok(Json(found.into_iter().map(item).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::query::tests::params;

    #[test]
    fn limits() {
        assert_eq!(limit(&params(&[])).unwrap(), None);
        assert_eq!(limit(&params(&[("limit", "0")])).unwrap(), None);
        assert_eq!(limit(&params(&[("limit", "7")])).unwrap(), Some(7));
        for bad in ["-1", "x"] {
            let e = limit(&params(&[("limit", bad)])).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn filter_values() {
        let f = search_filters(&params(&[(
            "filters",
            r#"{"is-official":["true"],"stars":["3"]}"#,
        )]))
        .unwrap();
        assert_eq!(
            f,
            SearchFilters {
                is_official: Some(true),
                is_automated: None,
                min_stars: Some(3),
            }
        );
        for (filters, message) in [
            (r#"{"stars":["many"]}"#, "invalid filter 'stars=many'"),
            (
                r#"{"is-official":["maybe"]}"#,
                "invalid filter 'is-official=maybe'",
            ),
            (r#"{"bogus":["1"]}"#, "invalid filter 'bogus'"),
        ] {
            let e = search_filters(&params(&[("filters", filters)])).unwrap_err();
            assert_eq!(e.message, message, "{filters}");
        }
    }

    #[test]
    fn registry_answers() {
        let e = search_error(EngineError::Registry(Box::new(
            RegistryError::UnexpectedStatus {
                registry: "r".into(),
                what: "search".into(),
                status: 404,
                body: "404 page not found".into(),
            },
        )));
        assert_eq!(
            (e.status, e.message.as_str()),
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Unexpected status code 404"
            )
        );
    }
}
