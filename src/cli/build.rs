//! `strata build [-t REF]… [-f FILE] [--build-arg K[=V]]… [--target STAGE] [--no-cache]
//! [--no-cache-filter STAGE] [--label K=V] [--platform P] [--progress MODE] [--metadata-file F]
//! [--iidfile F] [--dump-plan] CONTEXT`: plans the Dockerfile, then either prints the graph
//! (`--dump-plan`) or runs it and names the image.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;

use super::args::CompressionArg;
use super::build_output::{parse_output, source_date_epoch, write_output, Output};
use super::Settings;
use crate::cache::{parse_cache_from, parse_cache_to};
use crate::engine::build::export::ExportKind;
use crate::engine::build::{
    self as engine_build, run_network, BuildHooks, BuildNotice, BuildRequest, Dockerfile,
    PullPolicy, RunDefaults,
};
use crate::engine::context_source;
use crate::exec::mounts::{parse_secret_flag, Secrets};
use crate::plan::graph::dump::dump_plan;
use crate::plan::platform::Platform;
use crate::plan::scope::BuildArgs;
use crate::reference::Reference;
use crate::snapshot::LayerOptions;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct BuildArgsCli {
    /// Name (and optionally tag) of the image, `name:tag`; repeatable.
    #[arg(short = 't', long = "tag", value_name = "REF")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: CONTEXT/Dockerfile).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// A build-time variable (`K=V`, or `K` to take it from the environment).
    #[arg(long = "build-arg", value_name = "K[=V]")]
    pub build_args: Vec<String>,
    /// The stage to build (default: the last one).
    #[arg(long)]
    pub target: Option<String>,
    /// The target platforms, `os/arch[/variant]`, comma-separated or repeated (default: the
    /// host's); several build one image per platform under an OCI image index.
    #[arg(long, value_name = "OS/ARCH[/VARIANT],…")]
    pub platform: Vec<String>,
    /// Do not use the build cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Do not use the build cache for these stages (names or indices; repeatable or
    /// comma-separated).
    #[arg(long = "no-cache-filter", value_name = "STAGE", value_delimiter = ',')]
    pub no_cache_filter: Vec<String>,
    /// Set a label on the image (`K=V`); repeatable.
    #[arg(long = "label", value_name = "K=V")]
    pub labels: Vec<String>,
    /// Progress output: auto, tty, plain or rawjson.
    #[arg(long, value_name = "MODE")]
    pub progress: Option<String>,
    /// Suppress the build output and print the image ID on success.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// A secret for `RUN --mount=type=secret`: `id=ID[,src=FILE]` or `id=ID,env=VAR`;
    /// repeatable.
    #[arg(long = "secret", value_name = "id=ID[,src=FILE|env=VAR]")]
    pub secrets: Vec<String>,
    /// Write build result metadata (image digest, config digest, steps) to a JSON file.
    #[arg(long = "metadata-file", value_name = "FILE")]
    pub metadata_file: Option<PathBuf>,
    /// Write the image ID to a file.
    #[arg(long = "iidfile", value_name = "FILE")]
    pub iidfile: Option<PathBuf>,
    /// Layer compression.
    #[arg(long, value_enum, default_value = "gzip")]
    pub compression: CompressionArg,
    /// Compression level (gzip 0-9, default 5; zstd 1-22, default 3).
    #[arg(long = "compression-level", value_name = "N")]
    pub compression_level: Option<i32>,
    /// When to pull base images: `missing` (the default: those the store lacks), `always`
    /// (`--pull` alone: a newer one may have been pushed under the same tag) or `never`.
    #[arg(long, value_name = "POLICY", num_args = 0..=1, require_equals = true, default_missing_value = "always")]
    pub pull: Option<String>,
    /// Allow plain HTTP to this registry when pulling bases (`host[:port]` or a CIDR).
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure: Vec<String>,
    /// Push every `-t` tag to its registry after the build (`--output type=image,push=true`).
    #[arg(long)]
    pub push: bool,
    /// Where the result goes: `type=image[,push=true]` (the store, the default),
    /// `type=oci,dest=FILE|DIR[,tar=false]`, `type=docker,dest=FILE`, `type=local,dest=DIR`
    /// (the rootfs), `type=tar,dest=FILE`; a bare `DIR` is `type=local`, `dest=-` is stdout.
    #[arg(short = 'o', long = "output", value_name = "type=TYPE[,dest=PATH]|DIR")]
    pub output: Option<String>,
    /// After the build, say why each rebuilt step missed the cache (the changed file, build
    /// arg, env value or parent step); also written to `--metadata-file`.
    #[arg(long)]
    pub explain: bool,
    /// Make the build reproducible: clamp new layers' file times to this Unix time and date
    /// the image and its history by it (default: `--build-arg SOURCE_DATE_EPOCH`, else
    /// $SOURCE_DATE_EPOCH).
    #[arg(long = "source-date-epoch", value_name = "SECONDS")]
    pub source_date_epoch: Option<String>,
    /// Export the build cache: `type=registry,ref=REF[,mode=min|max][,cache-mounts=true]`,
    /// `type=local,dest=DIR[,…]` or `type=inline`; repeatable.
    #[arg(long = "cache-to", value_name = "type=…")]
    pub cache_to: Vec<String>,
    /// Import a build cache: `type=registry,ref=REF` (a cache or an image with inline cache),
    /// `type=local,src=DIR`, or a bare REF; repeatable.
    #[arg(long = "cache-from", value_name = "type=…")]
    pub cache_from: Vec<String>,
    /// Grant an entitlement RUN may ask for: `network.host` (`RUN --network=host`) or
    /// `security.insecure` (`RUN --security=insecure`); repeatable.
    #[arg(long = "allow", value_name = "ENTITLEMENT")]
    pub allow: Vec<String>,
    /// The network of every RUN without its own `--network`: `default`, `host`, `none`, a
    /// network's name or id (each RUN gets an endpoint on it), or `container:NAME|ID`.
    #[arg(long, value_name = "MODE")]
    pub network: Option<String>,
    /// Print the build graph with every node's cache key as JSON, and build nothing.
    #[arg(long)]
    pub dump_plan: bool,
    /// The build context: a directory, `-` (stdin: a Dockerfile, or a tar/tar.gz/tar.xz
    /// context), a tarball, an http(s) URL of a tarball or Dockerfile, or a git URL
    /// (`https://host/repo.git#ref:subdir`, `git@host:repo.git`).
    pub context: String,
}

pub fn run(settings: &Settings, args: BuildArgsCli) -> Result<ExitCode> {
    let ctx = resolve_context(settings, &args)?;
    let (path, shown, text) = ctx.dockerfile;
    let build_args = BuildArgs::from_flags(args.build_args.iter().map(String::as_str))
        .map_err(|e| anyhow!("{e}"))?
        .resolve_from_process_env();
    let platforms = target_platforms(&args.platform)?;
    let output = match &args.output {
        Some(o) => parse_output(o).map_err(|e| anyhow!("invalid --output {o:?}: {e}"))?,
        None => Output::Image {
            push: false,
            names: Vec::new(),
        },
    };
    if platforms.len() > 1
        && matches!(
            output,
            Output::Export {
                kind: ExportKind::DockerArchive,
                ..
            }
        )
    {
        bail!(
            "--output {:?}: a docker-archive holds one platform's image: use type=oci for a \
             multi-platform build, or build one --platform at a time",
            args.output.as_deref().unwrap_or_default()
        );
    }
    let epoch = source_date_epoch(
        args.source_date_epoch.as_deref(),
        build_args.get("SOURCE_DATE_EPOCH"),
        std::env::var("SOURCE_DATE_EPOCH").ok().as_deref(),
    )
    .map_err(|e| anyhow!(e))?;
    // `name=` of type=image tags the image; an export records its names in the archive.
    let image_names = match &output {
        Output::Image { .. } => output.names(),
        Output::Export { .. } => &[],
    };
    let tags = args
        .tags
        .iter()
        .chain(image_names)
        .map(|t| Reference::parse(t).map_err(|e| anyhow!("invalid tag {t:?}: {e}")))
        .collect::<Result<Vec<_>>>()?;
    let labels = args
        .labels
        .iter()
        .map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| anyhow!("invalid --label {l:?}: expected KEY=VALUE"))
        })
        .collect::<Result<Vec<_>>>()?;
    let secrets = Secrets::new(
        args.secrets
            .iter()
            .map(|f| parse_secret_flag(f).map_err(|e| anyhow!("--secret {f:?}: {e}")))
            .collect::<Result<Vec<_>>>()?,
    );
    let push = args.push || output.pushes();
    let mode = super::progress::ProgressMode::chosen(args.progress.as_deref())?;
    for a in &args.allow {
        if !matches!(a.as_str(), "network.host" | "security.insecure") {
            bail!("invalid --allow {a:?}: expected network.host or security.insecure");
        }
    }
    let pull = match args.pull.as_deref() {
        None | Some("missing") => PullPolicy::Missing,
        Some("always") | Some("true") => PullPolicy::Always,
        Some("never") | Some("false") => PullPolicy::Never,
        Some(other) => bail!("invalid --pull {other:?}: expected always, missing or never"),
    };
    let req = BuildRequest {
        context_dir: ctx.dir.dir.clone(),
        dockerfile: Some(Dockerfile { path, shown, text }),
        tags,
        build_args,
        target: args.target.clone(),
        platforms,
        no_cache: args.no_cache,
        no_cache_stages: args.no_cache_filter.clone(),
        labels,
        layer: LayerOptions {
            compression: args.compression.with_level(args.compression_level),
            source_date_epoch: epoch,
        },
        secrets: Some(secrets),
        pull,
        insecure: args.insecure.clone(),
        auths: Default::default(),
        explain: args.explain,
        cache_to: args
            .cache_to
            .iter()
            .map(|s| parse_cache_to(s).map_err(|e| anyhow!("--cache-to {e}")))
            .collect::<Result<_>>()?,
        cache_from: args
            .cache_from
            .iter()
            .map(|s| parse_cache_from(s).map_err(|e| anyhow!("--cache-from {e}")))
            .collect::<Result<_>>()?,
        cache_images: Vec::new(),
        entitlements: args.allow.clone(),
        run_defaults: RunDefaults {
            network: run_network::run_default(args.network.as_deref()),
            ..Default::default()
        },
    };
    let store = Store::open(&settings.root)?;
    if args.dump_plan {
        for g in engine_build::plan_graphs(&store, &req)? {
            println!("{}", dump_plan(&g));
        }
        return Ok(ExitCode::SUCCESS);
    }

    let renderer = if args.quiet {
        super::progress::quiet()
    } else {
        super::progress::renderer(mode, Box::new(std::io::stderr()))
    };
    let notice = |n: BuildNotice| match n {
        BuildNotice::Pulling(name) => eprintln!("pulling {name}"),
        BuildNotice::Info(m) => eprintln!("{m}"),
        BuildNotice::Warning(w) => eprintln!("warning: {w}"),
    };
    let hooks = BuildHooks {
        progress: renderer.as_progress(),
        notice: &notice,
        interrupt: Some(super::signals::build_interrupt()),
    };
    let result = engine_build::build(&store, &req, &hooks, &mut |_| {});
    renderer.finish();
    let built = match result {
        Err(e) if e.is_interrupted() => {
            eprintln!("error: build interrupted; nothing was written for unfinished steps");
            return Ok(ExitCode::from(130));
        }
        r => r?,
    };
    let (outcome, index) = (&built.outcome, &built.index);
    let image = &outcome.image;
    let id = built.id();
    if args.explain {
        super::explain::print(&outcome.explained, &mut std::io::stderr());
    }
    // A multi-platform image exports whole: found through its index.
    let exported = match index {
        Some(d) => &store.resolve_platform(d.digest().as_ref(), None)?,
        None => image,
    };
    write_output(&store, exported, &output, &req.tags, epoch)?;
    if let Some(f) = &args.iidfile {
        std::fs::write(f, &id)
            .with_context(|| format!("cannot write --iidfile {}", f.display()))?;
    }
    if let Some(f) = &args.metadata_file {
        let meta = serde_json::json!({
            "containerimage.digest": index.as_ref().map_or(image.manifest_digest.to_string(), |d| d.digest().to_string()),
            "containerimage.config.digest": image.id.to_string(),
            "containerimage.descriptor": index.clone().unwrap_or_else(|| image.descriptor()),
            "image.name": req.tags.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(","),
            "strata.steps": outcome.steps,
        });
        let mut meta = meta;
        if args.explain {
            meta["strata.explain"] = serde_json::to_value(&outcome.explained)?;
        }
        let text = serde_json::to_string_pretty(&meta).expect("metadata serialises");
        crate::util::atomic::write_atomic(f, text.as_bytes())
            .with_context(|| format!("cannot write --metadata-file {}", f.display()))?;
    }
    if push {
        if req.tags.is_empty() {
            bail!("--push needs at least one -t NAME to push to");
        }
        for t in &req.tags {
            super::push::push_one(&store, t, &args.insecure)?;
        }
    }
    if args.quiet && !output.to_stdout() {
        println!("{id}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `--platform a,b …` (repeatable too): each parsed and normalised, duplicates dropped; none
/// given is the host's.
fn target_platforms(flags: &[String]) -> Result<Vec<Platform>> {
    let mut out: Vec<Platform> = Vec::new();
    for spec in flags.iter().flat_map(|f| f.split(',')).map(str::trim) {
        let p = Platform::parse(spec).map_err(|e| anyhow!("--platform: {e}"))?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if out.is_empty() {
        out.push(Platform::host());
    }
    Ok(out)
}

/// The Dockerfile's name in messages: as the user wrote it, or `Dockerfile` for the default in
/// the current directory.
fn shown_name(args: &BuildArgsCli, path: &Path) -> String {
    if args.file.is_none() && args.context == "." {
        "Dockerfile".to_string()
    } else {
        path.display().to_string()
    }
}

/// The build's context as a local directory, and its Dockerfile: (path, name in messages,
/// text). The directory of a tarball, URL or stdin context lives in the store's temp area
/// until `dir` is dropped.
struct BuildContext {
    dir: context_source::Materialized,
    dockerfile: (Option<PathBuf>, String, String),
}

/// Docker's rules: `-f -` reads the Dockerfile from stdin, so the context cannot be stdin too;
/// a context that is a Dockerfile (stdin or URL text) has an empty context; `-f` names a file
/// under the current directory for a local context, inside the context otherwise.
fn resolve_context(settings: &Settings, args: &BuildArgsCli) -> Result<BuildContext> {
    let arg = context_source::classify(&args.context);
    let file_from_stdin = args.file.as_deref() == Some(Path::new("-"));
    if file_from_stdin && arg == context_source::ContextArg::Stdin {
        bail!("invalid argument: can't use stdin for both build context and dockerfile");
    }
    if let context_source::ContextArg::Tarball(p) = &arg {
        if !p.exists() {
            bail!(
                "unable to prepare context: path {:?} not found",
                args.context
            );
        }
    }
    let local = matches!(arg, context_source::ContextArg::Dir(_));
    let tmp = Store::open(&settings.root)?.tmp_dir();
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut stdin = std::io::stdin().lock();
    let mut dir = context_source::materialize(&arg, &mut stdin, &tmp)?;
    if file_from_stdin {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut stdin, &mut bytes)
            .context("reading the Dockerfile from stdin")?;
        let text = dockerfile_text("Dockerfile", bytes)?;
        return Ok(BuildContext {
            dir,
            dockerfile: (None, "Dockerfile".into(), text),
        });
    }
    if let Some(bytes) = dir.dockerfile.take() {
        let text = dockerfile_text("Dockerfile", bytes)?;
        return Ok(BuildContext {
            dir,
            dockerfile: (None, "Dockerfile".into(), text),
        });
    }
    let path = match (&args.file, local) {
        (Some(f), true) => f.clone(),
        (Some(f), false) => crate::util::safe_path::resolve(
            &dir.dir,
            f,
            crate::util::safe_path::OnEscape::Refuse,
            true,
        )
        .with_context(|| format!("the Dockerfile {} is not inside the context", f.display()))?,
        (None, _) => dir.dir.join("Dockerfile"),
    };
    let shown = if local {
        shown_name(args, &path)
    } else {
        args.file
            .as_ref()
            .map_or("Dockerfile".into(), |f| f.display().to_string())
    };
    let bytes = std::fs::read(&path)
        .with_context(|| format!("cannot read the Dockerfile {}", path.display()))?;
    let text = dockerfile_text(&shown, bytes)?;
    Ok(BuildContext {
        dir,
        dockerfile: (Some(path), shown, text),
    })
}

/// The Dockerfile as text; not UTF-8 is a located error naming the first bad byte.
fn dockerfile_text(shown: &str, bytes: Vec<u8>) -> Result<String> {
    crate::syntax::source::decode_or_render(shown, bytes).map_err(|r| anyhow!("{}", r.trim_end()))
}
