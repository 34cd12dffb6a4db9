//! clap types: exactly what the user typed, no I/O and no defaults that depend on the machine.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "strata",
    version,
    about = "A daemonless Dockerfile image builder"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// strata's own internal commands, parsed apart from `Cli` so that no suggestion or help
/// ever shows them.
#[derive(Debug, Parser)]
#[command(name = "strata")]
pub struct InternalCli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: InternalCommand,
}

#[derive(Debug, Subcommand)]
pub enum InternalCommand {
    /// Supervise a detached container.
    ContainerSupervise(super::supervise::SuperviseArgs),
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Store directory (default: /var/lib/strata for root, $XDG_DATA_HOME/strata otherwise).
    #[arg(long, global = true, env = "STRATA_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build an image from a Dockerfile.
    Build(Box<super::build::BuildArgsCli>),
    /// Parse, expand and validate a Dockerfile without building it.
    Check(super::check::CheckArgs),
    /// Developer tools: dump the parse tree, expand a word.
    #[command(subcommand)]
    Debug(super::debug::DebugCommand),
    /// Make a one-layer image from a rootfs tarball or directory.
    Import(super::import::ImportArgs),
    /// Load images from a docker-archive or oci-archive.
    Load(super::load::LoadArgs),
    /// Download an image from a registry.
    Pull(super::pull::PullArgs),
    /// Upload an image to a registry.
    Push(super::push::PushArgs),
    /// Save images to a docker-archive or oci-archive.
    Save(super::save::SaveArgs),
    /// List images.
    Images(super::images::ImagesArgs),
    /// Give an image another name.
    Tag(super::tag::TagArgs),
    /// Remove images.
    Rmi(super::rmi::RmiArgs),
    /// Show containers or images as JSON (`-f` a Go template).
    Inspect(super::inspect::InspectArgs),
    /// Show an image's history.
    History(super::history::HistoryArgs),
    /// Disk usage, garbage collection and system information.
    #[command(subcommand)]
    System(super::system::SystemCommand),
    /// Show system-wide information (as `system info`).
    Info(super::info::InfoArgs),
    /// Show strata's version (Docker's client/server report).
    Version(super::version::VersionArgs),
    /// Build cache management (`builder prune`).
    #[command(subcommand)]
    Builder(super::builder::BuilderCommand),
    /// Log in to a registry (the credential is checked, then saved as Docker saves it).
    Login(super::login::LoginArgs),
    /// Log out from a registry.
    Logout(super::logout::LogoutArgs),
    /// Make an image of a container's changes.
    Commit(super::commit::CommitArgs),
    /// Write a container's filesystem as a tar archive.
    Export(super::export::ExportArgs),
    /// Copy files between a container and the host.
    Cp(super::cp::CpArgs),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(super::volume::VolumeCommand),
    /// Manage networks.
    #[command(subcommand)]
    Network(super::network::NetworkCommand),
    /// List a container's published ports.
    Port(super::port::PortArgs),
    /// Run a command in a new container.
    Run(Box<super::run::RunArgs>),
    /// List containers.
    Ps(super::ps::PsArgs),
    /// Show a container's output.
    Logs(super::logs::LogsArgs),
    /// Stop running containers (StopSignal, then SIGKILL).
    Stop(super::stop::StopArgs),
    /// Send a signal (SIGKILL by default) to running containers.
    Kill(super::kill::KillArgs),
    /// Stop and start containers again.
    Restart(super::restart::RestartArgs),
    /// Start stopped containers in the background.
    Start(super::start::StartArgs),
    /// Remove containers.
    Rm(super::rm::RmArgs),
    /// Run a command in a running container.
    Exec(super::exec::ExecArgs),
    /// Wait for containers to stop and print their exit codes.
    Wait(super::wait::WaitArgs),
    /// Create a container without starting it.
    Create(Box<super::run::RunArgs>),
    /// Freeze every process of running containers.
    Pause(super::pause::PauseArgs),
    /// Thaw paused containers.
    Unpause(super::pause::PauseArgs),
    /// Show a container's processes.
    Top(super::top::TopArgs),
    /// Show containers' resource usage.
    Stats(super::stats::StatsArgs),
    /// Rename a container.
    Rename(super::rename::RenameArgs),
    /// Show the files a container changed.
    Diff(super::diff::DiffArgs),
    /// Show the store's events.
    Events(super::events::EventsArgs),
    /// Attach to a running container's input and output.
    Attach(super::attach::AttachArgs),
    /// Change a container's restart policy.
    Update(super::update::UpdateArgs),

    /// Manage containers (`container ls`, `container rm`, … as the plain commands).
    #[command(subcommand)]
    Container(super::management::ContainerCommand),
    /// Manage images (`image ls`, `image rm`, `image build`, … as the plain commands).
    #[command(subcommand)]
    Image(super::management::ImageCommand),
}

/// Layer compression, as `--compression` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressionArg {
    Gzip,
    Zstd,
    /// Uncompressed tar layers.
    None,
}

impl CompressionArg {
    /// The layer writer's setting: gzip level 5 (see `DEFAULT_GZIP_LEVEL` for why not 6) and
    /// zstd level 3, `zstd`'s own default, unless a level is given.
    pub fn with_level(self, level: Option<i32>) -> crate::snapshot::Compression {
        use crate::snapshot::Compression;
        match self {
            CompressionArg::Gzip => Compression::Gzip {
                level: level.map_or(crate::snapshot::DEFAULT_GZIP_LEVEL, |l| {
                    l.clamp(0, 9) as u32
                }),
            },
            CompressionArg::Zstd => Compression::Zstd {
                level: level.unwrap_or(3).clamp(1, 22),
            },
            CompressionArg::None => Compression::None,
        }
    }
}
