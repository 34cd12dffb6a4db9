//! aardvark-dns driven directly (by the native backend): one configuration file per network
//! under `<dir>/aardvark-dns/<network>` — the gateway it listens on, then one line per
//! container (`ID IPV4 IPV6 NAME,ALIAS…`) — and one aardvark process per store, told to
//! reload with SIGHUP. `entry_line`/`edit` are pure.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::error::NetworkError;

/// One container's line: its id, address and names.
pub fn entry_line(id: &str, ip: &str, names: &[String]) -> String {
    format!("{id} {ip}  {}", names.join(","))
}

/// aardvark-dns answers a container with the names of the networks its *source address* is
/// listed on. A container on several networks asks from one address, so each of its lines
/// lists the address of that network first and then its addresses on its other networks:
/// names then resolve on every network it shares with the asker, as with Docker.
/// `files` maps network → file text; `id`'s lines are rewritten in place (pure).
pub fn relink(files: &mut std::collections::BTreeMap<String, String>, id: &str) {
    let own = |text: &str| -> Option<String> {
        text.lines().skip(1).find_map(|l| {
            let mut f = l.split(' ');
            (f.next() == Some(id)).then(|| {
                f.next()
                    .unwrap_or_default()
                    .split(',')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
        })
    };
    let mine: Vec<(String, String)> = files
        .iter()
        .filter_map(|(n, t)| own(t).map(|ip| (n.clone(), ip)))
        .collect();
    for (net, ip) in &mine {
        let mut ips = vec![ip.clone()];
        ips.extend(
            mine.iter()
                .filter(|(n, _)| n != net)
                .map(|(_, ip)| ip.clone()),
        );
        let text = &files[net];
        let rewritten: Vec<String> = text
            .lines()
            .enumerate()
            .map(|(i, l)| {
                let f: Vec<&str> = l.splitn(4, ' ').collect();
                if i > 0 && f.first() == Some(&id) && f.len() == 4 {
                    format!("{id} {} {} {}", ips.join(","), f[2], f[3])
                } else {
                    l.to_string()
                }
            })
            .collect();
        files.insert(net.clone(), rewritten.join("\n") + "\n");
    }
}

/// The file `old` (maybe empty) with `id`'s line replaced by `line` (or dropped when `None`);
/// the first line is `gateway`. `None` when no container is left (the file goes).
pub fn edit(old: &str, gateway: &str, id: &str, line: Option<&str>) -> Option<String> {
    let mut entries: Vec<&str> = old
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty() && l.split_whitespace().next() != Some(id))
        .collect();
    if let Some(l) = line {
        entries.push(l);
    }
    if entries.is_empty() {
        return None;
    }
    let mut text = format!("{gateway}\n");
    for e in entries {
        text.push_str(e);
        text.push('\n');
    }
    Some(text)
}

/// The aardvark-dns of one store.
pub struct Aardvark {
    pub binary: PathBuf,
    /// The `--config` directory: holds `aardvark-dns/` (the network files) and the pid file.
    pub dir: PathBuf,
    /// Upstream resolvers (`STRATA_DNS`), else the host's.
    pub upstream: Vec<String>,
}

impl Aardvark {
    fn files(&self) -> PathBuf {
        self.dir.join("aardvark-dns")
    }

    /// Sets (or with `line: None` removes) container `id`'s entry on network `network`, and
    /// makes the running aardvark-dns see it (starting one when needed, stopping it when no
    /// network has entries left). The caller holds the host-wide network lock.
    pub fn update(
        &self,
        network: &str,
        gateway: &str,
        id: &str,
        line: Option<&str>,
    ) -> Result<(), NetworkError> {
        let files = self.files();
        fs::create_dir_all(&files).map_err(NetworkError::io("create", &files))?;
        let mut all = self.read_all()?;
        let before = all.clone();
        let old = all.remove(network).unwrap_or_default();
        if let Some(text) = edit(&old, gateway, id, line) {
            all.insert(network.to_string(), text);
        }
        relink(&mut all, id);
        for (net, text) in &all {
            if before.get(net) != Some(text) {
                let path = files.join(net);
                crate::util::atomic::write_atomic(&path, text.as_bytes())
                    .map_err(NetworkError::io("write", &path))?;
            }
        }
        if !all.contains_key(network) {
            let path = files.join(network);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(NetworkError::io("remove", &path)(e)),
            }
        }
        // aardvark-dns re-reads its files on SIGHUP, and exits on it when none is left (it
        // ignores SIGTERM).
        match (self.running(), all.is_empty()) {
            (Some(pid), _) => signal(pid, Signal::SIGHUP),
            (None, false) => self.start(),
            (None, true) => Ok(()),
        }
    }

    /// Every network file: network → text.
    fn read_all(&self) -> Result<std::collections::BTreeMap<String, String>, NetworkError> {
        let mut out = std::collections::BTreeMap::new();
        let files = self.files();
        for e in fs::read_dir(&files)
            .map_err(NetworkError::io("read", &files))?
            .flatten()
        {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') || name == "aardvark.pid" {
                continue;
            }
            let text = fs::read_to_string(e.path()).map_err(NetworkError::io("read", &e.path()))?;
            out.insert(name, text);
        }
        Ok(out)
    }

    fn pid_file(&self) -> PathBuf {
        self.files().join("aardvark.pid")
    }

    /// The pid of this store's aardvark-dns, if it runs.
    fn running(&self) -> Option<i32> {
        let pid: i32 = fs::read_to_string(self.pid_file())
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        String::from_utf8_lossy(&cmdline)
            .contains("aardvark")
            .then_some(pid)
    }

    fn start(&self) -> Result<(), NetworkError> {
        reap_orphans();
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--config")
            .arg(self.files())
            .args(["-p", "53", "run"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        crate::util::unblock_signals_in(&mut cmd);
        if !self.upstream.is_empty() {
            let conf = self.dir.join("resolv.conf");
            let text: String = self
                .upstream
                .iter()
                .map(|s| format!("nameserver {s}\n"))
                .collect();
            crate::util::atomic::write_atomic(&conf, text.as_bytes())
                .map_err(NetworkError::io("write", &conf))?;
            super::netavark::private_resolv_conf(&mut cmd, conf);
        }
        // aardvark-dns daemonizes itself: the process started here returns once it serves.
        let out = cmd
            .spawn()
            .and_then(|c| c.wait_with_output())
            .map_err(|source| NetworkError::ToolMissing {
                tool: self.binary.display().to_string(),
                source,
            })?;
        if !out.status.success() {
            return Err(NetworkError::Tool {
                tool: "aardvark-dns".into(),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(())
    }
}

/// Kills aardvark-dns processes whose configuration directory is gone (their store was
/// deleted): they would keep the gateway addresses' port 53, and SIGHUP cannot stop them.
pub fn reap_orphans() -> usize {
    let Ok(procs) = fs::read_dir("/proc") else {
        return 0;
    };
    let mut n = 0;
    for p in procs.flatten() {
        let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = fs::read(p.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_aardvark = args.first().is_some_and(|a| a.ends_with(b"aardvark-dns"));
        let dir = args
            .iter()
            .position(|a| *a == b"--config")
            .and_then(|i| args.get(i + 1))
            .map(|d| {
                Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(d))
                    .to_path_buf()
            });
        if let (true, Some(dir)) = (is_aardvark, dir) {
            if !dir.exists() && kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok() {
                n += 1;
            }
        }
    }
    n
}

fn signal(pid: i32, sig: Signal) -> Result<(), NetworkError> {
    match kill(Pid::from_raw(pid), sig) {
        Ok(()) | Err(nix::Error::ESRCH) => Ok(()),
        Err(source) => Err(NetworkError::Netns {
            path: Path::new("/proc").join(pid.to_string()),
            step: "signal aardvark-dns",
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_on_two_networks_is_listed_with_all_its_addresses() {
        let mut files = std::collections::BTreeMap::from([
            (
                "app".to_string(),
                "10.1.0.1\nc1 10.1.0.2  web,c1s\nc2 10.1.0.3  db\n".to_string(),
            ),
            (
                "other".to_string(),
                "10.2.0.1\nc1 10.2.0.5  web,c1s\n".to_string(),
            ),
        ]);
        relink(&mut files, "c1");
        assert_eq!(
            files["app"],
            "10.1.0.1\nc1 10.1.0.2,10.2.0.5  web,c1s\nc2 10.1.0.3  db\n"
        );
        assert_eq!(files["other"], "10.2.0.1\nc1 10.2.0.5,10.1.0.2  web,c1s\n");
        files.remove("other");
        relink(&mut files, "c1");
        assert_eq!(
            files["app"],
            "10.1.0.1\nc1 10.1.0.2  web,c1s\nc2 10.1.0.3  db\n"
        );
    }

    #[test]
    fn entries_are_added_replaced_and_dropped() {
        let a = entry_line("c1", "10.89.1.2", &["web".into(), "c1short".into()]);
        assert_eq!(a, "c1 10.89.1.2  web,c1short");
        let one = edit("", "10.89.1.1", "c1", Some(&a)).unwrap();
        assert_eq!(one, "10.89.1.1\nc1 10.89.1.2  web,c1short\n");
        let b = entry_line("c2", "10.89.1.3", &["db".into()]);
        let two = edit(&one, "10.89.1.1", "c2", Some(&b)).unwrap();
        assert_eq!(two.lines().count(), 3);
        let again = edit(&two, "10.89.1.1", "c1", Some(&a)).unwrap();
        assert_eq!(again.lines().count(), 3, "{again}");
        let back = edit(&two, "10.89.1.1", "c2", None).unwrap();
        assert_eq!(back, one);
        assert_eq!(edit(&one, "10.89.1.1", "c1", None), None);
    }
}
