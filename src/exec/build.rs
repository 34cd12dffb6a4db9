//! `build`: runs a planned graph against a store — walks the context once if a step reads it,
//! runs each needed stage on its own thread (stages wait only for the nodes they depend on),
//! and writes the target image once at the end.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::copy::Fetch;
use super::error::{ExecError, StepError};
use super::events::{Event, Progress};
use super::explain::{Explained, Explainer, ParentRef};
use super::interrupt::Interrupt;
use super::mounts::Secrets;
use super::remote_cache::{
    cache_records, inline_document, CacheRecord, ImportedCache, InputMemo, INLINE_FIELD,
};
use super::slots::Slots;
use super::state::StepState;
use super::step_copy::{ContextInputs, MemoFetch};
use super::steps::Executor;
use crate::plan::context::{
    open_context, stat_cache_dir, stat_cache_file, Context, ContextHasher, StatCache, WalkedTree,
};
use crate::plan::graph::{BuildGraph, CopySource, Input, Node, Op};
use crate::plan::platform::Platform;
use crate::reference::Reference;
use crate::snapshot::LayerOptions;
use crate::store::image::{layer_descriptor, Image};
use crate::store::Store;

/// What a build needs besides the graph.
pub struct BuildOptions<'a> {
    /// The Dockerfile's name in messages (`Dockerfile`, `build/Dockerfile.prod`).
    pub dockerfile_name: String,
    /// Its path, for the `<Dockerfile>.dockerignore` rule.
    pub dockerfile_path: Option<PathBuf>,
    pub context_dir: PathBuf,
    pub tags: Vec<Reference>,
    /// `--no-cache`: never read the cache index (results are still recorded).
    pub no_cache: bool,
    /// `--no-cache-filter`: stage names (lower-case) or indices whose steps ignore the cache.
    pub no_cache_stages: Vec<String>,
    /// `--label`: added to the final image's labels.
    pub labels: Vec<(String, String)>,
    pub layer: LayerOptions,
    pub fetch: Option<&'a (dyn Fetch + Sync)>,
    /// `--secret` values for `RUN --mount=type=secret`.
    pub secrets: Option<&'a Secrets>,
    pub progress: &'a dyn Progress,
    /// Lets the caller stop the build (signals); `None` for a build only failures stop.
    pub interrupt: Option<&'a Interrupt>,
    /// `--explain`: say why each rebuilt step missed the cache.
    pub explain: bool,
    /// `--cache-from`: entries consulted after the local cache index.
    pub imported_cache: Option<&'a ImportedCache>,
    /// Local images as cache sources (the classic builder's `cachefrom`): when set, only
    /// these keys may be taken from the cache, the steps that built those images.
    pub cache_only: Option<&'a std::collections::HashSet<crate::digest::CacheKey>>,
    /// `--cache-to type=inline`: the output steps' entries go into the image config.
    pub inline_cache: bool,
    /// The network, hosts and `/dev/shm` every RUN gets by default.
    pub run_defaults: super::step_run::RunDefaults,
    /// The build's user network or container namespace, when it names one.
    pub step_networks: Option<&'a dyn super::step_network::StepNetworks>,
}

/// One step as the build saw it (for `--metadata-file` and tests).
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepSummary {
    pub label: String,
    pub line: u32,
    pub cached: bool,
    pub key: String,
}

/// A finished build.
#[derive(Debug)]
pub struct BuildOutcome {
    pub image: Image,
    pub steps: Vec<StepSummary>,
    /// With `--explain`: every step that missed the cache, and why.
    pub explained: Vec<Explained>,
    /// The cache entry of every step, for `--cache-to`.
    pub cache_records: Vec<CacheRecord>,
    /// The `COPY --from` inputs the build computed or reused, for `--cache-to`.
    pub cache_inputs: Vec<InputMemo>,
}

/// Checks, before anything runs, that every RUN of `graph` can run here: natively, or for a
/// foreign platform through a binfmt_misc emulator.
pub fn check_emulation(graph: &BuildGraph, dockerfile_name: &str) -> Result<(), ExecError> {
    let host = Platform::host();
    for n in &graph.nodes {
        if !matches!(n.op, Op::Exec(_)) {
            continue;
        }
        let Some(stage) = graph.stages.iter().find(|s| s.index == n.stage) else {
            continue;
        };
        let Ok(p) = Platform::parse(&stage.platform) else {
            continue;
        };
        crate::sandbox::emulation::check(
            &host.architecture,
            &p.architecture,
            &crate::sandbox::emulation::binfmt_dir(),
        )
        .map_err(|source| ExecError::Emulation {
            file: dockerfile_name.to_string(),
            line: n.meta.line,
            text: n.meta.text.clone(),
            platform: stage.platform.clone(),
            source: Box::new(source),
        })?;
    }
    Ok(())
}

/// Runs `graph` and writes the target image into `store`.
pub fn build(
    store: &Store,
    graph: &BuildGraph,
    opts: &BuildOptions<'_>,
) -> Result<BuildOutcome, ExecError> {
    let needs_context = graph.nodes.iter().any(reads_context);
    let entries = if needs_context {
        opts.progress.event(Event::Phase {
            name: "load build context".into(),
        });
        open_context(&opts.context_dir, opts.dockerfile_path.as_deref())?.entries()?
    } else {
        Vec::new()
    };
    let context_root =
        std::fs::canonicalize(&opts.context_dir).map_err(|source| ExecError::Io {
            op: "resolve",
            path: opts.context_dir.clone(),
            source,
        })?;
    let context = if needs_context {
        let cache_file = stat_cache_file(&stat_cache_dir(store.root()), &context_root);
        Some(ContextInputs {
            tree: WalkedTree::new(&context_root, &entries).map_err(|source| ExecError::Io {
                op: "stat",
                path: context_root.clone(),
                source,
            })?,
            hasher: Mutex::new(ContextHasher::new(
                &context_root,
                &entries,
                StatCache::load(cache_file),
            )),
        })
    } else {
        None
    };

    let use_cache = |n: &Node| -> bool {
        if opts.no_cache {
            return false;
        }
        let idx = n.stage.to_string();
        !opts.no_cache_stages.iter().any(|s| {
            *s == idx || n.meta.stage_name.as_deref() == Some(s.to_ascii_lowercase().as_str())
        })
    };
    let explain = Explainer::new(
        store.root(),
        format!("{}\0{}", context_root.display(), opts.dockerfile_name),
        opts.explain,
    );
    let positions = stage_positions(graph);
    let own_interrupt = Interrupt::new();
    let interrupt = opts.interrupt.unwrap_or(&own_interrupt);
    let exec = Executor {
        store,
        graph,
        context: context.as_ref(),
        fetch: MemoFetch::new(opts.fetch),
        layer: opts.layer.clone(),
        progress: opts.progress,
        secrets: opts.secrets,
        use_cache: &use_cache,
        slots: Slots::new(graph.nodes.len()),
        explain: &explain,
        interrupt,
        failed: AtomicBool::new(false),
        imported: opts.imported_cache,
        cache_only: opts.cache_only,
        run_defaults: &opts.run_defaults,
        step_networks: opts.step_networks,
        seen: Mutex::new(Default::default()),
    };
    let errors: Mutex<Vec<(usize, StepError)>> = Mutex::new(Vec::new());
    let states: Mutex<Vec<Option<Arc<StepState>>>> = Mutex::new(vec![None; graph.nodes.len()]);
    std::thread::scope(|s| {
        for stage in &graph.stages {
            let (exec, errors, states) = (&exec, &errors, &states);
            let (explain, positions, use_cache) = (&explain, &positions, &use_cache);
            s.spawn(move || {
                for node in graph.nodes.iter().filter(|n| n.stage == stage.index) {
                    let t0 = Instant::now();
                    match exec.run_node(node) {
                        Ok(st) => {
                            let st = Arc::new(st);
                            report_done(opts.progress, node, &st, t0);
                            let parent = node.key_parent.and_then(|p| {
                                let states = states.lock().expect("states");
                                Some(ParentRef {
                                    key: states[p].as_ref()?.key.to_string(),
                                    text: graph.nodes[p].meta.text.clone(),
                                })
                            });
                            explain.observe(
                                node,
                                positions[node.id],
                                &st.key,
                                st.cached,
                                use_cache(node),
                                parent,
                            );
                            states.lock().expect("states")[node.id] = Some(st.clone());
                            exec.slots.done(node.id, st);
                        }
                        Err(e) => {
                            if matches!(e, StepError::Cancelled) {
                                opts.progress.event(Event::StepCancelled {
                                    step: node.id,
                                    label: node.meta.label.clone(),
                                });
                            } else {
                                opts.progress.event(Event::StepFailed {
                                    step: node.id,
                                    label: node.meta.label.clone(),
                                    error: e.to_string(),
                                });
                                exec.cancel_all();
                            }
                            errors.lock().expect("errors").push((node.id, e));
                            exec.slots.fail(node.id);
                        }
                    }
                }
            });
        }
    });
    if let Some(ctx) = &context {
        // A stat cache that cannot be saved only costs the next build a re-hash.
        let _ = ctx.hasher.lock().expect("hasher").save_cache();
    }
    let mut errors = errors.into_inner().expect("errors");
    if interrupt.is_triggered() && !exec.failed.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(ExecError::Interrupted);
    }
    if !errors.is_empty() {
        // Report the failure that caused the others, not a cancellation.
        errors.sort_by_key(|(id, e)| (matches!(e, StepError::Cancelled), *id));
        let (id, source) = errors.remove(0);
        let node = &graph.nodes[id];
        return Err(ExecError::Step {
            file: opts.dockerfile_name.clone(),
            line: node.meta.line,
            text: node.meta.text.clone(),
            source: Box::new(source),
        });
    }
    let states = states.into_inner().expect("states");
    let out = states[graph.output()].clone().expect("the output node ran");
    if let Some(imp) = opts.imported_cache {
        imp.ensure_blobs(store, &out.layers)
            .map_err(|e| ExecError::CacheFetch(Box::new(e)))?;
    }
    let seen = exec.seen.into_inner().expect("seen");
    let cache_inputs: Vec<InputMemo> = seen
        .inputs
        .iter()
        .map(|(k, d)| InputMemo::new(*k, d))
        .collect();
    let cache_records = cache_records(graph, &states, seen.entries);
    let inline = opts.inline_cache.then(|| inline_document(&cache_records));
    let image = assemble(store, &out, opts, inline)?;
    opts.progress.event(Event::Exported {
        digest: image.manifest_digest.to_string(),
        tags: opts.tags.iter().map(|t| t.to_string()).collect(),
    });
    let steps = graph
        .nodes
        .iter()
        .filter_map(|n| {
            let st = states[n.id].as_ref()?;
            Some(StepSummary {
                label: n.meta.label.clone(),
                line: n.meta.line,
                cached: st.cached,
                key: st.key.to_string(),
            })
        })
        .collect();
    Ok(BuildOutcome {
        image,
        steps,
        explained: explain.into_explained(),
        cache_records,
        cache_inputs,
    })
}

/// Each node's index within its stage (FROM is 0), the step's identity for `--explain`.
fn stage_positions(graph: &BuildGraph) -> Vec<usize> {
    let mut seen: std::collections::HashMap<usize, usize> = Default::default();
    graph
        .nodes
        .iter()
        .map(|n| {
            let c = seen.entry(n.stage).or_default();
            *c += 1;
            *c - 1
        })
        .collect()
}

fn report_done(progress: &dyn Progress, node: &Node, st: &StepState, t0: Instant) {
    if st.cached {
        progress.event(Event::StepCached {
            step: node.id,
            label: node.meta.label.clone(),
        });
    } else {
        progress.event(Event::StepDone {
            step: node.id,
            label: node.meta.label.clone(),
            elapsed: t0.elapsed(),
        });
    }
}

fn reads_context(n: &Node) -> bool {
    match &n.op {
        Op::Copy(c) => c.from == CopySource::Context,
        _ => n.inputs.iter().any(|i| {
            matches!(
                i,
                Input::MountFiles {
                    source: CopySource::Context,
                    ..
                }
            )
        }),
    }
}

/// The image: the output node's config with `--label`s, `created` from its newest history
/// entry (so a cached rebuild has the same digest) or the epoch, and a manifest over its layers.
fn assemble(
    store: &Store,
    out: &StepState,
    opts: &BuildOptions<'_>,
    inline_cache: Option<serde_json::Value>,
) -> Result<Image, ExecError> {
    let mut config = out.config.clone();
    if let Some(v) = inline_cache {
        config.extra.insert(INLINE_FIELD.to_string(), v);
    }
    if !opts.labels.is_empty() {
        let labels = config.config.labels.get_or_insert_with(Default::default);
        for (k, v) in &opts.labels {
            labels.insert(k.clone(), v.clone());
        }
    }
    // With SOURCE_DATE_EPOCH the image is dated by it even when a base's history is newer.
    let created = match opts.layer.source_date_epoch {
        Some(e) => Some(crate::store::time::format_rfc3339(e)),
        None => config
            .history
            .iter()
            .filter_map(|h| h.created().clone())
            .max(),
    };
    if let Some(c) = created {
        config.created = Some(c);
    }
    let layers: Vec<_> = out
        .layers
        .iter()
        .map(|l| layer_descriptor(&l.digest, l.size, &l.media_type))
        .collect();
    Ok(store.commit_image(&config, &layers, &opts.tags)?)
}
