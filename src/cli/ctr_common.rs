//! What the container commands share: Docker's exit code 125 for strata's own errors, the
//! image lookup that pulls a missing image, signal forwarding, a pty for `-t`, and starting
//! the detached supervisor.

use std::fs::File;
use std::io::{BufRead, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::ExitCode;
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::termios::{self, SetArg, Termios};

use crate::container::logfile::{self, LogSink, Stream};
use crate::distribution;
use crate::plan::platform::Platform;
use crate::reference::Reference;
use crate::sandbox::init::FORWARDED;
use crate::sandbox::Stdio;
use crate::store::error::StoreError;
use crate::store::image::Image;
use crate::store::Store;

/// Prints `err` as `main` would and returns `code` (125 for strata's own failures).
pub fn fail(code: i32, err: &anyhow::Error) -> ExitCode {
    eprintln!("error: {}", super::render_error(err));
    ExitCode::from(code.clamp(0, 255) as u8)
}

/// Docker's check before `-it`: an interactive terminal needs our stdin to be one. Returns the
/// exit code to fail with when it is not (nothing was created then).
pub fn require_tty_input(interactive: bool, tty: bool) -> Option<ExitCode> {
    if interactive && tty && !nix::unistd::isatty(std::io::stdin()).unwrap_or(false) {
        eprintln!("the input device is not a TTY");
        return Some(ExitCode::from(1));
    }
    None
}

/// The image `name` names in the store, pulled for the host platform when missing.
pub fn image_or_pull(store: &Store, name: &str) -> Result<Image> {
    match store.resolve(name) {
        Ok(img) => Ok(img),
        Err(StoreError::NoSuchImage(_)) => {
            let reference =
                Reference::parse(name).with_context(|| format!("No such image: {name}"))?;
            eprintln!(
                "Unable to find image '{}' locally",
                reference.familiar_string()
            );
            let client = super::pull::registry_client(reference.domain(), &[])?;
            let img = distribution::pull(store, &client, &reference, &Platform::host())
                .with_context(|| format!("pulling {}", reference.familiar_string()))?;
            Ok(img)
        }
        Err(e) => Err(e.into()),
    }
}

/// Blocks the forwarded signals in this thread (and the threads it starts later) and hands
/// each one that arrives to `forward` on a dedicated thread.
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
        let p = nix::pty::openpty(winsize.as_ref(), None).context("opening a pty")?;
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
    let (out_r, out_w) = nix::unistd::pipe2(flags).context("pipe")?;
    let (err_r, err_w) = nix::unistd::pipe2(flags).context("pipe")?;
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
    Ok(File::from(fd.try_clone().context("dup")?))
}

/// Starts the detached supervisor of container `id` (this binary, in its own session, its
/// stdio on /dev/null) and waits until the command runs or fails to start.
/// `Err((exit code, message))` when it did not start.
pub fn start_detached(root: &Path, id: &str) -> std::result::Result<(), (i32, String)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| (125, format!("pipe: {e}")))?;
    let exe = std::env::current_exe().map_err(|e| (125, format!("own executable: {e}")))?;
    let wfd = w.as_raw_fd();
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--root")
        .arg(root)
        .arg("container-supervise")
        .arg("--ready-fd")
        .arg("3")
        .arg(id)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(wfd, 3) < 0 || libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| (125, format!("starting the supervisor: {e}")))?;
    drop(w);
    let mut answer = String::new();
    let _ = std::io::BufReader::new(File::from(r)).read_line(&mut answer);
    // Reap it in the background when it ends (it normally outlives us).
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    let line = answer.lines().next().unwrap_or("");
    if line == "ok" {
        return Ok(());
    }
    if let Some(rest) = line.strip_prefix("err ") {
        let (code, msg) = rest.split_once(' ').unwrap_or((rest, ""));
        return Err((code.parse().unwrap_or(125), msg.to_string()));
    }
    Err((
        125,
        "the container's supervisor ended before the container started".into(),
    ))
}

/// The supervisor's side of `start_detached`'s pipe.
pub fn ready_pipe(fd: i32) -> File {
    // Close-on-exec, so no process the supervisor starts (slirp4netns) keeps the starter waiting.
    // SAFETY: fcntl on a descriptor number; the result is ignored if it is not open.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    // SAFETY: the descriptor was installed for us by `start_detached` and nothing else owns it.
    unsafe { File::from_raw_fd(fd) }
}

/// The images of every container in the store: prune keeps them and their snapshots.
pub fn container_images(root: &Path) -> Result<Vec<crate::digest::Digest>> {
    let containers = crate::container::Containers::new(root)
        .list()
        .context("cannot list the containers")?;
    Ok(containers.iter().map(|c| c.manifest_digest).collect())
}

/// Applies `act` to each container the user named, printing the name as Docker does for each
/// one done; a failure is reported and the rest still run (exit 1 if any failed).
pub fn each_container<T>(
    settings: &super::Settings,
    queries: &[String],
    act: impl Fn(&Store, &crate::container::Container) -> Result<T, crate::container::ContainerError>,
) -> Result<ExitCode> {
    let store = Store::open(&settings.root)?;
    let cs = crate::container::Containers::new(&settings.root);
    let mut code = ExitCode::SUCCESS;
    for q in queries {
        match cs.find(q).and_then(|c| act(&store, &c)) {
            Ok(_) => println!("{q}"),
            Err(e) => code = fail(1, &e.into()),
        }
    }
    Ok(code)
}

/// Asks `warning` + "Are you sure you want to continue? [y/N]" on stderr; no answer (stdin
/// closed, not a terminal) is no.
pub fn confirm(warning: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    eprint!("{warning}\n\nAre you sure you want to continue? [y/N] ");
    std::io::stderr().flush()?;
    let stdin = std::io::stdin();
    if !stdin.is_terminal()
        && stdin
            .lock()
            .fill_buf()
            .map(|b| b.is_empty())
            .unwrap_or(true)
    {
        eprintln!();
        return Ok(false);
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "Yes"))
}
