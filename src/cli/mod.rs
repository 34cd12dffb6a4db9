//! The command-line shell: clap types (what the user typed), settings resolution, and one short
//! file per command. Only this module uses `anyhow` and prints.

mod args;
mod settings;

mod format;
mod gotemplate;
mod progress;

mod build;
mod build_output;
mod builder;
mod check;
mod commit;
mod cp;
mod debug;
mod explain;
mod export;
mod signals;

mod attach;
mod container_prune;
mod create;
mod ctr_common;
mod diff;
mod events;
mod exec;
mod health_args;
mod host_args;
mod kill;
mod logs;
mod management;
mod network;
mod pause;
mod port;
mod ps;
mod rename;
mod resource_args;
mod restart;
mod rm;
mod run;
mod security_args;
mod start;
mod stats;
mod stop;
mod supervise;
mod top;
mod update;
mod wait;

mod history;
mod image_prune;
mod images;
mod images_tree;
mod import;
mod info;
mod inspect;
mod load;
mod login;
mod logout;
mod pull;
mod push;
mod rmi;
mod rootless;
mod save;
mod service;
mod system;
mod tag;
mod version;
mod volume;

use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Command};
pub use settings::Settings;

/// Parses the command line and runs the command.
pub fn main() -> anyhow::Result<ExitCode> {
    if std::env::args().any(|a| a == "container-supervise") {
        if let Ok(internal) = args::InternalCli::try_parse() {
            let settings = Settings::resolve(&internal.global)?;
            let args::InternalCommand::ContainerSupervise(a) = internal.command;
            return supervise::run(&settings, a);
        }
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return Ok(usage_error(e)),
    };
    let settings = Settings::resolve(&cli.global)?;
    let command = cli.command.flatten();
    // Settings first: the store stays the user's even though strata is root in the namespace.
    let userns = rootless::enter_if_needed(&command)?;
    let result = run(settings, command);
    if let Some(w) = userns.and_then(rootless::skipped_warning) {
        eprintln!("{w}");
    }
    result
}

/// Help and version print and succeed; a flag or argument error exits 125, as the docker CLI's
/// do (scripts tell strata's own failures from the container's by it).
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let _ = e.print();
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            ExitCode::from(e.exit_code().clamp(0, 255) as u8)
        }
        _ => ExitCode::from(125),
    }
}

fn run(settings: Settings, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Build(a) => build::run(&settings, *a),
        Command::Check(a) => check::run(&settings, a),
        Command::Debug(a) => debug::run(&settings, a),
        Command::Import(a) => import::run(&settings, a),
        Command::Load(a) => load::run(&settings, a),
        Command::Pull(a) => pull::run(&settings, a),
        Command::Push(a) => push::run(&settings, a),
        Command::Save(a) => save::run(&settings, a),
        Command::Images(a) => images::run(&settings, a),
        Command::Tag(a) => tag::run(&settings, a),
        Command::Rmi(a) => rmi::run(&settings, a),
        Command::Inspect(a) => inspect::run(&settings, a),
        Command::History(a) => history::run(&settings, a),
        Command::System(a) => system::run(&settings, a),
        Command::Info(a) => info::run(&settings, a),
        Command::Version(a) => version::run(a),
        Command::Builder(a) => builder::run(&settings, a),
        Command::Login(a) => login::run(a),
        Command::Logout(a) => logout::run(a),
        Command::Commit(a) => commit::run(&settings, a),
        Command::Export(a) => export::run(&settings, a),
        Command::Cp(a) => cp::run(&settings, a),
        Command::Volume(a) => volume::run(&settings, a),
        Command::Network(a) => network::run(&settings, a),
        Command::Port(a) => port::run(&settings, a),
        Command::Run(a) => run::run(&settings, *a),
        Command::Ps(a) => ps::run(&settings, a),
        Command::Logs(a) => logs::run(&settings, a),
        Command::Stop(a) => stop::run(&settings, a),
        Command::Start(a) => start::run(&settings, a),
        Command::Kill(a) => kill::run(&settings, a),
        Command::Restart(a) => restart::run(&settings, a),
        Command::Rm(a) => rm::run(&settings, a),
        Command::Exec(a) => exec::run(&settings, a),
        Command::Wait(a) => wait::run(&settings, a),
        Command::Create(a) => create::run(&settings, *a),
        Command::Pause(a) => pause::run(&settings, a, true),
        Command::Unpause(a) => pause::run(&settings, a, false),
        Command::Top(a) => top::run(&settings, a),
        Command::Stats(a) => stats::run(&settings, a),
        Command::Rename(a) => rename::run(&settings, a),
        Command::Diff(a) => diff::run(&settings, a),
        Command::Events(a) => events::run(&settings, a),
        Command::Attach(a) => attach::run(&settings, a),
        Command::Update(a) => update::run(&settings, a),

        // The one management form with no plain command of its own.
        Command::Container(management::ContainerCommand::Prune(a)) => {
            container_prune::run(&settings, a)
        }
        Command::Image(management::ImageCommand::Prune(a)) => image_prune::run(&settings, a),
        form @ (Command::Container(_) | Command::Image(_)) => run(settings, form.flatten()),
    }
}

/// One line for the whole error chain: `outer: cause: root cause`.
pub fn render_error(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let s = cause.to_string();
        // Avoid repeating a cause whose message the outer error already embeds.
        if parts.last().is_some_and(|p| p.contains(&s)) {
            continue;
        }
        parts.push(s);
    }
    parts.join(": ")
}
