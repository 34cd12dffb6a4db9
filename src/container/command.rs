//! What a container runs, from its image config and the `run` flags, as Docker decides it:
//! Entrypoint + Cmd, the environment, working directory, user, stop signal and the image's
//! volumes. Pure.

use std::path::Path;

use super::error::ContainerError;
use super::record::MountSpec;
use crate::sandbox::spec::DEFAULT_PATH;
use crate::store::config::RuntimeConfig;

/// Entrypoint + Cmd. `--entrypoint` replaces the image's entrypoint and drops its Cmd (an
/// empty `--entrypoint ""` clears it); command arguments replace Cmd.
pub fn argv(
    image: &RuntimeConfig,
    entrypoint: Option<&[String]>,
    command: &[String],
) -> Result<Vec<String>, ContainerError> {
    let (ep, image_cmd) = entrypoint_and_cmd(image, entrypoint);
    let cmd = if command.is_empty() {
        image_cmd
    } else {
        command.to_vec()
    };
    let argv: Vec<String> = ep.into_iter().chain(cmd).collect();
    if argv.is_empty() {
        return Err(ContainerError::NoCommand);
    }
    Ok(argv)
}

/// The entrypoint in effect (`--entrypoint` over the image's; `--entrypoint ""` clears it and
/// the image's Cmd with it) and the image Cmd that goes with it.
pub fn entrypoint_and_cmd(
    image: &RuntimeConfig,
    entrypoint: Option<&[String]>,
) -> (Vec<String>, Vec<String>) {
    match entrypoint {
        // Docker's API sends `--entrypoint ""` as `[""]`.
        Some(e) if e.iter().all(String::is_empty) => (Vec::new(), Vec::new()),
        Some(e) => (e.to_vec(), Vec::new()),
        None => (
            image.entrypoint.clone().unwrap_or_default(),
            image.cmd.clone().unwrap_or_default(),
        ),
    }
}

/// `--env-file` lines: `K=V` or `K` (taken from the host), `#` comments and blank lines skipped.
pub fn parse_env_file(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim_start())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// Docker's `Config.Env`: the given entries in order (env-file entries first, then `-e`),
/// then each image entry whose key none of them sets, as dockerd merges them (and `PATH` when
/// neither has it). A bare `K`
/// takes the host's value when it has one (the CLI's environment; the API's finds none) and
/// otherwise stays bare: it unsets `K` in the process (`process_env`).
pub fn config_env(
    image: &[String],
    given: &[String],
    host: impl Fn(&str) -> Option<String>,
) -> Vec<String> {
    let mut out = given_env(given, host);
    for e in image {
        if !out.iter().any(|o| env_key(o) == env_key(e)) {
            out.push(e.clone());
        }
    }
    // An image without `PATH` (an import, `FROM scratch`) gets Docker's default, which the
    // process has anyway.
    if !out.iter().any(|o| env_key(o) == "PATH") {
        out.push(format!("PATH={DEFAULT_PATH}"));
    }
    out
}

/// `-e` entries as given, a bare `K` with the host's value when it has one (else bare).
pub fn given_env(given: &[String], host: impl Fn(&str) -> Option<String>) -> Vec<String> {
    given
        .iter()
        .map(|g| match (g.contains('='), host(g)) {
            (false, Some(v)) => format!("{g}={v}"),
            _ => g.clone(),
        })
        .collect()
}

fn env_key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(k, _)| k)
}

/// The environment a process of the container gets, as dockerd makes it: `PATH` (Docker's
/// default), `HOSTNAME`, `TERM=xterm` with a tty and the links' variables, then each
/// `Config.Env` entry replacing the same key or appended; a bare `K` removes `K`.
pub fn process_env(config: &[String], hostname: &str, tty: bool, links: &[String]) -> Vec<String> {
    let mut out = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
    ];
    if tty {
        out.push("TERM=xterm".into());
    }
    out.extend(links.iter().cloned());
    for e in config {
        let key = env_key(e);
        let slot = out.iter().position(|o| env_key(o) == key);
        match (e.contains('='), slot) {
            (true, Some(i)) => out[i] = e.clone(),
            (true, None) => out.push(e.clone()),
            (false, Some(i)) => {
                out.remove(i);
            }
            (false, None) => {}
        }
    }
    out
}

/// `-w`, else the image's WorkingDir, else `/`; it must be absolute.
pub fn workdir(image: &RuntimeConfig, flag: Option<&str>) -> Result<String, ContainerError> {
    let w = flag
        .or(image.working_dir.as_deref())
        .filter(|w| !w.is_empty())
        .unwrap_or("/");
    if !w.starts_with('/') {
        return Err(ContainerError::BadWorkdir(w.to_string()));
    }
    Ok(w.to_string())
}

/// `-u`, else the image's User, else root.
pub fn user(image: &RuntimeConfig, flag: Option<&str>) -> String {
    flag.or(image.user.as_deref())
        .filter(|u| !u.is_empty())
        .unwrap_or("0")
        .to_string()
}

/// A signal as `StopSignal` or `kill -s` name it: `SIGTERM`, `TERM`, `term`, `15`,
/// `SIGRTMIN+3`; its number.
pub fn parse_signal(s: &str) -> Result<i32, ContainerError> {
    crate::util::signal::parse(s).ok_or_else(|| ContainerError::BadSignal(s.to_string()))
}

/// The image's stop signal (validated), or SIGTERM.
pub fn stop_signal(image: &RuntimeConfig) -> Result<String, ContainerError> {
    match image.stop_signal.as_deref() {
        Some(s) if !s.is_empty() => {
            parse_signal(s)?;
            Ok(s.to_string())
        }
        _ => Ok("SIGTERM".into()),
    }
}

/// The flag mounts, then an anonymous volume for each image `VOLUME` no flag mount covers.
pub fn with_image_volumes(image: &RuntimeConfig, flags: Vec<MountSpec>) -> Vec<MountSpec> {
    let mut out = flags;
    for path in image.volumes.iter().flat_map(|v| v.keys()) {
        let target = Path::new(path);
        if !target.is_absolute() || out.iter().any(|m| m.target() == target) {
            continue;
        }
        out.push(MountSpec::Volume {
            name: None,
            target: target.to_path_buf(),
            readonly: false,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(ep: Option<&[&str]>, cmd: Option<&[&str]>) -> RuntimeConfig {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        RuntimeConfig {
            entrypoint: ep.map(v),
            cmd: cmd.map(v),
            ..Default::default()
        }
    }
    fn s(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn entrypoint_and_cmd_combine_as_docker_does() {
        type Case<'a> = (
            RuntimeConfig,
            Option<&'a str>,
            &'a [&'a str],
            Option<&'a [&'a str]>,
        );
        let cases: &[Case] = &[
            (cfg(None, Some(&["sh"])), None, &[], Some(&["sh"])),
            (
                cfg(None, Some(&["sh"])),
                None,
                &["echo", "hi"],
                Some(&["echo", "hi"]),
            ),
            (
                cfg(Some(&["/e", "-x"]), Some(&["d"])),
                None,
                &[],
                Some(&["/e", "-x", "d"]),
            ),
            (
                cfg(Some(&["/e"]), Some(&["d"])),
                None,
                &["a"],
                Some(&["/e", "a"]),
            ),
            (
                cfg(Some(&["/e"]), Some(&["d"])),
                Some("/f"),
                &[],
                Some(&["/f"]),
            ),
            (
                cfg(Some(&["/e"]), Some(&["d"])),
                Some("/f"),
                &["a"],
                Some(&["/f", "a"]),
            ),
            (
                cfg(Some(&["/e"]), Some(&["d"])),
                Some(""),
                &["a"],
                Some(&["a"]),
            ),
            (cfg(Some(&["/e"]), None), Some(""), &[], None),
            (cfg(None, None), None, &[], None),
        ];
        for (c, ep, cmd, want) in cases {
            let ep = ep.map(|e| vec![e.to_string()]);
            let got = argv(c, ep.as_deref(), &s(cmd)).ok();
            assert_eq!(got, want.map(s), "{ep:?} {cmd:?}");
        }
    }

    #[test]
    fn config_env_keeps_given_entries_first_and_bare_keys_bare() {
        let host = |k: &str| (k == "FROM_HOST").then(|| "h".to_string());
        // (image, given, Config.Env)
        let cases: &[(&[&str], &[&str], &[&str])] = &[
            (&["PATH=/bin"], &[], &["PATH=/bin"]),
            (
                &["PATH=/bin", "A=1", "B=2"],
                &["B=3", "FROM_HOST", "MISSING", "C=x=y"],
                &["B=3", "FROM_HOST=h", "MISSING", "C=x=y", "PATH=/bin", "A=1"],
            ),
            (&["A=1", "PATH=/bin"], &["A"], &["A", "PATH=/bin"]),
            (
                &["PATH=/bin"],
                &["Blank=", "Foo"],
                &["Blank=", "Foo", "PATH=/bin"],
            ),
            (&[], &["A=1"], &["A=1", &format!("PATH={DEFAULT_PATH}")]),
        ];
        for (image, given, want) in cases {
            assert_eq!(config_env(&s(image), &s(given), host), s(want), "{given:?}");
        }
    }

    #[test]
    fn process_env_is_dockerds_merge() {
        let p = format!("PATH={DEFAULT_PATH}");
        // (Config.Env, tty, links, the process's environment)
        type Case<'a> = (&'a [&'a str], bool, &'a [&'a str], &'a [&'a str]);
        let cases: &[Case] = &[
            (&[], false, &[], &[&p, "HOSTNAME=h"]),
            (&[], true, &[], &[&p, "HOSTNAME=h", "TERM=xterm"]),
            (
                &["A=1", "PATH=/bin", "HOSTNAME=x"],
                false,
                &[],
                &["PATH=/bin", "HOSTNAME=x", "A=1"],
            ),
            (&["Foo", "A=1", "PATH"], false, &[], &["HOSTNAME=h", "A=1"]),
            (
                &["L_NAME=mine"],
                false,
                &["L_NAME=/c/l", "L_ENV_X=1"],
                &[&p, "HOSTNAME=h", "L_NAME=mine", "L_ENV_X=1"],
            ),
            (&["A=1", "A=2"], false, &[], &[&p, "HOSTNAME=h", "A=2"]),
        ];
        for (config, tty, links, want) in cases {
            let got = process_env(&s(config), "h", *tty, &s(links));
            assert_eq!(got, s(want), "{config:?}");
        }
    }

    #[test]
    fn env_file_lines() {
        assert_eq!(
            parse_env_file("# c\nA=1\n\n  B\nC=with space\n"),
            s(&["A=1", "B", "C=with space"])
        );
    }

    #[test]
    fn workdir_user_signal() {
        let mut c = RuntimeConfig::default();
        assert_eq!(workdir(&c, None).unwrap(), "/");
        c.working_dir = Some("/app".into());
        assert_eq!(workdir(&c, None).unwrap(), "/app");
        assert_eq!(workdir(&c, Some("/x")).unwrap(), "/x");
        assert!(workdir(&c, Some("rel")).is_err());
        assert_eq!(user(&c, None), "0");
        c.user = Some("nobody".into());
        assert_eq!(user(&c, None), "nobody");
        assert_eq!(user(&c, Some("1:2")), "1:2");
        for (name, sig) in [
            ("SIGTERM", libc::SIGTERM),
            ("quit", libc::SIGQUIT),
            ("USR1", libc::SIGUSR1),
            ("9", libc::SIGKILL),
            ("SIGRTMIN+3", 37),
        ] {
            assert_eq!(parse_signal(name).unwrap(), sig, "{name}");
        }
        assert!(parse_signal("SIGNOPE").is_err());
        assert!(parse_signal("99").is_err());
        assert_eq!(stop_signal(&c).unwrap(), "SIGTERM");
        c.stop_signal = Some("SIGUSR1".into());
        assert_eq!(stop_signal(&c).unwrap(), "SIGUSR1");
    }

    #[test]
    fn image_volumes_fill_in() {
        let c = RuntimeConfig {
            volumes: Some(
                [
                    ("/data".to_string(), Default::default()),
                    ("/logs".to_string(), Default::default()),
                ]
                .into_iter()
                .collect(),
            ),
            ..Default::default()
        };
        let flags = vec![MountSpec::Tmpfs {
            target: "/data".into(),
            size_bytes: None,
        }];
        let got = with_image_volumes(&c, flags.clone());
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], flags[0]);
        assert_eq!(
            got[1],
            MountSpec::Volume {
                name: None,
                target: "/logs".into(),
                readonly: false
            }
        );
    }
}
