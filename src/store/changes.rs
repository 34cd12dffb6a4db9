//! `import --change` / `-c`: one Dockerfile config instruction (CMD, ENTRYPOINT, ENV, WORKDIR,
//! USER, EXPOSE, LABEL, STOPSIGNAL, VOLUME, SHELL, ONBUILD) applied to an image config. A small
//! parser of its own: JSON (exec) and shell forms, `k=v` pairs with quotes; no variable
//! expansion.

use std::collections::BTreeMap;

use super::config::{Empty, RuntimeConfig};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("invalid --change `{change}`: {reason}")]
    Invalid { change: String, reason: String },
    #[error("invalid --change `{change}`: {instruction} is not supported here")]
    Unsupported { change: String, instruction: String },
}

/// Applies one `--change` line to `cfg`.
pub fn apply_change(cfg: &mut RuntimeConfig, change: &str) -> Result<(), ChangeError> {
    let invalid = |reason: &str| ChangeError::Invalid {
        change: change.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = change.trim();
    let (instr, rest) = match trimmed.split_once(|c: char| c.is_whitespace()) {
        Some((i, r)) => (i, r.trim()),
        None => (trimmed, ""),
    };
    let upper = instr.to_ascii_uppercase();
    if rest.is_empty() && upper != "CMD" && upper != "ENTRYPOINT" {
        return Err(invalid(&format!("{upper} requires at least one argument")));
    }
    match upper.as_str() {
        "CMD" => cfg.cmd = Some(command(rest, cfg.shell.as_deref())),
        "ENTRYPOINT" => cfg.entrypoint = Some(command(rest, cfg.shell.as_deref())),
        "SHELL" => {
            let v = json_array(rest).ok_or_else(|| invalid("SHELL requires a JSON array"))?;
            if v.is_empty() {
                return Err(invalid("SHELL requires at least one argument"));
            }
            cfg.shell = Some(v);
        }
        "ENV" => {
            let env = cfg.env.get_or_insert_with(Vec::new);
            for (k, v) in key_values(rest, true).map_err(|r| invalid(&r))? {
                let prefix = format!("{k}=");
                env.retain(|e| !e.starts_with(&prefix));
                env.push(format!("{k}={v}"));
            }
        }
        "LABEL" => {
            let labels = cfg.labels.get_or_insert_with(BTreeMap::new);
            for (k, v) in key_values(rest, false).map_err(|r| invalid(&r))? {
                labels.insert(k, v);
            }
        }
        "WORKDIR" => {
            let w = unquote_single(rest);
            let joined = if w.starts_with('/') {
                w
            } else {
                let base = cfg.working_dir.clone().unwrap_or_else(|| "/".into());
                format!("{}/{}", base.trim_end_matches('/'), w)
            };
            cfg.working_dir = Some(joined);
        }
        "USER" => cfg.user = Some(unquote_single(rest)),
        "STOPSIGNAL" => cfg.stop_signal = Some(unquote_single(rest)),
        "EXPOSE" => {
            let ports = cfg.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in words(rest).map_err(|r| invalid(&r))? {
                let (num, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
                let ok = !num.is_empty()
                    && num.split('-').all(|n| n.parse::<u16>().is_ok())
                    && matches!(proto.to_ascii_lowercase().as_str(), "tcp" | "udp" | "sctp");
                if !ok {
                    return Err(invalid(&format!("invalid port {p:?}")));
                }
                ports.insert(format!("{num}/{}", proto.to_ascii_lowercase()), Empty {});
            }
        }
        "VOLUME" => {
            let vols = match json_array(rest) {
                Some(v) => v,
                None => words(rest).map_err(|r| invalid(&r))?,
            };
            let map = cfg.volumes.get_or_insert_with(BTreeMap::new);
            for v in vols {
                if v.is_empty() {
                    return Err(invalid("VOLUME specified can not be an empty string"));
                }
                map.insert(v, Empty {});
            }
        }
        "ONBUILD" => cfg
            .on_build
            .get_or_insert_with(Vec::new)
            .push(rest.to_string()),
        _ => {
            return Err(ChangeError::Unsupported {
                change: change.to_string(),
                instruction: instr.to_string(),
            })
        }
    }
    Ok(())
}

/// Exec form when the argument is a JSON string array, else shell form run by the config's
/// shell (`/bin/sh -c` by default).
fn command(rest: &str, shell: Option<&[String]>) -> Vec<String> {
    if let Some(v) = json_array(rest) {
        return v;
    }
    if rest.is_empty() {
        return Vec::new();
    }
    let mut v: Vec<String> = match shell {
        Some(s) => s.to_vec(),
        None => vec!["/bin/sh".into(), "-c".into()],
    };
    v.push(rest.to_string());
    v
}

fn json_array(s: &str) -> Option<Vec<String>> {
    if !s.trim_start().starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(s).ok()
}

fn unquote_single(s: &str) -> String {
    match words(s) {
        Ok(w) if w.len() == 1 => w.into_iter().next().unwrap_or_default(),
        _ => s.to_string(),
    }
}

/// Splits on unquoted whitespace; `"…"` and `'…'` group, backslash escapes the next character
/// (not inside single quotes).
fn words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return Err("unterminated double quote".into()),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(n @ ('"' | '\\' | '$' | '`')) => cur.push(n),
                            Some(n) => {
                                cur.push('\\');
                                cur.push(n);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(x) => cur.push(x),
                    }
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return Err("unterminated single quote".into()),
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                    }
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// `k=v k2="v 2"`; with `legacy`, `KEY value with spaces` (ENV's old one-pair form) too.
fn key_values(s: &str, legacy: bool) -> Result<Vec<(String, String)>, String> {
    let first = s.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        if !legacy {
            return Err("expected key=value pairs".into());
        }
        let (k, v) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
        let v = v.trim();
        if v.is_empty() {
            return Err(format!("{k} needs a value"));
        }
        return Ok(vec![(k.to_string(), v.to_string())]);
    }
    words(s)?
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("{w:?} is not key=value")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(changes: &[&str]) -> RuntimeConfig {
        let mut c = RuntimeConfig::default();
        for ch in changes {
            apply_change(&mut c, ch).unwrap_or_else(|e| panic!("{ch}: {e}"));
        }
        c
    }

    fn s(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|x| x.to_string()).collect())
    }

    type Case = (&'static [&'static str], fn(&RuntimeConfig) -> bool);

    #[test]
    fn instructions_table() {
        let cases: Vec<Case> = vec![
            (&[r#"CMD ["sh"]"#], |c| c.cmd == s(&["sh"])),
            (&["CMD echo hi"], |c| {
                c.cmd == s(&["/bin/sh", "-c", "echo hi"])
            }),
            (&["cmd [\"a\", \"b c\"]"], |c| c.cmd == s(&["a", "b c"])),
            (&["CMD [not json"], |c| {
                c.cmd == s(&["/bin/sh", "-c", "[not json"])
            }),
            (&[r#"SHELL ["/bin/bash","-e","-c"]"#, "CMD x"], |c| {
                c.cmd == s(&["/bin/bash", "-e", "-c", "x"])
            }),
            (&[r#"ENTRYPOINT ["/bin/app","--flag"]"#], |c| {
                c.entrypoint == s(&["/bin/app", "--flag"])
            }),
            (&["ENTRYPOINT top -b"], |c| {
                c.entrypoint == s(&["/bin/sh", "-c", "top -b"])
            }),
            (&["ENV A=1 B=\"two words\" C=x\\ y"], |c| {
                c.env == s(&["A=1", "B=two words", "C=x y"])
            }),
            (&["ENV A=1", "ENV A=2"], |c| c.env == s(&["A=2"])),
            (&["ENV LEGACY some value"], |c| {
                c.env == s(&["LEGACY=some value"])
            }),
            (&["WORKDIR /srv", "WORKDIR app"], |c| {
                c.working_dir.as_deref() == Some("/srv/app")
            }),
            (&["WORKDIR rel"], |c| {
                c.working_dir.as_deref() == Some("/rel")
            }),
            (&["USER 1000:1000"], |c| {
                c.user.as_deref() == Some("1000:1000")
            }),
            (&["STOPSIGNAL SIGQUIT"], |c| {
                c.stop_signal.as_deref() == Some("SIGQUIT")
            }),
            (&["EXPOSE 80 443/UDP 8000-8001"], |c| {
                let p = c.exposed_ports.as_ref().unwrap();
                p.keys().cloned().collect::<Vec<_>>() == ["443/udp", "80/tcp", "8000-8001/tcp"]
            }),
            (&["LABEL a=1 'b c'=\"d e\""], |c| {
                let l = c.labels.as_ref().unwrap();
                l["a"] == "1" && l["b c"] == "d e"
            }),
            (&[r#"VOLUME ["/data", "/logs"]"#, "VOLUME /x"], |c| {
                c.volumes.as_ref().unwrap().len() == 3
            }),
            (&["ONBUILD RUN make"], |c| c.on_build == s(&["RUN make"])),
        ];
        for (changes, check) in cases {
            let c = apply(changes);
            assert!(check(&c), "{changes:?} gave {c:?}");
        }
    }

    #[test]
    fn bad_changes_are_rejected_with_the_change_named() {
        for bad in [
            "FROM busybox",
            "RUN true",
            "ENV",
            "ENV A=\"unterminated",
            "LABEL novalue",
            "EXPOSE eighty",
            "EXPOSE 80/xyz",
            "SHELL sh -c",
            "USER",
        ] {
            let mut c = RuntimeConfig::default();
            let e = apply_change(&mut c, bad).expect_err(bad);
            assert!(e.to_string().contains(bad), "{e}");
        }
    }
}
