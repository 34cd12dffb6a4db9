//! `strata attach [--no-stdin] [--detach-keys KEYS] [--sig-proxy=BOOL] CONTAINER`: a running
//! container's output from now on (stdout and stderr apart), our input into its stdin when it
//! was started with `-i`, until it exits (its exit code ours) or the detach keys are typed
//! (Ctrl-P Ctrl-Q by default: Docker's `read escape sequence`, exit 1).

use std::fs::File;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Result};
use clap::Args;

use super::ctr_common::{forward_signals, require_tty_input, RawTerminal};
use super::Settings;
use crate::container::logfile::{self, Query};
use crate::container::{lifecycle, Containers, Status};
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
    let keys = parse_detach_keys(args.detach_keys.as_deref().unwrap_or("ctrl-p,ctrl-q"))?;
    let cs = Containers::new(&settings.root);
    let c = cs.find(&args.container)?;
    if c.state.status != Status::Running {
        bail!("You cannot attach to a stopped container, start it first");
    }
    if c.state.paused {
        bail!("You cannot attach to a paused container, unpause it first");
    }
    let with_stdin = c.config.interactive && !args.no_stdin;
    if let Some(code) = require_tty_input(with_stdin, c.config.tty) {
        return Ok(code);
    }
    let path = cs.log_path(&c.id);
    let seen = logfile::read(&path).map(|e| e.len()).unwrap_or(0);
    let detached = Arc::new(AtomicBool::new(false));
    let _raw = (with_stdin && c.config.tty).then(RawTerminal::enter);
    if with_stdin {
        let fifo = std::fs::OpenOptions::new()
            .write(true)
            .open(cs.stdin_fifo(&c.id))?;
        let flag = detached.clone();
        // Not joined: it blocks on our stdin until we exit.
        std::thread::spawn(move || copy_input(std::io::stdin().lock(), fifo, &keys, &flag));
    }
    if args.sig_proxy && !c.config.tty {
        let root = settings.root.clone();
        let id = c.id.clone();
        forward_signals(move |sig| {
            if let (Ok(store), Ok(c)) = (Store::open(&root), Containers::new(&root).load(&id)) {
                let _ = lifecycle::send_signal(&store, &c, sig.as_str());
            }
        });
    }
    let q = Query {
        stdout: true,
        stderr: true,
        ..Query::default()
    };
    let mut stopped = || {
        detached.load(Ordering::SeqCst)
            || !matches!(cs.get_reconciled(&c.id), Ok(c) if c.state.status == Status::Running)
    };
    logfile::follow(&path, seen, &q, &mut stopped, &mut |e| {
        super::logs::show(&q, vec![e]);
        !detached.load(Ordering::SeqCst)
    });
    drop(_raw);
    if detached.load(Ordering::SeqCst) {
        eprintln!("read escape sequence");
        return Ok(ExitCode::from(1));
    }
    let code = cs
        .get_reconciled(&c.id)
        .ok()
        .and_then(|c| c.state.exit_code)
        .unwrap_or(0);
    Ok(ExitCode::from((code & 0xff) as u8))
}

/// Copies our input into the container's, holding back a prefix of the detach sequence until
/// it is complete (then sets `detached` and stops) or broken (then passes it on).
fn copy_input(mut from: impl Read, mut to: File, keys: &[u8], detached: &AtomicBool) {
    let mut buf = [0u8; 4096];
    let mut matched = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut out = Vec::with_capacity(n);
        for &b in &buf[..n] {
            if !keys.is_empty() && b == keys[matched] {
                matched += 1;
                if matched == keys.len() {
                    let _ = to.write_all(&out);
                    detached.store(true, Ordering::SeqCst);
                    return;
                }
                continue;
            }
            out.extend_from_slice(&keys[..matched]);
            matched = 0;
            out.push(b);
        }
        if to.write_all(&out).is_err() {
            return;
        }
    }
}

/// Docker's `--detach-keys`: comma-separated `ctrl-a`…`ctrl-z`, `ctrl-@`, `ctrl-[`, `ctrl-\`,
/// `ctrl-]`, `ctrl-^`, `ctrl-_`, or single characters.
fn parse_detach_keys(s: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for key in s.split(',') {
        let b = match key.strip_prefix("ctrl-") {
            Some(k) if k.len() == 1 => {
                let c = k.as_bytes()[0].to_ascii_lowercase();
                match c {
                    b'a'..=b'z' => c - b'a' + 1,
                    b'@' => 0,
                    b'[' => 27,
                    b'\\' => 28,
                    b']' => 29,
                    b'^' => 30,
                    b'_' => 31,
                    _ => bail!("invalid detach keys {s:?}: unknown key {key:?}"),
                }
            }
            None if key.len() == 1 => key.as_bytes()[0],
            _ => bail!("invalid detach keys {s:?}: unknown key {key:?}"),
        };
        out.push(b);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_like_docker() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), [16, 17]);
        assert_eq!(parse_detach_keys("a,ctrl-[").unwrap(), [b'a', 27]);
        assert!(parse_detach_keys("ctrl-pp").is_err());
        assert!(parse_detach_keys("alt-x").is_err());
    }

    #[test]
    fn input_passes_through_until_the_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in");
        let out = File::create(&path).unwrap();
        let flag = AtomicBool::new(false);
        copy_input(&b"ab\x10c\x10\x11rest"[..], out, &[16, 17], &flag);
        assert!(flag.load(Ordering::SeqCst));
        assert_eq!(std::fs::read(&path).unwrap(), b"ab\x10c");
        let out = File::create(&path).unwrap();
        let flag = AtomicBool::new(false);
        copy_input(&b"no keys\x10"[..], out, &[16, 17], &flag);
        assert!(!flag.load(Ordering::SeqCst));
        assert_eq!(std::fs::read(&path).unwrap(), b"no keys");
    }
}
