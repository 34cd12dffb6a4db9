//! `strata attach [--no-stdin] [--detach-keys KEYS] [--sig-proxy=BOOL] CONTAINER`: a running
//! container's output from now on (stdout and stderr apart), our input into its stdin when it
//! was started with `-i`, until it exits (its exit code ours) or the detach keys are typed
//! (Ctrl-P Ctrl-Q by default: Docker's `read escape sequence`, exit 1).

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Result;
use clap::Args;

use super::ctr_common::require_tty_input;
use super::Settings;
use crate::engine::containers::attach::{
    attach, copy_input, exit_code, parse_detach_keys, DEFAULT_DETACH_KEYS,
};
use crate::engine::containers::stdio::{forward_signals, RawTerminal};
use crate::engine::containers::stop::kill;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not attach stdin.
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// The key sequence that detaches (`ctrl-p,ctrl-q`; `ctrl-X` or single characters).
    #[arg(long = "detach-keys", value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Pass the signals we receive on to the container (without a terminal).
    #[arg(long = "sig-proxy", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, default_value = "true")]
    pub sig_proxy: bool,
    pub container: String,
}

pub fn run(settings: &Settings, args: AttachArgs) -> Result<ExitCode> {
    let keys = parse_detach_keys(args.detach_keys.as_deref().unwrap_or(DEFAULT_DETACH_KEYS))?;
    let a = attach(&settings.root, &args.container, !args.no_stdin)?;
    let c = &a.container;
    if let Some(code) = require_tty_input(a.with_stdin, c.config.tty) {
        return Ok(code);
    }
    let output = a.output(&settings.root)?;
    let detached = Arc::new(AtomicBool::new(false));
    let _raw = (a.with_stdin && c.config.tty).then(RawTerminal::enter);
    if a.with_stdin {
        let fifo = a.stdin(&settings.root)?;
        let flag = detached.clone();
        // Not joined: it blocks on our stdin until we exit.
        std::thread::spawn(move || copy_input(std::io::stdin().lock(), fifo, &keys, &flag));
    }
    if args.sig_proxy && !c.config.tty {
        let root = settings.root.clone();
        let id = c.id.clone();
        forward_signals(move |sig| {
            if let Ok(store) = Store::open(&root) {
                let _ = kill(&store, &id, sig.as_str());
            }
        });
    }
    let flag = detached.clone();
    for frame in output.until(move || flag.load(Ordering::SeqCst)) {
        super::logs::show(&frame, false, false);
        if detached.load(Ordering::SeqCst) {
            break;
        }
    }
    drop(_raw);
    if detached.load(Ordering::SeqCst) {
        eprintln!("read escape sequence");
        return Ok(ExitCode::from(1));
    }
    let code = exit_code(&settings.root, &c.id);
    Ok(ExitCode::from((code & 0xff) as u8))
}
