//! Becoming the spec's user: resolve it from the root's own passwd/group files, then drop
//! privileges in the one order that works (capabilities, groups, gid, uid last).

use std::path::Path;

use super::devices::DEFAULT_CAPS;
use super::error::StepError;
use super::syscalls::Syscalls;
use crate::util::passwd::{parse_group, parse_passwd, resolve_user, ExecUser, UserError};

/// Resolves `spec_user` against `<root>/etc/passwd` and `<root>/etc/group`; a missing file
/// counts as empty (numeric ids still work, names do not).
pub fn lookup(root: &Path, spec_user: &str) -> Result<ExecUser, UserError> {
    let read =
        |name: &str| std::fs::read_to_string(root.join("etc").join(name)).unwrap_or_default();
    resolve_user(
        spec_user,
        &parse_passwd(&read("passwd")),
        &parse_group(&read("group")),
    )
}

/// Drops to `user`. `setgroups` and `setgid` need privilege, so `setuid` comes last.
/// `setgroups: false` skips the supplementary groups (a user namespace that denies them).
pub fn switch_to(sys: &impl Syscalls, user: &ExecUser, setgroups: bool) -> Result<(), StepError> {
    let here = Path::new("/");
    sys.drop_bounding_caps(DEFAULT_CAPS)
        .map_err(|e| StepError::new("drop capabilities", here, e))?;
    if setgroups {
        sys.setgroups(&user.additional_gids)
            .map_err(|e| StepError::new("setgroups", here, e))?;
    }
    sys.setresgid(user.gid)
        .map_err(|e| StepError::new("setresgid", here, e))?;
    sys.setresuid(user.uid)
        .map_err(|e| StepError::new("setresuid", here, e))?;
    Ok(())
}

/// The process environment: the spec's, plus `HOME` from passwd when the spec has none.
pub fn environment(env: &[String], user: &ExecUser) -> Vec<String> {
    let mut out = env.to_vec();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        out.push(format!("HOME={}", user.home));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::recording::{Call, Recording};

    #[test]
    fn privileges_drop_in_order() {
        let sys = Recording::new();
        let user = ExecUser {
            uid: 1000,
            gid: 1000,
            additional_gids: vec![27, 100],
            home: "/home/app".into(),
        };
        switch_to(&sys, &user, true).unwrap();
        assert_eq!(
            sys.calls(),
            vec![
                Call::DropBoundingCaps(DEFAULT_CAPS.to_vec()),
                Call::Setgroups(vec![27, 100]),
                Call::Setresgid(1000),
                Call::Setresuid(1000),
            ]
        );
    }

    #[test]
    fn failing_setgid_stops_before_setuid() {
        let sys = Recording::new().fail_on(|c| matches!(c, Call::Setresgid(_)));
        let user = ExecUser {
            uid: 5,
            gid: 6,
            additional_gids: vec![],
            home: "/".into(),
        };
        let err = switch_to(&sys, &user, true).unwrap_err();
        assert_eq!(err.step, "setresgid");
        assert!(!sys.calls().contains(&Call::Setresuid(5)));
    }

    #[test]
    fn home_is_added_only_when_missing() {
        let user = ExecUser {
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            home: "/root".into(),
        };
        let cases: &[(&[&str], &[&str])] = &[
            (&["A=1"], &["A=1", "HOME=/root"]),
            (&["HOME=/x", "A=1"], &["HOME=/x", "A=1"]),
            (&[], &["HOME=/root"]),
        ];
        for (env, want) in cases {
            let env: Vec<String> = env.iter().map(|s| s.to_string()).collect();
            assert_eq!(environment(&env, &user), *want, "env {env:?}");
        }
    }
}
