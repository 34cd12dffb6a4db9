//! Becoming the spec's user: resolve it from the root's own passwd/group files, then drop
//! privileges in the one order that works: keyring and capability bounds first, groups and gid,
//! the seccomp filter while `CAP_SYS_ADMIN` still allows loading it, uid, then the final sets.

use std::path::Path;

use super::error::StepError;
use super::security::Privileges;
use super::syscalls::Syscalls;
use crate::util::passwd::{
    add_groups, parse_group, parse_passwd, resolve_user, ExecUser, UserError,
};

/// Resolves `spec_user`, with the extra groups `group_add` names, against
/// `<root>/etc/passwd` and `<root>/etc/group`; a missing file counts as empty (numeric ids
/// still work, names do not).
pub fn lookup(root: &Path, spec_user: &str, group_add: &[String]) -> Result<ExecUser, UserError> {
    let read =
        |name: &str| std::fs::read_to_string(root.join("etc").join(name)).unwrap_or_default();
    let groups = parse_group(&read("group"));
    let mut user = resolve_user(spec_user, &parse_passwd(&read("passwd")), &groups)?;
    add_groups(&mut user, group_add, &groups)?;
    Ok(user)
}

/// Drops to `user` with `privs`. `setgroups` and `setresgid` need privilege, so they come
/// before `setresuid`; the filter is installed before the capability sets shrink, since
/// without no_new_privs only `CAP_SYS_ADMIN` may install one (and the filter allows the calls
/// that follow it). `setgroups: false` skips the supplementary groups (a user namespace that
/// denies them).
pub fn switch_to(
    sys: &impl Syscalls,
    user: &ExecUser,
    setgroups: bool,
    privs: &Privileges<'_>,
) -> Result<(), StepError> {
    let here = Path::new("/");
    sys.join_new_session_keyring()
        .map_err(|e| StepError::new("join a new session keyring", here, e))?;
    sys.drop_bounding_caps(privs.caps)
        .map_err(|e| StepError::new("drop capabilities", here, e))?;
    sys.clear_ambient_caps()
        .map_err(|e| StepError::new("clear ambient capabilities", here, e))?;
    if setgroups {
        sys.setgroups(&user.additional_gids)
            .map_err(|e| StepError::new("setgroups", here, e))?;
    }
    sys.setresgid(user.gid)
        .map_err(|e| StepError::new("setresgid", here, e))?;
    if privs.no_new_privs {
        sys.set_no_new_privs()
            .map_err(|e| StepError::new("set no_new_privs", here, e))?;
    }
    if !privs.seccomp.is_empty() {
        sys.install_seccomp(privs.seccomp)
            .map_err(|e| StepError::new("install the seccomp filter", here, e))?;
    }
    sys.setresuid(user.uid)
        .map_err(|e| StepError::new("setresuid", here, e))?;
    // Root keeps exactly its set; any other uid has none left after `setresuid`, and an
    // `execve` without file capabilities gives it none either.
    let caps: &[u32] = if user.uid == 0 { privs.caps } else { &[] };
    sys.set_caps(caps)
        .map_err(|e| StepError::new("set capabilities", here, e))?;
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
    use crate::sandbox::devices::DEFAULT_CAPS;
    use crate::sandbox::recording::{Call, Recording};

    const DEFAULT: Privileges<'static> = Privileges {
        caps: DEFAULT_CAPS,
        no_new_privs: false,
        seccomp: &[],
    };

    #[test]
    fn privileges_drop_in_order() {
        let sys = Recording::new();
        let user = ExecUser {
            uid: 1000,
            gid: 1000,
            additional_gids: vec![27, 100],
            home: "/home/app".into(),
        };
        let filter = vec![vec![libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: 0x7fff_0000,
        }]];
        let privs = Privileges {
            no_new_privs: true,
            seccomp: &filter,
            ..DEFAULT
        };
        switch_to(&sys, &user, true, &privs).unwrap();
        assert_eq!(
            sys.calls(),
            vec![
                Call::JoinNewSessionKeyring,
                Call::DropBoundingCaps(DEFAULT_CAPS.to_vec()),
                Call::ClearAmbientCaps,
                Call::Setgroups(vec![27, 100]),
                Call::Setresgid(1000),
                Call::SetNoNewPrivs,
                Call::InstallSeccomp(1),
                Call::Setresuid(1000),
                Call::SetCaps(vec![]),
            ]
        );
    }

    #[test]
    fn root_keeps_exactly_its_set_and_no_filter_means_no_install() {
        let sys = Recording::new();
        let user = ExecUser {
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            home: "/root".into(),
        };
        switch_to(&sys, &user, false, &DEFAULT).unwrap();
        let calls = sys.calls();
        assert_eq!(calls.last(), Some(&Call::SetCaps(DEFAULT_CAPS.to_vec())));
        assert!(!calls.iter().any(|c| matches!(
            c,
            Call::InstallSeccomp(_) | Call::SetNoNewPrivs | Call::Setgroups(_)
        )));
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
        let err = switch_to(&sys, &user, true, &DEFAULT).unwrap_err();
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
