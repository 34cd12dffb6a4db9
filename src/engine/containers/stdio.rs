//! A container's standard streams: the pty for `-t`, the copiers that record its output in
//! its log (and tee it to the caller's streams for a foreground run), signal forwarding, and
//! the caller's terminal in raw mode while a `-t` container has it.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::thread::JoinHandle;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::termios::{self, SetArg, Termios};

use super::error::{Error, Result};
use crate::container::logfile::{self, LogSink, Stream};
use crate::sandbox::init::FORWARDED;
use crate::sandbox::Stdio;

/// Blocks the forwarded signals in this thread (and the threads it starts later) and hands
/// each one that arrives to `forward` on a dedicated thread. For a process that stands for
/// one container (a foreground `run`, `exec`, a monitor), never for a server.
pub fn forward_signals(forward: impl Fn(Signal) + Send + 'static) {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
    std::thread::spawn(move || loop {
        if let Ok(sig) = set.wait() {
            forward(sig);
        }
    });
}

/// A pseudo-terminal for `-t`: the slave end goes to the container, strata copies the master.
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

impl Pty {
    /// Opens a pty sized like our own terminal (when stdin is one).
    pub fn open() -> Result<Pty> {
        let winsize = window_size();
        let p = nix::pty::openpty(winsize.as_ref(), None).map_err(Error::errno("opening a pty"))?;
        Ok(Pty {
            master: p.master,
            slave: p.slave,
        })
    }
}

/// Gives the pty `master` our terminal's current size (the kernel then sends SIGWINCH to the
/// process group in the foreground on the pty).
pub fn resize(master: &OwnedFd) {
    if let Some(ws) = window_size() {
        let ws = libc::winsize {
            ws_row: ws.ws_row,
            ws_col: ws.ws_col,
            ws_xpixel: ws.ws_xpixel,
            ws_ypixel: ws.ws_ypixel,
        };
        // SAFETY: TIOCSWINSZ reads one winsize from a struct we own.
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }
}

fn window_size() -> Option<nix::pty::Winsize> {
    // SAFETY: a winsize is plain integers; all zeros is a valid value.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize into the buffer we own.
    let ok = unsafe { libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) } == 0;
    ok.then_some(nix::pty::Winsize {
        ws_row: ws.ws_row,
        ws_col: ws.ws_col,
        ws_xpixel: ws.ws_xpixel,
        ws_ypixel: ws.ws_ypixel,
    })
}

/// Our terminal in raw mode while it lives (keys go to the container as typed).
pub struct RawTerminal(Option<Termios>);

impl RawTerminal {
    pub fn enter() -> RawTerminal {
        let stdin = std::io::stdin();
        let Ok(saved) = termios::tcgetattr(stdin.as_fd()) else {
            return RawTerminal(None);
        };
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        RawTerminal(Some(saved))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, t);
        }
    }
}

/// Copies `from` to `to` until end of file or an error (a pty master reads EIO once every
/// slave is closed).
pub fn pump(mut from: File, mut to: impl Write) {
    let mut buf = [0u8; 8192];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
                let _ = to.flush();
            }
        }
    }
}

/// What `output_to_log` sets up: (stdout, stderr) for the sandbox, the copying threads, and
/// the write ends to drop once the container ended.
pub type LoggedOutput = (Stdio, Stdio, Vec<JoinHandle<()>>, Vec<OwnedFd>);

/// The container's output recorded in its log (see `container::logfile`), stdout and stderr
/// apart, each line as it comes; with `tee`, also copied to our own stdout and stderr as a
/// foreground `run` shows it. With `tty` both streams are the pty (as Docker logs them: all
/// stdout). Returns the stdio to hand the sandbox, the copying threads, and the descriptors
/// to drop once the container ended so the copiers see end of file.
pub fn output_to_log(tty: Option<&Pty>, sink: &LogSink, tee: bool) -> Result<LoggedOutput> {
    let copier = |from: File, stream: Stream| {
        let sink = sink.clone();
        std::thread::spawn(move || {
            let mut out: Box<dyn Write> = match stream {
                Stream::Stdout => Box::new(std::io::stdout()),
                Stream::Stderr => Box::new(std::io::stderr()),
            };
            logfile::copy_into(from, stream, &sink, tee.then_some(&mut *out));
        })
    };
    if let Some(pty) = tty {
        let out = dup_file(&pty.master)?;
        let fd = pty.slave.as_raw_fd();
        return Ok((
            Stdio::Fd(fd),
            Stdio::Fd(fd),
            vec![copier(out, Stream::Stdout)],
            Vec::new(),
        ));
    }
    let flags = nix::fcntl::OFlag::O_CLOEXEC;
    let (out_r, out_w) = nix::unistd::pipe2(flags).map_err(Error::errno("pipe"))?;
    let (err_r, err_w) = nix::unistd::pipe2(flags).map_err(Error::errno("pipe"))?;
    let (o, e) = (out_w.as_raw_fd(), err_w.as_raw_fd());
    Ok((
        Stdio::Fd(o),
        Stdio::Fd(e),
        vec![
            copier(File::from(out_r), Stream::Stdout),
            copier(File::from(err_r), Stream::Stderr),
        ],
        vec![out_w, err_w],
    ))
}

/// A `File` sharing `fd` (a dup), for a copying thread.
pub fn dup_file(fd: &OwnedFd) -> Result<File> {
    Ok(File::from(fd.try_clone().map_err(Error::io("dup"))?))
}

/// Our own stdin as a `File` (a dup), or /dev/null when it cannot be had.
pub fn own_stdin() -> File {
    std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map(File::from)
        .or_else(|_| File::open("/dev/null"))
        .expect("/dev/null")
}
