//! Resource limits (`setrlimit`) of the sandbox's command, by Docker's `--ulimit` names. The
//! main process sets them before it becomes the user and executes, so a raised hard limit
//! still has root's privilege; every process it starts inherits them.

use serde::{Deserialize, Serialize};

/// One limit: `soft` and `hard` as `setrlimit` takes them (`u64::MAX` is unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    pub resource: Resource,
    pub soft: u64,
    pub hard: u64,
}

/// The limits Docker's `--ulimit` accepts (go-units' list: `as` is left out there too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resource {
    Core,
    Cpu,
    Data,
    Fsize,
    Locks,
    Memlock,
    Msgqueue,
    Nice,
    Nofile,
    Nproc,
    Rss,
    Rtprio,
    Rttime,
    Sigpending,
    Stack,
}

/// Every resource with its Docker name and its `RLIMIT_*` number, in the enum's order.
const TABLE: [(Resource, &str, libc::__rlimit_resource_t); 15] = [
    (Resource::Core, "core", libc::RLIMIT_CORE),
    (Resource::Cpu, "cpu", libc::RLIMIT_CPU),
    (Resource::Data, "data", libc::RLIMIT_DATA),
    (Resource::Fsize, "fsize", libc::RLIMIT_FSIZE),
    (Resource::Locks, "locks", libc::RLIMIT_LOCKS),
    (Resource::Memlock, "memlock", libc::RLIMIT_MEMLOCK),
    (Resource::Msgqueue, "msgqueue", libc::RLIMIT_MSGQUEUE),
    (Resource::Nice, "nice", libc::RLIMIT_NICE),
    (Resource::Nofile, "nofile", libc::RLIMIT_NOFILE),
    (Resource::Nproc, "nproc", libc::RLIMIT_NPROC),
    (Resource::Rss, "rss", libc::RLIMIT_RSS),
    (Resource::Rtprio, "rtprio", libc::RLIMIT_RTPRIO),
    (Resource::Rttime, "rttime", libc::RLIMIT_RTTIME),
    (Resource::Sigpending, "sigpending", libc::RLIMIT_SIGPENDING),
    (Resource::Stack, "stack", libc::RLIMIT_STACK),
];

impl Resource {
    /// The resource Docker calls `name` (`nofile`), if any.
    pub fn from_name(name: &str) -> Option<Resource> {
        TABLE
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(r, _, _)| *r)
    }

    pub fn name(self) -> &'static str {
        TABLE[self as usize].1
    }

    fn number(self) -> libc::__rlimit_resource_t {
        TABLE[self as usize].2
    }
}

#[derive(Debug, thiserror::Error)]
#[error("setting rlimit {name} to {soft}:{hard}: {source}")]
pub struct RlimitError {
    name: &'static str,
    soft: u64,
    hard: u64,
    source: std::io::Error,
}

/// Sets each limit on the calling process, in order; stops at the first the kernel refuses.
pub fn apply(limits: &[Rlimit]) -> Result<(), RlimitError> {
    for l in limits {
        let value = libc::rlimit {
            rlim_cur: l.soft,
            rlim_max: l.hard,
        };
        // SAFETY: setrlimit reads the struct we pass; it touches no other memory.
        if unsafe { libc::setrlimit(l.resource.number(), &value) } != 0 {
            return Err(RlimitError {
                name: l.resource.name(),
                soft: l.soft,
                hard: l.hard,
                source: std::io::Error::last_os_error(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (i, (r, name, _)) in TABLE.into_iter().enumerate() {
            assert_eq!(r as usize, i, "{name}");
            assert_eq!(Resource::from_name(name), Some(r));
            assert_eq!(r.name(), name);
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{name}\""));
        }
        for bad in ["as", "NOFILE", "", "bogus"] {
            assert_eq!(Resource::from_name(bad), None, "{bad}");
        }
    }

    /// In a child, so the test process keeps its own limits.
    #[test]
    fn apply_sets_the_limit_and_reports_a_refusal() {
        // SAFETY: the child only calls async-signal-safe functions and `_exit`s.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let ok = apply(&[Rlimit {
                    resource: Resource::Nofile,
                    soft: 100,
                    hard: 200,
                }])
                .is_ok();
                let mut got = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                // SAFETY: getrlimit writes into the struct we pass.
                unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut got) };
                let bad = apply(&[Rlimit {
                    resource: Resource::Nofile,
                    soft: 300,
                    hard: 200,
                }])
                .is_err();
                let pass = ok && got.rlim_cur == 100 && got.rlim_max == 200 && bad;
                // SAFETY: leaving the forked child.
                unsafe { libc::_exit(if pass { 0 } else { 1 }) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }
}
