//! `images --tree` for both front doors: each listed image once, with the platform images under
//! it (every manifest of a multi-platform index; a single-platform image's own manifest), their
//! sizes and whether a container uses them — what Docker 28's containerd image store reports.

use std::path::Path;

use super::images::{created, list, ListRequest};
use super::system::container_manifests;
use super::EngineError;
use crate::digest::Digest;
use crate::plan::platform::Platform;
use crate::reference::Reference;
use crate::store::platform_index::config_platform;
use crate::store::{Image, Store};

/// One listed image (an index or a single manifest) and its platforms.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeImage {
    /// The tags the filters let through; none for an untagged image.
    pub names: Vec<Reference>,
    /// The image ID `images` shows.
    pub id: Digest,
    /// The platforms' disk usage, summed (Docker's containerd store sums the available
    /// platforms too); a single-platform image's is what `images` shows as SIZE.
    pub disk_usage: u64,
    /// The platforms' content, summed.
    pub content_size: u64,
    /// Some container was made from one of its platforms.
    pub in_use: bool,
    pub created: Option<i64>,
    pub platforms: Vec<TreePlatform>,
}

/// One platform's image under a [`TreeImage`].
#[derive(Debug, Clone, PartialEq)]
pub struct TreePlatform {
    pub platform: Platform,
    /// The manifest's digest: Docker's ID of a platform's image.
    pub id: Digest,
    /// The layers' bytes.
    pub disk_usage: u64,
    /// Every blob of the image: manifest, config and layers.
    pub content_size: u64,
    pub in_use: bool,
}

/// The images `req` selects, newest first, each with its platforms.
pub fn tree(root: &Path, req: &ListRequest) -> Result<Vec<TreeImage>, EngineError> {
    let store = Store::open(root)?;
    let used = container_manifests(root)?;
    let mut out = Vec::new();
    for listed in list(root, req)? {
        let img = &listed.image;
        let children: Vec<(Image, Option<Platform>)> = match &img.index {
            Some(index) => {
                let mut v = Vec::new();
                for choice in store.index_choices(&index.digest()?)? {
                    v.push((store.image(&choice.digest)?, choice.platform));
                }
                v
            }
            None => vec![(img.clone(), None)],
        };
        let platforms: Vec<TreePlatform> = children
            .into_iter()
            .map(|(child, declared)| TreePlatform {
                platform: declared.unwrap_or_else(|| config_platform(&child.config)),
                id: child.manifest_digest,
                disk_usage: child.size(),
                content_size: child.manifest_size + child.manifest.config().size() + child.size(),
                in_use: used.contains(&child.manifest_digest),
            })
            .collect();
        out.push(TreeImage {
            names: listed.tags.clone(),
            id: img.id,
            disk_usage: platforms.iter().map(|p| p.disk_usage).sum(),
            content_size: platforms.iter().map(|p| p.content_size).sum(),
            in_use: platforms.iter().any(|p| p.in_use),
            created: created(img),
            platforms,
        });
    }
    Ok(out)
}
