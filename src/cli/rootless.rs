//! Commands run by a user other than root: which ones first move strata into a user namespace
//! of its own (where it is root, mounts overlays and owns what it unpacks), and the one warning
//! about what such a namespace had to leave out.
//!
//! Build mounts overlays and unpacks layers with their owners; import unpacks its layer; system
//! df/prune read and remove snapshot directories whose files belong to the delegated ids.
//! Everything else only reads and writes the store's own files, which stay the user's.

use anyhow::{Context, Result};

use super::Command;
use crate::sandbox::userns::{self, IdMapping};
use crate::util::userns::skipped;

/// Whether `cmd` must run inside the user namespace when strata is not root.
pub fn needs_userns(cmd: &Command) -> bool {
    match cmd {
        Command::Build(a) => !a.dump_plan,
        Command::Import(_) | Command::System(_) | Command::Builder(_) => true,
        Command::Check(_)
        | Command::Debug(_)
        | Command::Load(_)
        | Command::Pull(_)
        | Command::Push(_)
        | Command::Save(_)
        | Command::Images(_)
        | Command::Tag(_)
        | Command::Rmi(_)
        | Command::Inspect(_)
        | Command::History(_)
        | Command::Login(_)
        | Command::Logout(_) => false,
        // Containers were built for root (the README says so); as another user the sandbox's
        // own user namespace is all they get.
        Command::Commit(_)
        | Command::Export(_)
        | Command::Cp(_)
        | Command::Volume(_)
        | Command::Network(_)
        | Command::Port(_)
        | Command::Run(_)
        | Command::Ps(_)
        | Command::Logs(_)
        | Command::Stop(_)
        | Command::Start(_)
        | Command::Kill(_)
        | Command::Restart(_)
        | Command::Rm(_)
        | Command::Exec(_)
        | Command::Wait(_)
        | Command::Create(_)
        | Command::Pause(_)
        | Command::Unpause(_)
        | Command::Top(_)
        | Command::Stats(_)
        | Command::Rename(_)
        | Command::Diff(_) => false,
        Command::Events(_) | Command::Attach(_) | Command::Update(_) => false,
        // Read-only reports; `info` tells a rootless user apart by its own uid.
        Command::Info(_) | Command::Version(_) => false,
        // `main` flattens management forms first; were one to arrive, an image command may
        // build or import (user namespace), a container command never.
        Command::Container(_) => false,
        Command::Image(_) => true,
    }
}

/// Enters the user namespace when not root and `cmd` needs it. Call before anything starts a
/// thread. Returns the mapping it got, if it entered one.
pub fn enter_if_needed(cmd: &Command) -> Result<Option<IdMapping>> {
    if nix::unistd::geteuid().is_root() || !needs_userns(cmd) {
        return Ok(None);
    }
    let mapping = userns::enter().context("cannot run rootless")?;
    Ok(Some(mapping))
}

/// The warning, if any, about ownership and device nodes the namespace could not keep.
pub fn skipped_warning(mapping: IdMapping) -> Option<String> {
    let s = skipped();
    let mut parts = Vec::new();
    if s.chowns > 0 {
        let why = match mapping {
            IdMapping::Single => {
                "the user namespace maps only your own id (add a range for your user to \
                 /etc/subuid and /etc/subgid to keep owners)"
            }
            IdMapping::Delegated => {
                "their ids are outside the ranges /etc/subuid and /etc/subgid delegate"
            }
        };
        parts.push(format!(
            "{} ownership change(s) were skipped and those files belong to root: {why}",
            s.chowns
        ));
    }
    if s.devices > 0 {
        parts.push(format!(
            "{} device node(s) of base layers were left out: a user namespace cannot create them",
            s.devices
        ));
    }
    (!parts.is_empty()).then(|| format!("warning: rootless: {}", parts.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn which_commands_enter_the_namespace() {
        let cases: &[(&[&str], bool)] = &[
            (&["build", "."], true),
            (&["build", "--dump-plan", "."], false),
            (&["import", "dir", "x"], true),
            (&["system", "df"], true),
            (&["system", "prune", "-f"], true),
            (&["images"], false),
            (&["load", "-i", "a.tar"], false),
            (&["pull", "busybox"], false),
            (&["save", "-o", "a.tar", "x"], false),
            (&["tag", "a", "b"], false),
            (&["rmi", "a"], false),
            (&["inspect", "a"], false),
        ];
        for (args, want) in cases {
            let argv = std::iter::once("strata").chain(args.iter().copied());
            let cli = super::super::Cli::try_parse_from(argv).unwrap();
            assert_eq!(needs_userns(&cli.command), *want, "{args:?}");
        }
    }

    #[test]
    fn nothing_skipped_no_warning() {
        // As root in the initial namespace nothing is ever skipped.
        assert_eq!(skipped_warning(IdMapping::Single), None);
    }
}
