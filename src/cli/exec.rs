//! `strata exec [-i] [-t] [-e K=V]… [-w DIR] [-u USER] CONTAINER COMMAND [ARG…]`: a second
//! process in a running container's namespaces, with the container's environment, user and
//! working directory unless overridden; its exit code is ours (126/127 as Docker).

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use nix::sys::signal::kill;
use nix::unistd::Pid;

use super::ctr_common::fail;
use super::Settings;
use crate::engine::containers::exec::{self, ExecRequest};
use crate::engine::containers::stdio::{forward_signals, Pty, RawTerminal};

#[derive(Debug, Args)]
pub struct ExecArgs {
    #[arg(short = 'i', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, default_value = "false")]
    pub interactive: bool,
    #[arg(short = 't', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, default_value = "false")]
    pub tty: bool,
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    #[command(flatten)]
    pub security: super::security_args::CapArgs,
    pub container: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn run(settings: &Settings, args: ExecArgs) -> Result<ExitCode> {
    if let Some(code) = super::ctr_common::require_tty_input(args.interactive, args.tty) {
        return Ok(code);
    }
    let req = ExecRequest {
        cmd: args.command,
        env: args.env,
        workdir: args.workdir,
        user: args.user,
        tty: args.tty,
        attach_stdin: args.interactive,
        security: args.security.flags(),
    };
    let prepared = match exec::prepare(&settings.root, &args.container, &req, |k| {
        std::env::var(k).ok()
    }) {
        Ok(p) => p,
        Err(e) => return Ok(fail(125, &e.into())),
    };
    let pty = if req.tty {
        match Pty::open() {
            Ok(p) => Some(p),
            Err(e) => return Ok(fail(125, &e.into())),
        }
    } else {
        None
    };
    let raw = (pty.is_some() && nix::unistd::isatty(std::io::stdin()).unwrap_or(false))
        .then(RawTerminal::enter);
    let target = std::sync::Arc::new(std::sync::atomic::AtomicI32::new(0));
    let t = target.clone();
    forward_signals(move |sig| {
        let pid = t.load(std::sync::atomic::Ordering::SeqCst);
        if pid > 0 {
            let _ = kill(Pid::from_raw(pid), sig);
        }
    });
    let result = exec::run_attached(prepared, pty, &mut |p| {
        target.store(p, std::sync::atomic::Ordering::SeqCst)
    });
    drop(raw);
    Ok(match result {
        Ok(code) => ExitCode::from((code & 0xff) as u8),
        // Docker's exec exits 126 for any process that could not start.
        Err(e) => fail(
            crate::engine::containers::exec_instance::EXEC_START_FAILED,
            &e.into(),
        ),
    })
}
