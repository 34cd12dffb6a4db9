//! Building an image for both front doors: a typed [`BuildRequest`] in; progress as the
//! executor's [`Event`]s plus [`BuildNotice`]s (pulls, cache import/export, warnings) out
//! through callbacks; the [`BuildOutcome`] at the end. Planning, pulling missing bases,
//! importing and exporting caches and the retry without a broken imported cache all happen
//! here, as does writing an `--output` export (see [`export`]); rendering, `--push` and files
//! like `--iidfile` stay with the CLI.
//! Synchronous: the API runs it on the blocking pool and stops it through the [`Interrupt`].

mod bases;
mod cache;
mod error;
pub mod export;
pub mod prune;
pub mod run_network;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use error::BuildError;

use crate::cache::{CacheFrom, CacheTo};
use crate::digest::CacheKey;
use crate::distribution::{BasicCredential, RegistryClient, RegistryError};
use crate::exec::copy::HttpFetcher;
use crate::exec::events::Progress;
use crate::exec::mounts::Secrets;
pub use crate::exec::step_run::RunDefaults;
use crate::exec::{BuildOptions, BuildOutcome, Interrupt};
use crate::plan::graph::{plan, BuildGraph, PlanOptions};
use crate::plan::platform::Platform;
use crate::plan::scope::ResolvedBuildArgs;
use crate::reference::Reference;
use crate::snapshot::LayerOptions;
use crate::store::Store;
use crate::syntax::render;
use oci_spec::image::Descriptor;

/// The Dockerfile of a build, read already.
#[derive(Debug, Clone)]
pub struct Dockerfile {
    /// Where it is on disk (for the `<Dockerfile>.dockerignore` rule); `None` for one read
    /// from stdin or a URL.
    pub path: Option<PathBuf>,
    /// Its name in messages (`Dockerfile`, `build/Dockerfile.prod`).
    pub shown: String,
    pub text: String,
}

/// When to pull the images a build stands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    /// Only those the store lacks.
    #[default]
    Missing,
    /// Every one: a newer image may have been pushed under the same tag.
    Always,
    Never,
}

/// Everything a build needs to know, resolved by a front door.
#[derive(Default)]
pub struct BuildRequest {
    /// The context, as a local directory.
    pub context_dir: PathBuf,
    pub dockerfile: Option<Dockerfile>,
    pub tags: Vec<Reference>,
    pub build_args: ResolvedBuildArgs,
    /// The stage to build; `None`: the last one.
    pub target: Option<String>,
    /// The platforms to build for, each as its own graph; none: the host's. Several are
    /// stored as one OCI image index under the tags.
    pub platforms: Vec<Platform>,
    pub no_cache: bool,
    /// Stage names (lower-case) or indices whose steps ignore the cache.
    pub no_cache_stages: Vec<String>,
    pub labels: Vec<(String, String)>,
    pub layer: LayerOptions,
    pub secrets: Option<Secrets>,
    pub pull: PullPolicy,
    /// Registries allowed over plain HTTP (beyond loopback).
    pub insecure: Vec<String>,
    /// Credentials given with the request, by registry host; others come from Docker's
    /// config file.
    pub auths: HashMap<String, BasicCredential>,
    /// Say why each rebuilt step missed the cache.
    pub explain: bool,
    pub cache_to: Vec<CacheTo>,
    pub cache_from: Vec<CacheFrom>,
    /// Local images whose own steps are the only cache this build may use (Docker's classic
    /// `cachefrom`); names not in the store are skipped. Empty: the whole local cache.
    pub cache_images: Vec<String>,
    /// `network.host`, `security.insecure`: what RUN may ask for.
    pub entitlements: Vec<String>,
    /// The network, extra hosts and `/dev/shm` size of every RUN without its own.
    pub run_defaults: RunDefaults,
}

/// Something a build reports outside its steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildNotice {
    /// A base image is being pulled.
    Pulling(String),
    /// Cache import/export results.
    Info(String),
    /// Something went wrong that does not fail the build.
    Warning(String),
}

/// Where a build reports, and how it is stopped from outside.
pub struct BuildHooks<'a> {
    pub progress: &'a dyn Progress,
    pub notice: &'a (dyn Fn(BuildNotice) + Sync),
    pub interrupt: Option<&'a Interrupt>,
}

/// Registry clients for pulls and caches: the request's credential for a registry when it
/// carries one, else Docker's config file.
pub(crate) struct Clients<'a> {
    pub insecure: &'a [String],
    pub auths: &'a HashMap<String, BasicCredential>,
    pub notice: &'a (dyn Fn(BuildNotice) + Sync),
}

impl Clients<'_> {
    pub fn client(&self, registry: &str) -> Result<RegistryClient, RegistryError> {
        super::registry::client_with(
            registry,
            self.insecure,
            self.auths.get(registry),
            &mut |w| (self.notice)(BuildNotice::Warning(w)),
        )
    }
}

fn plan_options(req: &BuildRequest, platform: &Platform) -> PlanOptions {
    PlanOptions {
        entitlements: req.entitlements.clone(),
        build_args: req.build_args.clone(),
        target: req.target.clone(),
        target_platform: platform.clone(),
        build_platform: Platform::host(),
        prefix_platform: platforms(req).len() > 1,
    }
}

/// The platforms `req` builds for: those asked, else the host's.
pub fn platforms(req: &BuildRequest) -> Vec<Platform> {
    if req.platforms.is_empty() {
        vec![Platform::host()]
    } else {
        req.platforms.clone()
    }
}

/// The build graph of `req` for `platform` as the store stands now; pulls nothing.
/// `check_platform`: a base in the store for other platforms only is an error.
fn plan_one(
    store: &Store,
    req: &BuildRequest,
    platform: &Platform,
    check_platform: bool,
) -> Result<BuildGraph, BuildError> {
    let df = dockerfile(req);
    let images = bases::StoreImages {
        store,
        check_platform,
    };
    plan(&df.text, &plan_options(req, platform), &images).map_err(|e| {
        let message = match e.diagnostic() {
            Some(d) => render(&df.shown, &df.text, &d).trim_end().to_string(),
            None => e.to_string(),
        };
        if e.is_syntax() {
            BuildError::Syntax(message)
        } else {
            BuildError::Plan(message)
        }
    })
}

/// The build graph of `req` for each of its platforms as the store stands now
/// (`--dump-plan`); pulls nothing.
pub fn plan_graphs(store: &Store, req: &BuildRequest) -> Result<Vec<BuildGraph>, BuildError> {
    (platforms(req).iter())
        .map(|p| plan_one(store, req, p, true))
        .collect()
}

fn dockerfile(req: &BuildRequest) -> std::borrow::Cow<'_, Dockerfile> {
    match &req.dockerfile {
        Some(d) => std::borrow::Cow::Borrowed(d),
        None => std::borrow::Cow::Owned(Dockerfile {
            path: Some(req.context_dir.join("Dockerfile")),
            shown: "Dockerfile".into(),
            text: String::new(),
        }),
    }
}

/// What a build made: the image of its (last) platform, and the index naming every
/// platform's image when it built several.
pub struct Built {
    pub outcome: BuildOutcome,
    pub index: Option<Descriptor>,
}

impl Built {
    /// The built image's ID: the index's digest for a multi-platform image (as Docker's
    /// containerd store names it), else the image's config digest.
    pub fn id(&self) -> String {
        match &self.index {
            Some(d) => d.digest().to_string(),
            None => self.outcome.image.id.to_string(),
        }
    }
}

/// Plans `req` for each platform (all before any step runs, so a bad base or a missing
/// emulator stops the build early), pulls the bases its policy asks for, imports caches,
/// runs each graph (once more without the imported cache if that cache fails mid-build), and
/// exports caches. Several platforms' images are stored as one index under the tags.
/// `on_plan` sees each final graph before its steps run (the API numbers its steps by it).
pub fn build(
    store: &Store,
    req: &BuildRequest,
    hooks: &BuildHooks<'_>,
    on_plan: &mut dyn FnMut(&BuildGraph),
) -> Result<Built, BuildError> {
    let clients = Clients {
        insecure: &req.insecure,
        auths: &req.auths,
        notice: hooks.notice,
    };
    let platforms = platforms(req);
    let multi = platforms.len() > 1;
    let mut graphs = Vec::new();
    for platform in &platforms {
        // With --pull, a local image for another platform is about to be replaced: no error
        // before the pull.
        let mut graph = plan_one(store, req, platform, req.pull != PullPolicy::Always)?;
        if bases::pull_bases(store, &graph, req.pull, &clients)? {
            // The pulled images' Env, User, Shell and ONBUILD feed the plan.
            graph = plan_one(store, req, platform, true)?;
        }
        graphs.push(graph);
    }
    let df = dockerfile(req);
    for g in &graphs {
        crate::exec::check_emulation(g, &df.shown)?;
    }
    let fetcher = HttpFetcher::new();
    let sources = cache::image_sources(store, &req.cache_images, &clients);
    let cache_from: Vec<CacheFrom> = (req.cache_from.iter().cloned())
        .chain(sources.registries)
        .collect();
    let imported = cache::import(store, &cache_from, &clients);
    let run_network = (req.run_defaults.network.as_deref())
        .and_then(run_network::Target::parse)
        .map(|t| run_network::RunNetwork::new(store.root(), t));
    let mut opts = BuildOptions {
        dockerfile_name: df.shown.clone(),
        dockerfile_path: df.path.clone(),
        context_dir: req.context_dir.clone(),
        // The platforms' images are named through their index, once all are built.
        tags: if multi { Vec::new() } else { req.tags.clone() },
        no_cache: req.no_cache,
        no_cache_stages: req.no_cache_stages.clone(),
        labels: req.labels.clone(),
        layer: req.layer.clone(),
        fetch: Some(&fetcher),
        secrets: req.secrets.as_ref(),
        interrupt: hooks.interrupt,
        progress: hooks.progress,
        explain: req.explain,
        imported_cache: imported.as_ref(),
        cache_only: sources.only.as_ref(),
        inline_cache: req.cache_to.contains(&CacheTo::Inline),
        run_defaults: req.run_defaults.clone(),
        step_networks: run_network
            .as_ref()
            .map(|n| n as &dyn crate::exec::step_network::StepNetworks),
    };
    let mut outcomes = Vec::new();
    for (graph, platform) in graphs.iter().zip(&platforms) {
        on_plan(graph);
        let mut result = crate::exec::build(store, graph, &opts);
        if let Err(e) = &result {
            if e.is_cache_fetch() && opts.imported_cache.is_some() {
                // A cache that failed in mid-build costs a rebuild, not the build.
                (hooks.notice)(BuildNotice::Warning(format!(
                    "{e}; building again without the imported cache"
                )));
                opts.imported_cache = None;
                if let Some(i) = opts.interrupt {
                    i.reset();
                }
                result = crate::exec::build(store, graph, &opts);
            }
        }
        let outcome = match result {
            Err(e) if multi && !matches!(e, crate::exec::ExecError::Interrupted) => {
                return Err(BuildError::ForPlatform {
                    platform: platform.to_string(),
                    source: Box::new(e.into()),
                })
            }
            r => r?,
        };
        outcomes.push((outcome, platform.clone()));
    }
    let index = if multi {
        let children: Vec<_> = (outcomes.iter())
            .map(|(o, p)| (o.image.clone(), p.clone()))
            .collect();
        Some(store.commit_index(&children, &req.tags)?)
    } else {
        None
    };
    for (o, _) in &outcomes {
        let keys: Vec<CacheKey> = o.steps.iter().filter_map(|s| s.key.parse().ok()).collect();
        // Without the record the image only cannot serve as a cache source later.
        let _ = store.record_build_keys(&o.image.id, &keys);
    }
    let all: Vec<&BuildOutcome> = outcomes.iter().map(|(o, _)| o).collect();
    cache::export(store, &req.cache_to, &all, imported.as_ref(), &clients);
    let (outcome, _) = outcomes.pop().expect("one platform at least");
    if let Some(imp) = &imported {
        let (blobs, bytes) = imp.fetched();
        (hooks.notice)(BuildNotice::Info(format!(
            "cache: downloaded {blobs} blob(s), {bytes} bytes"
        )));
    }
    Ok(Built { outcome, index })
}

/// The store's temp area, made if missing: where contexts are unpacked.
pub fn temp_area(root: &Path) -> Result<PathBuf, BuildError> {
    let store = Store::open(root)?;
    let tmp = store.tmp_dir();
    std::fs::create_dir_all(&tmp)
        .map_err(crate::store::StoreError::io("cannot create", tmp.clone()))?;
    Ok(tmp)
}
