//! The images a build stands on: what the planner learns from the store about a base (its
//! Env, User, Shell, ONBUILD…), and pulling the bases the store lacks (or all, with `--pull`).

use super::{BuildError, BuildNotice, PullPolicy};
use crate::plan::graph::{BaseImage, BuildGraph, CopySource, ImageResolver, Op};
use crate::plan::platform::Platform;
use crate::reference::Reference;
use crate::store::Store;

/// Base images come from the store: their Env, User, WorkingDir, Shell and OnBuild feed the
/// plan. An image that is not there plans with empty defaults; the executor reports it missing.
/// `check_platform`: an image in the store for other platforms only is an error.
pub(super) struct StoreImages<'a> {
    pub store: &'a Store,
    pub check_platform: bool,
}

impl ImageResolver for StoreImages<'_> {
    fn platform_mismatch(&self, reference: &str, platform: &Platform) -> Option<String> {
        if !self.check_platform {
            return None;
        }
        match self.store.resolve_platform(reference, Some(platform)) {
            Err(e @ crate::store::StoreError::PlatformMismatch { .. }) => Some(e.to_string()),
            _ => None,
        }
    }

    fn resolve(&self, reference: &str, platform: &Platform) -> Option<BaseImage> {
        let image = self
            .store
            .resolve_platform(reference, Some(platform))
            .ok()?;
        let c = &image.config.config;
        Some(BaseImage {
            env: c.env.clone().unwrap_or_default(),
            user: c.user.clone().unwrap_or_default(),
            working_dir: c.working_dir.clone().unwrap_or_default(),
            shell: c.shell.clone().unwrap_or_default(),
            onbuild: c.on_build.clone().unwrap_or_default(),
        })
    }
}

/// The images the graph builds on (FROM, `COPY --from=image`, `--mount from=image`) that
/// `policy` says to pull, with the platform each is wanted for.
fn wanted(store: &Store, graph: &BuildGraph, policy: PullPolicy) -> Vec<(String, String)> {
    let always = match policy {
        PullPolicy::Never => return Vec::new(),
        PullPolicy::Always => true,
        PullPolicy::Missing => false,
    };
    let mut wanted: Vec<(String, String)> = Vec::new();
    for n in &graph.nodes {
        let mut add = |image: &str, platform: &str| {
            let key = (image.to_string(), platform.to_string());
            let missing = || {
                let p = Platform::parse(platform).ok();
                store.resolve_platform(image, p.as_ref()).is_err()
            };
            if !wanted.contains(&key) && (always || missing()) {
                wanted.push(key);
            }
        };
        let platform = graph
            .stages
            .iter()
            .find(|s| s.index == n.stage)
            .map(|s| s.platform.clone())
            .unwrap_or_default();
        match &n.op {
            Op::Base { image, platform } => add(image, platform),
            Op::Copy(c) => {
                if let CopySource::Image(image) = &c.from {
                    add(image, &platform)
                }
            }
            Op::Exec(e) => {
                for m in &e.mounts {
                    if let Some(CopySource::Image(image)) = &m.source {
                        add(image, &platform)
                    }
                }
            }
            _ => {}
        }
    }
    wanted
}

/// Pulls what `policy` asks for; returns whether anything was pulled.
pub(super) fn pull_bases(
    store: &Store,
    graph: &BuildGraph,
    policy: PullPolicy,
    clients: &super::Clients,
) -> Result<bool, BuildError> {
    let wanted = wanted(store, graph, policy);
    for (image, platform) in &wanted {
        let reference = Reference::parse(image).map_err(|source| BuildError::BadBase {
            image: image.clone(),
            source,
        })?;
        let platform = Platform::parse(platform)?;
        let name = reference.familiar_string();
        let pull_err = |source| BuildError::Pull {
            reference: name.clone(),
            source: Box::new(source),
        };
        let client = clients.client(reference.domain()).map_err(pull_err)?;
        (clients.notice)(BuildNotice::Pulling(name.clone()));
        crate::distribution::pull(store, &client, &reference, &platform).map_err(pull_err)?;
    }
    Ok(!wanted.is_empty())
}
