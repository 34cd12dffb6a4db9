//! Resolving users and groups the way Docker does, from the *image's* `/etc/passwd` and
//! `/etc/group` (never the host's). Pure: callers read the files and pass their text.
//!
//! Two rules differ and both are needed:
//! - `USER` / `strata run -u` ([`resolve_user`]): a name must exist; a numeric uid that is not in
//!   passwd is used as is with gid 0; without an explicit group the primary gid comes from passwd
//!   and supplementary groups are those listing the user as a member.
//! - `COPY --chown` ([`resolve_chown`]): a user without a group uses the same number for the gid
//!   (Docker's documented behaviour), not the user's primary group.

/// One line of an `/etc/passwd` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
}

/// One line of an `/etc/group` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// The identity a process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// `$HOME` for the process: the passwd entry's home, or `/` when the user is not listed.
    pub home: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
    #[error("invalid user specification {0:?}: expected USER[:GROUP] with names or numeric ids")]
    Invalid(String),
}

/// Parses passwd text; malformed lines and comments are skipped, as libc does.
pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 4 || f[0].is_empty() {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].trim().parse().ok()?,
                gid: f[3].trim().parse().ok()?,
                home: f.get(5).unwrap_or(&"").to_string(),
                shell: f.get(6).unwrap_or(&"").to_string(),
            })
        })
        .collect()
}

/// Parses group text; malformed lines and comments are skipped.
pub fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 3 || f[0].is_empty() {
                return None;
            }
            let members = f
                .get(3)
                .map(|m| {
                    m.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            Some(GroupEntry {
                name: f[0].to_string(),
                gid: f[2].trim().parse().ok()?,
                members,
            })
        })
        .collect()
}

fn split_spec(spec: &str) -> Result<(&str, Option<&str>), UserError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if user.is_empty() || group.is_some_and(|g| g.is_empty() || g.contains(':')) {
        return Err(UserError::Invalid(spec.to_string()));
    }
    Ok((user, group))
}

fn numeric(s: &str) -> Option<u32> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

fn find_group(group: &str, groups: &[GroupEntry]) -> Result<u32, UserError> {
    // A name that is listed wins over reading it as a number, as in libc lookups.
    if let Some(g) = groups.iter().find(|g| g.name == group) {
        return Ok(g.gid);
    }
    numeric(group).ok_or_else(|| UserError::NoGroup(group.to_string()))
}

/// Resolves `USER`-style `user[:group]` for running a process.
pub fn resolve_user(
    spec: &str,
    passwd: &[PasswdEntry],
    groups: &[GroupEntry],
) -> Result<ExecUser, UserError> {
    let (user, group) = split_spec(spec)?;
    let entry = passwd
        .iter()
        .find(|p| p.name == user)
        .or_else(|| numeric(user).and_then(|uid| passwd.iter().find(|p| p.uid == uid)));
    let (uid, primary_gid, home, name) = match (entry, numeric(user)) {
        (Some(p), _) => (p.uid, p.gid, p.home.clone(), Some(p.name.as_str())),
        (None, Some(uid)) => (uid, 0, "/".to_string(), None),
        (None, None) => return Err(UserError::NoUser(user.to_string())),
    };
    let home = if home.is_empty() {
        "/".to_string()
    } else {
        home
    };
    let (gid, additional_gids) = match group {
        Some(g) => (find_group(g, groups)?, Vec::new()),
        None => {
            let mut extra: Vec<u32> = match name {
                Some(n) => groups
                    .iter()
                    .filter(|g| g.members.iter().any(|m| m == n))
                    .map(|g| g.gid)
                    .filter(|&g| g != primary_gid)
                    .collect(),
                None => Vec::new(),
            };
            extra.dedup();
            (primary_gid, extra)
        }
    };
    Ok(ExecUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

/// Docker's `--group-add` entries (group names or numeric ids) as gids over `user`'s
/// supplementary groups, each once and in order; a name that is not in `groups` (and not a
/// number) is an error, as dockerd refuses it at start.
pub fn add_groups(
    user: &mut ExecUser,
    names: &[String],
    groups: &[GroupEntry],
) -> Result<(), UserError> {
    for name in names {
        let gid = find_group(name, groups)?;
        if !user.additional_gids.contains(&gid) {
            user.additional_gids.push(gid);
        }
    }
    Ok(())
}

/// Resolves a `COPY --chown=user[:group]` value to numeric ids.
pub fn resolve_chown(
    spec: &str,
    passwd: &[PasswdEntry],
    groups: &[GroupEntry],
) -> Result<(u32, u32), UserError> {
    let (user, group) = split_spec(spec)?;
    let uid = match numeric(user) {
        Some(uid) => uid,
        None => passwd
            .iter()
            .find(|p| p.name == user)
            .map(|p| p.uid)
            .ok_or_else(|| UserError::NoUser(user.to_string()))?,
    };
    let gid = match group {
        Some(g) => match numeric(g) {
            Some(gid) => gid,
            None => find_group(g, groups)?,
        },
        None => uid,
    };
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        # a comment\n\
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
        broken line\n\
        app:x:1000:1000:App:/home/app:/bin/sh\n\
        _apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n\
        nohome:x:1001:1001::\n";
    const GROUP: &str = "root:x:0:\n\
        daemon:x:1:\n\
        wheel:x:10:app,root\n\
        audio:x:29:app\n\
        app:x:1000:\n\
        1234:x:77:\n\
        nogroup:x:65534:\n";

    fn p() -> Vec<PasswdEntry> {
        parse_passwd(PASSWD)
    }
    fn g() -> Vec<GroupEntry> {
        parse_group(GROUP)
    }

    #[test]
    fn parses_and_skips_bad_lines() {
        assert_eq!(p().len(), 5);
        assert_eq!(g().len(), 7);
        assert_eq!(g()[2].members, vec!["app", "root"]);
    }

    #[test]
    fn group_add_appends_named_and_numeric_groups_once() {
        let mut u = resolve_user("app", &p(), &g()).unwrap();
        let names = ["audio", "4000", "wheel", "4000"].map(String::from);
        add_groups(&mut u, &names, &g()).unwrap();
        assert_eq!(u.additional_gids, vec![10, 29, 4000]);
        let err = add_groups(&mut u, &["nosuch".into()], &g()).unwrap_err();
        assert_eq!(err, UserError::NoGroup("nosuch".into()));
    }

    #[test]
    fn resolve_user_table() {
        // (spec, uid, gid, additional, home)
        let ok: &[(&str, u32, u32, &[u32], &str)] = &[
            ("root", 0, 0, &[10], "/root"),
            ("0", 0, 0, &[10], "/root"),
            ("app", 1000, 1000, &[10, 29], "/home/app"),
            ("1000", 1000, 1000, &[10, 29], "/home/app"),
            ("app:audio", 1000, 29, &[], "/home/app"),
            ("app:0", 1000, 0, &[], "/home/app"),
            ("_apt", 42, 65534, &[], "/nonexistent"),
            ("4242", 4242, 0, &[], "/"),
            ("4242:4243", 4242, 4243, &[], "/"),
            ("nohome", 1001, 1001, &[], "/"),
            // A group literally named "1234" is found by name before the number is used.
            ("app:1234", 1000, 77, &[], "/home/app"),
        ];
        for &(spec, uid, gid, add, home) in ok {
            let u = resolve_user(spec, &p(), &g()).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(
                (u.uid, u.gid, u.additional_gids.as_slice(), u.home.as_str()),
                (uid, gid, add, home),
                "{spec}"
            );
        }
    }

    #[test]
    fn resolve_user_errors() {
        let cases: &[(&str, UserError)] = &[
            ("nobody", UserError::NoUser("nobody".into())),
            ("app:nogrp", UserError::NoGroup("nogrp".into())),
            ("", UserError::Invalid("".into())),
            (":0", UserError::Invalid(":0".into())),
            ("app:", UserError::Invalid("app:".into())),
            ("a:b:c", UserError::Invalid("a:b:c".into())),
        ];
        for (spec, want) in cases {
            assert_eq!(&resolve_user(spec, &p(), &g()).unwrap_err(), want, "{spec}");
        }
        assert_eq!(
            UserError::NoUser("x".into()).to_string(),
            "unable to find user x: no matching entries in passwd file"
        );
    }

    #[test]
    fn resolve_chown_table() {
        let ok: &[(&str, (u32, u32))] = &[
            ("app", (1000, 1000)),
            ("daemon", (1, 1)),
            ("_apt", (42, 42)), // not the primary group 65534: Docker uses the uid
            ("55", (55, 55)),
            ("10:11", (10, 11)),
            ("app:audio", (1000, 29)),
            ("4242:wheel", (4242, 10)),
        ];
        for &(spec, want) in ok {
            assert_eq!(resolve_chown(spec, &p(), &g()).unwrap(), want, "{spec}");
        }
        assert_eq!(
            resolve_chown("ghost", &p(), &g()).unwrap_err(),
            UserError::NoUser("ghost".into())
        );
        assert_eq!(
            resolve_chown("app:ghosts", &p(), &g()).unwrap_err(),
            UserError::NoGroup("ghosts".into())
        );
    }
}
