//! The container's terminal under `-t`: a pty made from the container's own devpts, so the
//! command's terminal is `/dev/pts/0` inside (as with Docker) rather than a host pty the
//! container cannot name. PID 1 opens it, a relay process copies between it and the terminal
//! the caller handed in (put in raw mode, so only the inner one edits lines and echoes), and
//! window sizes are passed on when PID 1 gets SIGWINCH.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{self, SetArg};

/// The inner pty: its master (kept by PID 1 and the relay) and the slave's path.
pub struct Console {
    pub master: OwnedFd,
    pub slave_path: std::ffi::CString,
}

/// Opens `/dev/ptmx` of the container (PID 1 runs inside its root), sized like `outer`.
pub fn open(outer: BorrowedFd<'_>) -> Result<Console, String> {
    let err = |what: &str| format!("{what}: {}", Errno::last());
    // SAFETY: plain libc calls on a descriptor we own from here on; ptsname_r writes into our
    // buffer with its length.
    let (master, name) = unsafe {
        let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(err("open /dev/ptmx"));
        }
        let master = OwnedFd::from_raw_fd(fd);
        if libc::grantpt(fd) != 0 || libc::unlockpt(fd) != 0 {
            return Err(err("unlockpt"));
        }
        let mut buf = [0 as libc::c_char; 64];
        if libc::ptsname_r(fd, buf.as_mut_ptr(), buf.len()) != 0 {
            return Err(err("ptsname"));
        }
        (master, std::ffi::CStr::from_ptr(buf.as_ptr()).to_owned())
    };
    copy_size(outer.as_raw_fd(), master.as_raw_fd());
    if let Ok(mut t) = termios::tcgetattr(outer) {
        termios::cfmakeraw(&mut t);
        let _ = termios::tcsetattr(outer, SetArg::TCSANOW, &t);
    }
    Ok(Console {
        master,
        slave_path: name,
    })
}

/// Gives `to` the window size of `from` (the kernel then signals SIGWINCH inside).
pub fn copy_size(from: RawFd, to: RawFd) {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize we own; TIOCSWINSZ reads it.
    unsafe {
        if libc::ioctl(from, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(to, libc::TIOCSWINSZ, &ws);
        }
    }
}

/// In the main process before exec: the inner slave becomes stdin/stdout/stderr and the
/// controlling terminal of a new session.
pub fn attach_main(slave_path: &std::ffi::CStr) -> Result<(), Errno> {
    // SAFETY: plain syscalls on descriptors this process owns; open's path is a C string.
    unsafe {
        let fd = libc::open(slave_path.as_ptr(), libc::O_RDWR);
        if fd < 0 {
            return Err(Errno::last());
        }
        if libc::setsid() < 0 {
            return Err(Errno::last());
        }
        if libc::ioctl(fd, libc::TIOCSCTTY, 0) < 0 {
            return Err(Errno::last());
        }
        for target in 0..3 {
            if libc::dup2(fd, target) < 0 {
                return Err(Errno::last());
            }
        }
        if fd > 2 {
            libc::close(fd);
        }
    }
    Ok(())
}

/// The relay's body: copies the outer terminal (our stdin) to the master and the master to
/// our stdout until the inner side is closed by everyone (the master reads EIO).
pub fn relay(master: &OwnedFd) -> i32 {
    let stdin = unsafe { BorrowedFd::borrow_raw(0) };
    let mut input_open = true;
    let mut buf = [0u8; 8192];
    loop {
        let mut fds = vec![PollFd::new(master.as_fd_borrowed(), PollFlags::POLLIN)];
        if input_open {
            fds.push(PollFd::new(stdin, PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => continue,
            Err(_) => return 1,
            Ok(_) => {}
        }
        let m = fds[0].revents().unwrap_or(PollFlags::empty());
        let i = fds
            .get(1)
            .and_then(|f| f.revents())
            .unwrap_or(PollFlags::empty());
        if m.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            match nix::unistd::read(master, &mut buf) {
                Ok(0) | Err(Errno::EIO) => return 0,
                Err(Errno::EINTR) | Err(Errno::EAGAIN) => {}
                Err(_) => return 1,
                Ok(n) => write_all(1, &buf[..n]),
            }
        }
        if input_open && i.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            match nix::unistd::read(stdin, &mut buf) {
                Ok(0) | Err(Errno::EIO) => input_open = false,
                Err(Errno::EINTR) | Err(Errno::EAGAIN) => {}
                Err(_) => input_open = false,
                Ok(n) => write_all(master.as_raw_fd(), &buf[..n]),
            }
        }
    }
}

fn write_all(fd: RawFd, mut data: &[u8]) {
    while !data.is_empty() {
        // SAFETY: writing from a buffer we own to a descriptor we hold.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            return;
        }
        data = &data[n as usize..];
    }
}

trait Borrowed {
    fn as_fd_borrowed(&self) -> BorrowedFd<'_>;
}

impl Borrowed for OwnedFd {
    fn as_fd_borrowed(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.as_fd()
    }
}
