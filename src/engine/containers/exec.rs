//! `exec`: a second process in a running container's namespaces, with the container's
//! environment, user and working directory unless the request overrides them. Created and
//! started in one step for now (`prepare`, then `run_attached` on the caller's own streams);
//! the API's separate exec create/start will keep a prepared exec between the two.

use std::os::fd::AsRawFd;
use std::path::Path;

use super::error::{Error, Result};
use super::stdio::{dup_file, own_stdin, pump, Pty};
use crate::container::{command, lifecycle, Container, ContainerError, Containers, Status};
use crate::sandbox::join::{exec_in, JoinSpec};
use crate::sandbox::security_flags::SecurityFlags;

/// A process to run in a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecRequest {
    pub cmd: Vec<String>,
    /// `K=V`, or `K` for the value in `host_env`; over the container's environment.
    pub env: Vec<String>,
    /// Absolute; the container's working directory when `None`.
    pub workdir: Option<String>,
    /// The container's user when `None`.
    pub user: Option<String>,
    pub tty: bool,
    /// Give the process the caller's stdin (else /dev/null).
    pub attach_stdin: bool,
    /// `--cap-add`, `--cap-drop`, `--privileged` over the container's own privileges.
    pub security: SecurityFlags,
}

/// An exec checked and ready to start.
#[derive(Debug, Clone)]
pub struct PreparedExec {
    pub container: Container,
    /// The host pid of the container's PID 1, whose namespaces the process joins.
    pub init_pid: i32,
    pub spec: JoinSpec,
    pub attach_stdin: bool,
}

/// Checks that the container `query` names runs and is not paused, and makes the process's
/// spec. Bare `K` env entries take their value from `host_env`.
pub fn prepare(
    root: &Path,
    query: &str,
    req: &ExecRequest,
    host_env: impl Fn(&str) -> Option<String>,
) -> Result<PreparedExec> {
    let c = Containers::new(root).find(query)?;
    if c.state.paused {
        return Err(ContainerError::ExecPaused { id: c.id.clone() }.into());
    }
    let init_pid = match (c.state.status, c.state.pid) {
        (Status::Running, Some(p)) if p.alive() => p.pid,
        _ => return Err(Error::ExecNotRunning { id: c.id.clone() }),
    };
    let cwd = req.workdir.clone().unwrap_or_else(|| c.config.cwd.clone());
    if !cwd.starts_with('/') {
        return Err(ContainerError::BadWorkdir(cwd).into());
    }
    let env = exec_env(
        &c.config.env,
        &req.env,
        host_env,
        &c.config.hostname,
        req.tty,
        &crate::container::links::env(root, &c),
    );
    let spec = JoinSpec {
        argv: req.cmd.clone(),
        env,
        cwd: cwd.into(),
        user: req.user.clone().unwrap_or_else(|| c.config.user.clone()),
        group_add: c.config.group_add.clone(),
        stdio: [None, None, None],
        tty: req.tty,
        security: req.security.for_exec(&c.config.security)?,
        rlimits: c.config.resources.rlimits(),
    };
    Ok(PreparedExec {
        container: c,
        init_pid,
        spec,
        attach_stdin: req.attach_stdin,
    })
}

/// The container's environment with the request's entries over it (and `TERM` with a tty),
/// as Docker's exec merges them: its own `Config.Env` and the exec's go through the same
/// merge as the main process's.
fn exec_env(
    container: &[String],
    given: &[String],
    host_env: impl Fn(&str) -> Option<String>,
    hostname: &str,
    tty: bool,
    links: &[String],
) -> Vec<String> {
    let mut config = container.to_vec();
    config.extend(command::given_env(given, host_env));
    command::process_env(&config, hostname, tty, links)
}

/// Runs a prepared exec on the caller's own streams (through `pty` with a tty) until it
/// ends; `on_spawn` gets the pid to forward signals to. Returns its exit code (126/127 as
/// Docker's when it could not be executed: `Error::exit_code`).
pub fn run_attached(
    exec: PreparedExec,
    pty: Option<Pty>,
    on_spawn: &mut dyn FnMut(i32),
) -> Result<i32> {
    let mut spec = exec.spec;
    let null = std::fs::File::open("/dev/null").map_err(Error::io("/dev/null"))?;
    if !exec.attach_stdin {
        spec.stdio[0] = Some(null.as_raw_fd());
    }
    let mut pumps = Vec::new();
    if let Some(p) = &pty {
        let fd = p.slave.as_raw_fd();
        spec.stdio = [Some(fd), Some(fd), Some(fd)];
        let out = dup_file(&p.master)?;
        pumps.push(std::thread::spawn(move || pump(out, std::io::stdout())));
        if exec.attach_stdin {
            let input = dup_file(&p.master)?;
            // Not joined: it blocks on our stdin until the process exits.
            std::thread::spawn(move || pump(own_stdin(), input));
        }
    }
    let result = exec_in(exec.init_pid, &spec, on_spawn);
    drop(pty);
    for p in pumps {
        let _ = p.join();
    }
    drop(null);
    result.map(lifecycle::exit_code).map_err(Error::Exec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_env_overrides_only_what_is_given() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let host = |k: &str| (k == "H").then(|| "host".to_string());
        let base = s(&["A=1", "PATH=/bin"]);
        // (given, tty, the environment the process gets)
        let cases: &[(&[&str], bool, &[&str])] = &[
            (&[], false, &["PATH=/bin", "HOSTNAME=c1", "A=1"]),
            (&["A=2"], false, &["PATH=/bin", "HOSTNAME=c1", "A=2"]),
            (&["B=3"], false, &["PATH=/bin", "HOSTNAME=c1", "A=1", "B=3"]),
            (
                &["H"],
                false,
                &["PATH=/bin", "HOSTNAME=c1", "A=1", "H=host"],
            ),
            (&["A"], false, &["PATH=/bin", "HOSTNAME=c1"]),
            (
                &[],
                true,
                &["PATH=/bin", "HOSTNAME=c1", "TERM=xterm", "A=1"],
            ),
        ];
        for (given, tty, want) in cases {
            let got = exec_env(&base, &s(given), host, "c1", *tty, &[]);
            assert_eq!(got, s(want), "{given:?} tty={tty}");
        }
    }
}
