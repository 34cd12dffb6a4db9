//! Asking registries about images without pulling them: the manifest a reference names
//! (`GET /distribution/{name}/json`) and a repository search (`GET /images/search`). Each
//! uses the request's credential when it carries one, else Docker's config file, as a pull.

use super::EngineError;
use crate::distribution::inspect::{inspect as registry_inspect, RemoteImage};
use crate::distribution::search::{self, SearchFilters, SearchResult};
use crate::distribution::BasicCredential;
use crate::reference::Reference;

/// The manifest `reference` names in its registry and the platforms it serves.
pub fn inspect(
    reference: &Reference,
    credential: Option<&BasicCredential>,
    insecure: &[String],
) -> Result<RemoteImage, EngineError> {
    // A failing credential helper leaves the lookup anonymous, which the registry judges.
    let client =
        super::registry::client_with(reference.domain(), insecure, credential, &mut |_| {})?;
    Ok(registry_inspect(&client, reference)?)
}

/// A search of the registry `term` names (Docker Hub without one).
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub term: String,
    /// At most this many results; `None`: the registry's default of 25.
    pub limit: Option<u32>,
    pub filters: SearchFilters,
    pub credential: Option<BasicCredential>,
    pub insecure: Vec<String>,
}

/// Why a search was refused before any registry was asked, in dockerd's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    #[error("invalid repository name: repository name ({0}) should not have a scheme")]
    Scheme(String),
    #[error("limit {0} is outside the range of [1, 100]")]
    Limit(u32),
}

/// Searches the registry `req.term` names and keeps what its filters accept.
pub fn search_images(req: &SearchRequest) -> Result<Vec<SearchResult>, EngineError> {
    if req.term.contains("://") {
        return Err(SearchError::Scheme(req.term.clone()).into());
    }
    let limit = req.limit.unwrap_or(search::DEFAULT_LIMIT);
    if !(1..=100).contains(&limit) {
        return Err(SearchError::Limit(limit).into());
    }
    let (index, remote) = search::split_term(&req.term);
    let client =
        super::registry::client_with(index, &req.insecure, req.credential.as_ref(), &mut |_| {})?;
    Ok(req.filters.apply(search::search(&client, remote, limit)?))
}
