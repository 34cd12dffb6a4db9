//! Networking for the sandbox: `lo` up in a fresh netns, the `/etc/hosts`, `/etc/resolv.conf`
//! and `/etc/hostname` it sees, and slirp4netns for `NetworkMode::Default`.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::error::SandboxError;
use super::spec::{Forward, NetworkMode};

/// slirp4netns's built-in DNS forwarder, as seen from inside.
pub const SLIRP_DNS: &str = "10.0.2.3";
/// The sandbox's own address on slirp4netns's network (where host ports are forwarded to).
pub const SLIRP_GUEST: &str = "10.0.2.100";

const SLIRP_READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Brings `lo` up in the current network namespace.
pub fn loopback_up() -> nix::Result<()> {
    // SAFETY: a plain socket(2) call; the result is checked and owned right away.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    let sock = {
        use std::os::fd::FromRawFd;
        // SAFETY: checked non-negative; nothing else owns it.
        unsafe { OwnedFd::from_raw_fd(Errno::result(fd)?) }
    };
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: `req` is a valid ifreq naming an interface; the ioctls only read/write it.
    unsafe {
        Errno::result(libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req))?;
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        Errno::result(libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req))?;
    }
    Ok(())
}

/// The sandbox's `/etc/hosts`.
pub fn hosts_file(hostname: &str) -> String {
    format!("127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n")
}

/// The sandbox's `/etc/resolv.conf`: slirp's forwarder, or the host's own file otherwise.
pub fn resolv_conf(mode: &NetworkMode, host_resolv: &str) -> String {
    match mode {
        NetworkMode::Default => format!("nameserver {SLIRP_DNS}\n"),
        NetworkMode::Host | NetworkMode::None | NetworkMode::Join(_) => host_resolv.to_string(),
    }
}

/// A running slirp4netns; killed and reaped on drop.
pub struct Slirp {
    child: Child,
    /// slirp4netns exits when this closes, even if we die without running `Drop`.
    _exit_w: OwnedFd,
}

impl Drop for Slirp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), SandboxError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|source| SandboxError::Sys {
        step: "pipe for slirp4netns",
        source,
    })
}

/// Starts slirp4netns on the network namespace of process `pid` and waits until it has
/// configured `tap0` (address 10.0.2.100, default route, DNS at 10.0.2.3). The host's
/// loopback stays out of reach (`--disable-host-loopback`): nothing inside may talk to
/// services bound only to the host's 127.0.0.1, as with Docker.
/// `in_userns`: the namespace belongs to a user namespace we made, which slirp4netns must
/// join first.
pub fn start_slirp(
    pid: i32,
    in_userns: bool,
    api_socket: &std::path::Path,
    forwards: &[Forward],
) -> Result<Slirp, SandboxError> {
    let (ready_r, ready_w) = pipe()?;
    let (exit_r, exit_w) = pipe()?;
    let (ready_fd, exit_fd) = (ready_w.as_raw_fd(), exit_r.as_raw_fd());
    let api = if forwards.is_empty() {
        None
    } else {
        Some(ApiSocket::new(api_socket)?)
    };
    let api_fd = api.as_ref().map(|a| a.dir.as_raw_fd());
    let mut args = vec![
        "--configure".to_string(),
        "--mtu=65520".to_string(),
        "--disable-host-loopback".to_string(),
        format!("--ready-fd={ready_fd}"),
        format!("--exit-fd={exit_fd}"),
    ];
    if in_userns {
        args.push(format!("--userns-path=/proc/{pid}/ns/user"));
    }
    if let Some(api) = &api {
        // slirp4netns inherits the directory's descriptor and binds through it too.
        args.push(format!("--api-socket={}", api.short_path().display()));
    }
    args.extend([pid.to_string(), "tap0".to_string()]);
    let mut cmd = Command::new("slirp4netns");
    cmd.args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: only fcntl, which is async-signal-safe, runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            for fd in [Some(ready_fd), Some(exit_fd), api_fd]
                .into_iter()
                .flatten()
            {
                if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| SandboxError::Network(format!("cannot run slirp4netns: {e}")))?;
    drop((ready_w, exit_r));
    let mut slirp = Slirp {
        child,
        _exit_w: exit_w,
    };
    let mut fds = [PollFd::new(ready_r.as_fd(), PollFlags::POLLIN)];
    let ms = SLIRP_READY_TIMEOUT.as_millis() as i32;
    let ready = poll(
        &mut fds,
        PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
    )
    .map_err(|source| SandboxError::Sys {
        step: "waiting for slirp4netns",
        source,
    })?;
    let mut byte = [0u8; 1];
    if ready > 0 && File::from(ready_r).read(&mut byte).unwrap_or(0) == 1 {
        if let Some(api) = &api {
            for f in forwards {
                add_hostfwd(api, f)?;
            }
        }
        return Ok(slirp);
    }
    let _ = slirp.child.kill();
    let mut err = String::new();
    if let Some(mut s) = slirp.child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    Err(SandboxError::Network(format!(
        "slirp4netns did not become ready: {}{}",
        err.trim(),
        slirp_hint(&err)
    )))
}

/// The request slirp4netns's API takes to forward one port.
pub fn hostfwd_request(f: &Forward) -> String {
    serde_json::json!({
        "execute": "add_hostfwd",
        "arguments": {
            "proto": f.proto,
            "host_addr": f.host_addr,
            "host_port": f.host_port,
            "guest_port": f.guest_port,
        }
    })
    .to_string()
}

/// slirp4netns's API socket, named through a descriptor of its directory
/// (`/proc/self/fd/N/NAME`): the sandbox's state directory sits under `$TMPDIR` or the
/// store, whose paths may be longer than the 107 bytes a socket address holds.
struct ApiSocket {
    dir: std::os::fd::OwnedFd,
    name: std::ffi::OsString,
    /// The full path, for messages.
    path: std::path::PathBuf,
}

impl ApiSocket {
    fn new(path: &std::path::Path) -> Result<ApiSocket, SandboxError> {
        let fail = |detail: &str| {
            SandboxError::Network(format!(
                "slirp4netns API socket {}: {detail}",
                path.display()
            ))
        };
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(fail("not a path to a file"));
        };
        let dir = std::fs::File::open(parent)
            .map_err(|e| fail(&format!("opening its directory: {e}")))?;
        Ok(ApiSocket {
            dir: dir.into(),
            name: name.to_owned(),
            path: path.to_path_buf(),
        })
    }

    /// The name both processes use; valid in any process holding `dir` at the same number.
    fn short_path(&self) -> std::path::PathBuf {
        std::path::Path::new(&format!("/proc/self/fd/{}", self.dir.as_raw_fd())).join(&self.name)
    }
}

/// Asks the running slirp4netns to forward `f`; its refusal (a port in use) is an error.
fn add_hostfwd(api: &ApiSocket, f: &Forward) -> Result<(), SandboxError> {
    let api_socket = &api.path;
    use std::io::Write;
    let fail = |detail: String| {
        SandboxError::Network(format!(
            "slirp4netns cannot forward {}:{}/{}: {detail}",
            f.host_addr, f.host_port, f.proto
        ))
    };
    let mut s = std::os::unix::net::UnixStream::connect(api.short_path())
        .map_err(|e| fail(format!("API socket {}: {e}", api_socket.display())))?;
    s.write_all(hostfwd_request(f).as_bytes())
        .map_err(|e| fail(e.to_string()))?;
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut answer = String::new();
    s.read_to_string(&mut answer)
        .map_err(|e| fail(e.to_string()))?;
    let v: serde_json::Value =
        serde_json::from_str(&answer).map_err(|_| fail(format!("answer {answer:?}")))?;
    match v["error"]["desc"].as_str() {
        Some(desc) => Err(fail(desc.to_string())),
        None if v.get("return").is_some() => Ok(()),
        None => Err(fail(format!("answer {answer:?}"))),
    }
}

/// Advice for a slirp4netns failure a user can fix: without root, the tap device needs
/// `/dev/net/tun` open to everyone (0666, as distributions ship it).
pub fn slirp_hint(stderr: &str) -> &'static str {
    if stderr.contains("/dev/net/tun") && stderr.contains("Permission denied") {
        " (without root, /dev/net/tun must be mode 0666 as distributions set it;          RUN --network=none or --network=host need no tap device)"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slirp_hint_only_for_tun_permissions() {
        let denied = "open(\"/dev/net/tun\"): Permission denied\nchild failed(1)";
        assert!(slirp_hint(denied).contains("0666"));
        assert_eq!(slirp_hint("open(\"/dev/net/tun\"): No such device"), "");
        assert_eq!(slirp_hint(""), "");
    }

    #[test]
    fn hostfwd_requests_name_every_field() {
        let r = hostfwd_request(&Forward {
            proto: "udp".into(),
            host_addr: "127.0.0.1".into(),
            host_port: 5353,
            guest_port: 53,
        });
        let v: serde_json::Value = serde_json::from_str(&r).unwrap();
        assert_eq!(v["execute"], "add_hostfwd");
        assert_eq!(v["arguments"]["proto"], "udp");
        assert_eq!(v["arguments"]["host_addr"], "127.0.0.1");
        assert_eq!(v["arguments"]["host_port"], 5353);
        assert_eq!(v["arguments"]["guest_port"], 53);
    }

    #[test]
    fn resolv_conf_per_mode() {
        let host = "nameserver 192.0.2.1\n";
        assert_eq!(
            resolv_conf(&NetworkMode::Default, host),
            "nameserver 10.0.2.3\n"
        );
        assert_eq!(resolv_conf(&NetworkMode::Host, host), host);
        assert_eq!(resolv_conf(&NetworkMode::None, host), host);
    }

    #[test]
    fn hosts_names_localhost_and_hostname() {
        let h = hosts_file("box");
        assert!(h.starts_with("127.0.0.1\tlocalhost box\n"), "{h}");
        assert!(h.contains("::1\tlocalhost"), "{h}");
    }
}
