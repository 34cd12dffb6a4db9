//! Linux capability names and numbers (`CAP_CHOWN` = 0 … `CAP_CHECKPOINT_RESTORE` = 40),
//! shared by seccomp's `includes.caps` and strata's `--cap-add`/`--cap-drop`.

/// Indexed by capability number, as in `<linux/capability.h>`.
const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The highest capability number this table knows (`CAP_CHECKPOINT_RESTORE`).
pub const CAP_LAST_CAP: u32 = 40;

/// The 14 capabilities Docker gives a container unless told otherwise: CHOWN, DAC_OVERRIDE,
/// FOWNER, FSETID, KILL, SETGID, SETUID, SETPCAP, NET_BIND_SERVICE, NET_RAW, SYS_CHROOT,
/// MKNOD, AUDIT_WRITE, SETFCAP.
pub const DOCKER_DEFAULT_CAPS: [u32; 14] = [0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31];

/// The number of a capability named the way Docker accepts it: with or without the `CAP_`
/// prefix, in any case (`CAP_SYS_ADMIN`, `sys_admin`, `Sys_Admin`).
pub fn cap_number(name: &str) -> Option<u32> {
    let bare = strip_cap_prefix(name);
    NAMES
        .iter()
        .position(|full| full[4..].eq_ignore_ascii_case(bare))
        .map(|index| index as u32)
}

/// The canonical `CAP_…` name of a capability number.
pub fn cap_name(number: u32) -> Option<&'static str> {
    NAMES.get(number as usize).copied()
}

fn strip_cap_prefix(name: &str) -> &str {
    match name.get(..4) {
        Some(prefix) if prefix.eq_ignore_ascii_case("CAP_") => &name[4..],
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_agree_for_every_capability() {
        for number in 0..=CAP_LAST_CAP {
            let name = cap_name(number).unwrap();
            assert!(name.starts_with("CAP_"), "{name}");
            assert_eq!(cap_number(name), Some(number), "{name}");
        }
        assert_eq!(cap_name(CAP_LAST_CAP + 1), None);
    }

    #[test]
    fn accepts_the_spellings_docker_accepts() {
        let cases: &[(&str, Option<u32>)] = &[
            ("CAP_SYS_ADMIN", Some(21)),
            ("SYS_ADMIN", Some(21)),
            ("sys_admin", Some(21)),
            ("cap_sys_admin", Some(21)),
            ("Cap_Sys_Ptrace", Some(19)),
            ("chown", Some(0)),
            ("CAP_CHECKPOINT_RESTORE", Some(40)),
            ("bpf", Some(39)),
            ("perfmon", Some(38)),
            ("CAP_", None),
            ("", None),
            ("SYS_ADMINX", None),
            ("CAP_CAP_CHOWN", None),
            ("ALL", None),
        ];
        for (name, want) in cases {
            assert_eq!(cap_number(name), *want, "{name:?}");
        }
    }

    #[test]
    fn docker_defaults_are_the_documented_fourteen() {
        let names: Vec<_> = DOCKER_DEFAULT_CAPS
            .iter()
            .map(|&n| cap_name(n).unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "CAP_CHOWN",
                "CAP_DAC_OVERRIDE",
                "CAP_FOWNER",
                "CAP_FSETID",
                "CAP_KILL",
                "CAP_SETGID",
                "CAP_SETUID",
                "CAP_SETPCAP",
                "CAP_NET_BIND_SERVICE",
                "CAP_NET_RAW",
                "CAP_SYS_CHROOT",
                "CAP_MKNOD",
                "CAP_AUDIT_WRITE",
                "CAP_SETFCAP",
            ]
        );
    }
}
