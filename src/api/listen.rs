//! Where the service listens: parsing the URI, the default socket, binding a unix socket
//! (stale file removed, mode 0660, group `docker` or `strata`), and systemd socket activation
//! (`LISTEN_PID`/`LISTEN_FDS`, the socket at fd 3).

use std::fs;
use std::io;
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// The first fd systemd passes (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: RawFd = 3;
/// Groups whose members may use the socket, first found wins.
const SOCKET_GROUPS: &[&str] = &["docker", "strata"];

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error(
        "{0}: the Engine API over tcp:// needs mutual TLS: give --tlsverify --tlscacert FILE \
         --tlscert FILE --tlskey FILE, or listen on a unix:// socket"
    )]
    TcpNeedsTls(String),
    #[error("{0}: unsupported address (expected unix:///PATH)")]
    Scheme(String),
    #[error("the socket systemd passed is not a unix socket (activation is for unix sockets)")]
    ActivatedNotUnix,
    #[error("no socket path: XDG_RUNTIME_DIR is not set (give a unix:///PATH)")]
    NoRuntimeDir,
    #[error("{0} is in use by another server")]
    InUse(PathBuf),
    #[error("{0} exists and is not a socket")]
    NotASocket(PathBuf),
    #[error("{op} {path}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> ListenError {
    let path = path.to_path_buf();
    move |source| ListenError::Io { op, path, source }
}

/// A listen address as the user gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    Unix(PathBuf),
    /// `tcp://HOST:PORT`: parsed so the refusal can name it.
    Tcp(String),
}

impl ListenAddr {
    pub fn parse(uri: &str) -> Result<ListenAddr, ListenError> {
        if let Some(p) = uri.strip_prefix("unix://") {
            if p.is_empty() {
                return Err(ListenError::Scheme(uri.to_string()));
            }
            return Ok(ListenAddr::Unix(PathBuf::from(p)));
        }
        if let Some(hp) = uri.strip_prefix("tcp://") {
            return Ok(ListenAddr::Tcp(hp.to_string()));
        }
        Err(ListenError::Scheme(uri.to_string()))
    }
}

/// `/run/strata/strata.sock` for root, `$XDG_RUNTIME_DIR/strata/strata.sock` otherwise.
pub fn default_socket(root: bool, runtime_dir: Option<&Path>) -> Result<PathBuf, ListenError> {
    if root {
        return Ok(PathBuf::from("/run/strata/strata.sock"));
    }
    match runtime_dir {
        Some(d) if !d.as_os_str().is_empty() => Ok(d.join("strata/strata.sock")),
        _ => Err(ListenError::NoRuntimeDir),
    }
}

/// How many fds systemd passed this process, from `LISTEN_PID` and `LISTEN_FDS`.
pub fn activation_fds(listen_pid: Option<&str>, listen_fds: Option<&str>, pid: u32) -> usize {
    match (listen_pid, listen_fds) {
        (Some(p), Some(n)) if p.trim().parse::<u32>().ok() == Some(pid) => {
            n.trim().parse().unwrap_or(0)
        }
        _ => 0,
    }
}

/// The socket systemd passed, if this process was socket-activated. The variables are removed
/// so that children do not take the fds for theirs.
pub fn activated() -> Result<Option<UnixListener>, ListenError> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    let n = activation_fds(pid.as_deref(), fds.as_deref(), std::process::id());
    std::env::remove_var("LISTEN_PID");
    std::env::remove_var("LISTEN_FDS");
    std::env::remove_var("LISTEN_FDNAMES");
    if n == 0 {
        return Ok(None);
    }
    // SAFETY: fd 3 was passed to this process by systemd (LISTEN_PID names us) and stays open.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(LISTEN_FDS_START) };
    let _ = nix::fcntl::fcntl(
        fd,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    // The unit may say ListenStream=2375: only a unix socket is served (TCP needs TLS).
    if nix::sys::socket::getsockname::<nix::sys::socket::UnixAddr>(LISTEN_FDS_START).is_err() {
        return Err(ListenError::ActivatedNotUnix);
    }
    // SAFETY: as above; nothing else in this process owns fd 3, so the listener may own it.
    Ok(Some(unsafe { UnixListener::from_raw_fd(LISTEN_FDS_START) }))
}

/// Binds a unix socket at `path`: a stale socket file is removed, a live one refused.
pub fn bind_unix(path: &Path) -> Result<UnixListener, ListenError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io_err("cannot create", dir))?;
    }
    match fs::symlink_metadata(path) {
        Ok(md) if md.file_type().is_socket() => {
            if UnixStream::connect(path).is_ok() {
                return Err(ListenError::InUse(path.to_path_buf()));
            }
            fs::remove_file(path).map_err(io_err("cannot remove the stale socket", path))?;
        }
        Ok(_) => return Err(ListenError::NotASocket(path.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("cannot stat", path)(e)),
    }
    let listener = UnixListener::bind(path).map_err(io_err("cannot listen on", path))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o660))
        .map_err(io_err("cannot set the mode of", path))?;
    let group = SOCKET_GROUPS
        .iter()
        .find_map(|g| nix::unistd::Group::from_name(g).ok().flatten());
    if let Some(g) = group {
        // Only root (or a member) may give the socket the group; without it the owner alone
        // may connect, which is still correct.
        let _ = nix::unistd::chown(path, None, Some(g.gid));
    }
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            ListenAddr::parse("unix:///tmp/s.sock").unwrap(),
            ListenAddr::Unix("/tmp/s.sock".into())
        );
        assert_eq!(
            ListenAddr::parse("tcp://127.0.0.1:2375").unwrap(),
            ListenAddr::Tcp("127.0.0.1:2375".into())
        );
        for bad in ["unix://", "/tmp/s.sock", "http://x", "npipe:////./pipe/x"] {
            assert!(ListenAddr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn default_sockets() {
        assert_eq!(
            default_socket(true, None).unwrap(),
            PathBuf::from("/run/strata/strata.sock")
        );
        assert_eq!(
            default_socket(false, Some(Path::new("/run/user/1000"))).unwrap(),
            PathBuf::from("/run/user/1000/strata/strata.sock")
        );
        assert!(default_socket(false, None).is_err());
    }

    #[test]
    fn activation() {
        for (pid, fds, want) in [
            (Some("42"), Some("1"), 1),
            (Some("42"), Some("2"), 2),
            (Some("41"), Some("1"), 0),
            (None, Some("1"), 0),
            (Some("42"), None, 0),
            (Some("42"), Some("x"), 0),
        ] {
            assert_eq!(activation_fds(pid, fds, 42), want, "{pid:?} {fds:?}");
        }
    }

    #[test]
    fn stale_socket_is_replaced_and_live_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/s.sock");
        let first = bind_unix(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        assert!(matches!(bind_unix(&path), Err(ListenError::InUse(_))));
        drop(first);
        bind_unix(&path).unwrap();
        let file = dir.path().join("plain");
        fs::write(&file, "x").unwrap();
        assert!(matches!(bind_unix(&file), Err(ListenError::NotASocket(_))));
    }
}
