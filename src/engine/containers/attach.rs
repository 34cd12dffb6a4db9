//! `attach`: a running container's output from now on (`logs::from_now`) and, when it was
//! started with `-i`, input into its stdin FIFO, until it exits or the client types the
//! detach keys (Ctrl-P Ctrl-Q by default).

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::fcntl::OFlag;

use super::error::{Error, Result};
use super::logs::{self, LogFrames};
use crate::container::{Container, Containers, Status};

/// Docker's default detach sequence.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

const STDIN_POLL: Duration = Duration::from_millis(10);

/// A client attached to a running container.
pub struct Attachment {
    pub container: Container,
    /// Whether the client's input goes to the container (it has `-i` and the client wants to).
    pub with_stdin: bool,
}

/// Checks that the container `query` names can be attached to: it runs and is not paused.
pub fn attach(root: &Path, query: &str, want_stdin: bool) -> Result<Attachment> {
    let c = Containers::new(root).find(query)?;
    if c.state.status != Status::Running {
        return Err(Error::AttachStopped { id: c.id });
    }
    if c.state.paused {
        return Err(Error::AttachPaused { id: c.id });
    }
    Ok(Attachment {
        with_stdin: c.config.interactive && want_stdin,
        container: c,
    })
}

/// Attaches to the container `query` names before it is started (the API's attach, then
/// start): a created or stopped container is accepted, its output then comes from its next
/// run, until that run ends. A paused one is refused.
pub fn attach_before_start(root: &Path, query: &str, want_stdin: bool) -> Result<Attachment> {
    let c = Containers::new(root).find(query)?;
    if c.state.status == Status::Running && c.state.paused {
        return Err(Error::AttachPaused { id: c.id });
    }
    Ok(Attachment {
        with_stdin: c.config.interactive && want_stdin,
        container: c,
    })
}

impl Attachment {
    /// The container's stdin (its FIFO, which its monitor makes afresh at each start), for
    /// writing. Attached before the start, this waits until the container runs and its
    /// monitor reads the FIFO; a run that ends first is `AttachStopped`.
    pub fn stdin(&self, root: &Path) -> Result<File> {
        let cs = Containers::new(root);
        let id = &self.container.id;
        let path = cs.stdin_fifo(id);
        loop {
            let now = cs.get_reconciled(id)?;
            if now.state.status == Status::Running {
                // Non-blocking: with no reader (the monitor has not opened it yet, or is
                // gone) this fails at once instead of hanging.
                match std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(&path)
                {
                    Ok(f) => {
                        nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_SETFL(OFlag::empty()))
                            .map_err(Error::errno("fcntl"))?;
                        return Ok(f);
                    }
                    Err(e)
                        if e.raw_os_error() == Some(libc::ENXIO)
                            || e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(path.display().to_string())(e)),
                }
            } else if now.state.finished_at != self.container.state.finished_at {
                return Err(Error::AttachStopped { id: id.clone() });
            }
            std::thread::sleep(STDIN_POLL);
        }
    }

    /// Its output from now on, until it stops (or, attached before its start, until its next
    /// run ends).
    pub fn output(&self, root: &Path) -> Result<LogFrames> {
        logs::from_now(root, &self.container)
    }

    /// The API's attach output: the log so far with `replay`, then with `follow` as `output`.
    pub fn output_with(&self, root: &Path, replay: bool, follow: bool) -> Result<LogFrames> {
        logs::attached(root, &self.container, replay, follow)
    }
}

/// The exit code the container ended with (0 if it has none, or is gone).
pub fn exit_code(root: &Path, id: &str) -> i32 {
    Containers::new(root)
        .get_reconciled(id)
        .ok()
        .and_then(|c| c.state.exit_code)
        .unwrap_or(0)
}

/// Copies the client's input into the container's, holding back a prefix of the detach
/// sequence `keys` until it is complete (then sets `detached` and stops) or broken (then
/// passes it on).
pub fn copy_input(mut from: impl Read, mut to: impl Write, keys: &[u8], detached: &AtomicBool) {
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
pub fn parse_detach_keys(s: &str) -> Result<Vec<u8>> {
    let bad = |key: &str| Error::DetachKeys {
        keys: s.to_string(),
        key: key.to_string(),
    };
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
                    _ => return Err(bad(key)),
                }
            }
            None if key.len() == 1 => key.as_bytes()[0],
            _ => return Err(bad(key)),
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
        let cases: &[(&str, Option<&[u8]>)] = &[
            ("ctrl-p,ctrl-q", Some(&[16, 17])),
            ("a,ctrl-[", Some(&[b'a', 27])),
            ("ctrl-@,ctrl-_", Some(&[0, 31])),
            ("ctrl-P", Some(&[16])),
            ("ctrl-pp", None),
            ("alt-x", None),
            ("ab", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_detach_keys(s).ok().as_deref(), *want, "{s}");
        }
    }

    #[test]
    fn input_passes_through_until_the_sequence() {
        // (input, bytes passed on, detached)
        let cases: &[(&[u8], &[u8], bool)] = &[
            (b"ab\x10c\x10\x11rest", b"ab\x10c", true),
            (b"no keys\x10", b"no keys", false),
            (b"\x10\x11", b"", true),
        ];
        for (input, want, detached) in cases {
            let mut out = Vec::new();
            let flag = AtomicBool::new(false);
            copy_input(*input, &mut out, &[16, 17], &flag);
            assert_eq!(&out[..], *want, "{input:?}");
            assert_eq!(flag.load(Ordering::SeqCst), *detached, "{input:?}");
        }
    }
}
