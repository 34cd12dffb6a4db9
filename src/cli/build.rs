//! `strata build [-f FILE] [--build-arg K[=V]]… [--target STAGE] [--platform P] --dump-plan
//! CONTEXT`. Today only `--dump-plan` works: it prints the build graph with every node's cache
//! key as JSON. Executing the graph is the build engine's next step.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;

use super::Settings;
use crate::plan::graph::{dump::dump_plan, plan, BaseImage, ImageResolver, PlanOptions};
use crate::plan::platform::Platform;
use crate::plan::scope::BuildArgs;
use crate::store::Store;
use crate::syntax::render;

#[derive(Debug, Args)]
pub struct BuildArgsCli {
    /// Name of the Dockerfile (default: CONTEXT/Dockerfile).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// A build-time variable (`K=V`, or `K` to take it from the environment).
    #[arg(long = "build-arg", value_name = "K[=V]")]
    pub build_args: Vec<String>,
    /// The stage to build (default: the last one).
    #[arg(long)]
    pub target: Option<String>,
    /// The target platform, `os/arch[/variant]` (default: the host's).
    #[arg(long)]
    pub platform: Option<String>,
    /// Print the build graph with every node's cache key as JSON, and build nothing.
    #[arg(long)]
    pub dump_plan: bool,
    /// The build context directory.
    pub context: PathBuf,
}

pub fn run(settings: &Settings, args: BuildArgsCli) -> Result<ExitCode> {
    if !args.dump_plan {
        bail!(
            "strata build cannot execute builds yet (the executor is the build engine's next \
             step); use --dump-plan to see the build graph and its cache keys"
        );
    }
    if !args.context.is_dir() {
        bail!(
            "the build context {} is not a directory",
            args.context.display()
        );
    }
    let path = args
        .file
        .clone()
        .unwrap_or_else(|| args.context.join("Dockerfile"));
    let shown = shown_name(&args, &path);
    let source = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the Dockerfile {}", path.display()))?;
    let build_args = BuildArgs::from_flags(args.build_args.iter().map(String::as_str))
        .map_err(|e| anyhow!("{e}"))?
        .resolve_from_process_env();
    let target_platform = match &args.platform {
        Some(p) => Platform::parse(p).map_err(|e| anyhow!("--platform: {e}"))?,
        None => Platform::host(),
    };
    let opts = PlanOptions {
        build_args,
        target: args.target.clone(),
        target_platform,
        build_platform: Platform::host(),
    };
    let store = Store::open(&settings.root)?;
    let graph = match plan(&source, &opts, &StoreImages(&store)) {
        Ok(g) => g,
        Err(e) => match e.diagnostic() {
            Some(d) => bail!("{}", render(&shown, &source, &d).trim_end()),
            None => bail!("{e}"),
        },
    };
    println!("{}", dump_plan(&graph));
    Ok(ExitCode::SUCCESS)
}

/// The Dockerfile's name in messages: as the user wrote it, or `Dockerfile` for the default in
/// the current directory.
fn shown_name(args: &BuildArgsCli, path: &Path) -> String {
    if args.file.is_none() && args.context == Path::new(".") {
        "Dockerfile".to_string()
    } else {
        path.display().to_string()
    }
}

/// Base images come from the store: their Env, User, WorkingDir, Shell and OnBuild feed the
/// plan. An image that is not there plans with empty defaults; the executor reports it missing.
struct StoreImages<'a>(&'a Store);

impl ImageResolver for StoreImages<'_> {
    fn resolve(&self, reference: &str, _platform: &Platform) -> Option<BaseImage> {
        let image = self.0.resolve(reference).ok()?;
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
