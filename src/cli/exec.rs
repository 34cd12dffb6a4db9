//! `strata exec [-i] [-t] [-e K=V]… [-w DIR] [-u USER] CONTAINER COMMAND [ARG…]`: a second
//! process in a running container's namespaces, with the container's environment, user and
//! working directory unless overridden; its exit code is ours (126/127 as Docker).

use std::os::fd::AsRawFd;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use nix::sys::signal::kill;
use nix::unistd::Pid;

use super::ctr_common::{dup_file, fail, forward_signals, pump, Pty, RawTerminal};
use super::Settings;
use crate::container::{command, lifecycle, Containers, Status};
use crate::sandbox::join::{exec_in, JoinSpec};

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
    let cs = Containers::new(&settings.root);
    let c = match cs.find(&args.container) {
        Ok(c) => c,
        Err(e) => return Ok(fail(125, &e.into())),
    };
    if c.state.paused {
        let e = crate::container::ContainerError::ExecPaused { id: c.id.clone() };
        return Ok(fail(125, &e.into()));
    }
    let pid = match (c.state.status, c.state.pid) {
        (Status::Running, Some(p)) if p.alive() => p.pid,
        _ => {
            return Ok(fail(
                125,
                &anyhow::anyhow!("container {} is not running", c.short_id()),
            ))
        }
    };
    let cwd = args.workdir.clone().unwrap_or_else(|| c.config.cwd.clone());
    if !cwd.starts_with('/') {
        return Ok(fail(
            125,
            &anyhow::anyhow!(
                "the working directory {cwd:?} is invalid, it needs to be an absolute path"
            ),
        ));
    }
    let mut env = c.config.env.clone();
    let overrides = command::env(
        &[],
        &args.env,
        |k| std::env::var(k).ok(),
        &c.config.hostname,
        args.tty,
    );
    for e in overrides {
        let key = e.split('=').next().unwrap_or("");
        if args.env.iter().any(|f| f.split('=').next() == Some(key)) || (args.tty && key == "TERM")
        {
            env.retain(|x| x.split('=').next() != Some(key));
            env.push(e);
        }
    }
    let mut spec = JoinSpec {
        argv: args.command.clone(),
        env,
        cwd: cwd.into(),
        user: args.user.clone().unwrap_or_else(|| c.config.user.clone()),
        stdio: [None, None, None],
        tty: args.tty,
        security: match args.security.flags().for_exec(&c.config.security) {
            Ok(s) => s,
            Err(e) => return Ok(fail(125, &e.into())),
        },
        rlimits: c.config.resources.rlimits(),
    };
    let null = std::fs::File::open("/dev/null")?;
    if !args.interactive {
        spec.stdio[0] = Some(null.as_raw_fd());
    }
    let mut pumps = Vec::new();
    let mut _raw = None;
    let pty = if args.tty { Some(Pty::open()?) } else { None };
    if let Some(p) = &pty {
        let fd = p.slave.as_raw_fd();
        spec.stdio = [Some(fd), Some(fd), Some(fd)];
        if nix::unistd::isatty(std::io::stdin()).unwrap_or(false) {
            _raw = Some(RawTerminal::enter());
        }
        let out = dup_file(&p.master)?;
        pumps.push(std::thread::spawn(move || pump(out, std::io::stdout())));
        if args.interactive {
            let input = dup_file(&p.master)?;
            std::thread::spawn(move || {
                if let Ok(stdin) = std::io::stdin().as_fd_dup() {
                    pump(stdin, input)
                }
            });
        }
    }
    let target = std::sync::Arc::new(std::sync::atomic::AtomicI32::new(0));
    let t = target.clone();
    forward_signals(move |sig| {
        let pid = t.load(std::sync::atomic::Ordering::SeqCst);
        if pid > 0 {
            let _ = kill(Pid::from_raw(pid), sig);
        }
    });
    let result = exec_in(pid, &spec, &mut |p| {
        target.store(p, std::sync::atomic::Ordering::SeqCst)
    });
    if let Some(p) = pty {
        drop(p.slave);
        drop(p.master);
    }
    for p in pumps {
        let _ = p.join();
    }
    drop(_raw);
    Ok(match result {
        Ok(s) => ExitCode::from((lifecycle::exit_code(s) & 0xff) as u8),
        Err(e) => {
            let code = e.exec_exit_code().unwrap_or(125);
            fail(code, &e.into())
        }
    })
}

trait DupFd {
    fn as_fd_dup(&self) -> std::io::Result<std::fs::File>;
}

impl DupFd for std::io::Stdin {
    fn as_fd_dup(&self) -> std::io::Result<std::fs::File> {
        use std::os::fd::AsFd;
        Ok(std::fs::File::from(self.as_fd().try_clone_to_owned()?))
    }
}
