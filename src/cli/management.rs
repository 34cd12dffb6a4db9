//! Docker's management forms: `strata container ls|run|rm…` and `strata image ls|rm|build…`
//! are the same commands under their object's name; each form maps onto the plain command
//! before anything runs.

use clap::Subcommand;

use super::Command;

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// List containers.
    #[command(visible_alias = "list", visible_alias = "ps")]
    Ls(super::ps::PsArgs),
    /// Run a command in a new container.
    Run(Box<super::run::RunArgs>),
    /// Start stopped containers.
    Start(super::start::StartArgs),
    /// Stop running containers.
    Stop(super::stop::StopArgs),
    /// Send a signal to running containers.
    Kill(super::kill::KillArgs),
    /// Stop and start containers again.
    Restart(super::restart::RestartArgs),
    /// Remove containers.
    #[command(visible_alias = "remove")]
    Rm(super::rm::RmArgs),
    /// Show containers as JSON.
    Inspect(super::inspect::InspectArgs),
    /// Show a container's output.
    Logs(super::logs::LogsArgs),
    /// Run a command in a running container.
    Exec(super::exec::ExecArgs),
    /// Wait for containers to stop.
    Wait(super::wait::WaitArgs),
    /// List a container's published ports.
    Port(super::port::PortArgs),
    /// Copy files between a container and the host.
    Cp(super::cp::CpArgs),
    /// Write a container's filesystem as a tar archive.
    Export(super::export::ExportArgs),
    /// Make an image of a container's changes.
    Commit(super::commit::CommitArgs),
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
    /// Attach to a running container's input and output.
    Attach(super::attach::AttachArgs),
    /// Change a container's restart policy.
    Update(super::update::UpdateArgs),
    /// Remove every stopped container.
    Prune(super::container_prune::ContainerPruneArgs),
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images.
    #[command(visible_alias = "list")]
    Ls(super::images::ImagesArgs),
    /// Remove images.
    #[command(visible_alias = "remove")]
    Rm(super::rmi::RmiArgs),
    /// Show images as JSON.
    Inspect(super::inspect::InspectArgs),
    /// Build an image from a Dockerfile.
    Build(Box<super::build::BuildArgsCli>),
    /// Download an image from a registry.
    Pull(super::pull::PullArgs),
    /// Upload an image to a registry.
    Push(super::push::PushArgs),
    /// Give an image another name.
    Tag(super::tag::TagArgs),
    /// Save images to an archive.
    Save(super::save::SaveArgs),
    /// Load images from an archive.
    Load(super::load::LoadArgs),
    /// Make a one-layer image from a rootfs.
    Import(super::import::ImportArgs),
    /// Show an image's history.
    History(super::history::HistoryArgs),
    /// Remove dangling (with -a: unused) images.
    Prune(super::image_prune::ImagePruneArgs),
}

impl ContainerCommand {
    pub fn into_command(self) -> Command {
        match self {
            ContainerCommand::Ls(a) => Command::Ps(a),
            ContainerCommand::Run(a) => Command::Run(a),
            ContainerCommand::Start(a) => Command::Start(a),
            ContainerCommand::Stop(a) => Command::Stop(a),
            ContainerCommand::Kill(a) => Command::Kill(a),
            ContainerCommand::Restart(a) => Command::Restart(a),
            ContainerCommand::Rm(a) => Command::Rm(a),
            // The object commands' inspect looks only at their own type, as Docker's does.
            ContainerCommand::Inspect(mut a) => {
                a.kind = Some("container".into());
                Command::Inspect(a)
            }
            ContainerCommand::Logs(a) => Command::Logs(a),
            ContainerCommand::Exec(a) => Command::Exec(a),
            ContainerCommand::Wait(a) => Command::Wait(a),
            ContainerCommand::Port(a) => Command::Port(a),
            ContainerCommand::Cp(a) => Command::Cp(a),
            ContainerCommand::Export(a) => Command::Export(a),
            ContainerCommand::Commit(a) => Command::Commit(a),
            ContainerCommand::Create(a) => Command::Create(a),
            ContainerCommand::Pause(a) => Command::Pause(a),
            ContainerCommand::Unpause(a) => Command::Unpause(a),
            ContainerCommand::Top(a) => Command::Top(a),
            ContainerCommand::Stats(a) => Command::Stats(a),
            ContainerCommand::Rename(a) => Command::Rename(a),
            ContainerCommand::Diff(a) => Command::Diff(a),
            ContainerCommand::Attach(a) => Command::Attach(a),
            ContainerCommand::Update(a) => Command::Update(a),
            // Kept as the form: `run` handles it (Docker has no plain command for it).
            ContainerCommand::Prune(a) => Command::Container(ContainerCommand::Prune(a)),
        }
    }
}

impl ImageCommand {
    pub fn into_command(self) -> Command {
        match self {
            ImageCommand::Ls(a) => Command::Images(a),
            ImageCommand::Rm(a) => Command::Rmi(a),
            ImageCommand::Inspect(mut a) => {
                a.kind = Some("image".into());
                Command::Inspect(a)
            }
            ImageCommand::Build(a) => Command::Build(a),
            ImageCommand::Pull(a) => Command::Pull(a),
            ImageCommand::Push(a) => Command::Push(a),
            ImageCommand::Tag(a) => Command::Tag(a),
            ImageCommand::Save(a) => Command::Save(a),
            ImageCommand::Load(a) => Command::Load(a),
            ImageCommand::Import(a) => Command::Import(a),
            ImageCommand::History(a) => Command::History(a),
            // Kept as the form: `run` handles it (Docker has no plain command for it).
            ImageCommand::Prune(a) => Command::Image(ImageCommand::Prune(a)),
        }
    }
}

impl Command {
    /// The plain command a management form stands for (itself otherwise).
    pub fn flatten(self) -> Command {
        match self {
            Command::Container(ContainerCommand::Prune(a)) => {
                Command::Container(ContainerCommand::Prune(a))
            }
            Command::Container(c) => c.into_command(),
            Command::Image(ImageCommand::Prune(a)) => Command::Image(ImageCommand::Prune(a)),
            Command::Image(c) => c.into_command(),
            Command::System(super::system::SystemCommand::Info(a)) => Command::Info(a),
            Command::System(super::system::SystemCommand::Events(a)) => Command::Events(a),
            other => other,
        }
    }
}
