//! Real-kernel tests: a forked child sets `PR_SET_NO_NEW_PRIVS` (so no root is needed),
//! installs the compiled programs and probes syscalls; the exit code names the first
//! probe that failed. Probes use arguments the kernel itself would reject differently
//! (EINVAL, ENOENT, …) so an error only counts when it is the filter's.

use std::io;
use std::ptr;

use libc::c_long;

use super::{compile, install, Action, Profile, Program, SyscallRule, DOCKER_DEFAULT_CAPS};

/// A named probe, run in the filtered child; true when the kernel behaved as expected.
type Probe = (&'static str, fn() -> bool);

#[derive(Debug, PartialEq, Eq)]
enum End {
    Exited(i32),
    Signaled(i32),
}

const NO_NEW_PRIVS_FAILED: i32 = 250;
const INSTALL_FAILED: i32 = 251;
const SYS_ADMIN: u32 = 21;
const AF_VSOCK: c_long = 40; // not in libc's musl tables
const PER_BSD: c_long = 6;

/// Forks; the child installs `programs` and runs `probes`, exiting with 0 or the 1-based
/// index of the first failing probe. Everything the child touches is built before fork.
fn run_filtered(programs: &[Program], probes: &[Probe]) -> End {
    // SAFETY: the child only makes raw syscalls and `_exit`s; it never returns into the
    // (multi-threaded) test harness, allocates or takes locks.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: plain prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            exit(NO_NEW_PRIVS_FAILED);
        }
        if install(programs).is_err() {
            exit(INSTALL_FAILED);
        }
        for (index, (_, probe)) in probes.iter().enumerate() {
            if !probe() {
                exit(index as i32 + 1);
            }
        }
        exit(0);
    }
    wait(pid).expect("waitpid")
}

fn assert_probes_pass(programs: &[Program], probes: &[Probe]) {
    match run_filtered(programs, probes) {
        End::Exited(0) => {}
        End::Exited(NO_NEW_PRIVS_FAILED) => panic!("prctl(PR_SET_NO_NEW_PRIVS) failed"),
        End::Exited(INSTALL_FAILED) => panic!("seccomp(SECCOMP_SET_MODE_FILTER) failed"),
        End::Exited(code) => panic!("probe failed: {}", probes[code as usize - 1].0),
        End::Signaled(signal) => panic!("filtered child killed by signal {signal}"),
    }
}

fn exit(code: i32) -> ! {
    // SAFETY: `_exit` ends the process without running the parent's atexit handlers.
    unsafe { libc::_exit(code) }
}

fn wait(pid: libc::pid_t) -> Option<End> {
    let mut status = 0;
    // SAFETY: `status` is a valid out-pointer for the call.
    if unsafe { libc::waitpid(pid, &mut status, 0) } != pid {
        return None;
    }
    if libc::WIFEXITED(status) {
        Some(End::Exited(libc::WEXITSTATUS(status)))
    } else {
        Some(End::Signaled(libc::WTERMSIG(status)))
    }
}

/// A raw syscall. Probes pass only integers, null, or pointers to live buffers of the
/// stated length, so the kernel never writes outside memory we own.
fn sys(nr: c_long, args: [c_long; 6]) -> c_long {
    // SAFETY: see above; the kernel validates every argument itself.
    unsafe { libc::syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5]) }
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn fails_with(ret: c_long, want: i32) -> bool {
    ret == -1 && errno() == want
}

fn close(fd: c_long) {
    sys(libc::SYS_close, [fd, 0, 0, 0, 0, 0]);
}

fn socket_works(domain: c_long, kind: c_long) -> bool {
    let fd = sys(libc::SYS_socket, [domain, kind, 0, 0, 0, 0]);
    if fd < 0 {
        return false;
    }
    close(fd);
    true
}

fn socket_refused(domain: c_long, kind: c_long, errno: i32) -> bool {
    let fd = sys(libc::SYS_socket, [domain, kind, 0, 0, 0, 0]);
    if fd >= 0 {
        close(fd);
        return false;
    }
    fails_with(fd, errno)
}

fn keyctl_is_eperm() -> bool {
    fails_with(
        sys(libc::SYS_keyctl, [0x7fff_ffff, 0, 0, 0, 0, 0]),
        libc::EPERM,
    )
}

fn add_key_is_eperm() -> bool {
    fails_with(sys(libc::SYS_add_key, [0; 6]), libc::EPERM)
}

fn request_key_is_eperm() -> bool {
    fails_with(sys(libc::SYS_request_key, [0; 6]), libc::EPERM)
}

fn unshare_user_is_eperm() -> bool {
    let flags = libc::CLONE_NEWUSER as c_long;
    fails_with(sys(libc::SYS_unshare, [flags, 0, 0, 0, 0, 0]), libc::EPERM)
}

fn unshare_user_reaches_kernel() -> bool {
    let flags = libc::CLONE_NEWUSER as c_long;
    let ret = sys(libc::SYS_unshare, [flags, 0, 0, 0, 0, 0]);
    ret == 0 || errno() != libc::EPERM
}

fn clone_newns_is_eperm() -> bool {
    let flags = (libc::CLONE_NEWNS | libc::SIGCHLD) as c_long;
    let ret = sys(libc::SYS_clone, [flags, 0, 0, 0, 0, 0]);
    if ret == 0 {
        exit(0); // the clone went through and this is its child
    }
    if ret > 0 {
        wait(ret as libc::pid_t);
        return false;
    }
    errno() == libc::EPERM
}

fn clone3_is_enosys() -> bool {
    fails_with(sys(libc::SYS_clone3, [0; 6]), libc::ENOSYS)
}

fn clone3_reaches_kernel() -> bool {
    // A zero-sized `clone_args` is the kernel's EINVAL.
    fails_with(sys(libc::SYS_clone3, [0; 6]), libc::EINVAL)
}

fn mount_is_eperm() -> bool {
    let args = [
        c"none".as_ptr() as c_long,
        c"/nonexistent-strata-seccomp-test".as_ptr() as c_long,
        c"tmpfs".as_ptr() as c_long,
        0,
        0,
        0,
    ];
    fails_with(sys(libc::SYS_mount, args), libc::EPERM)
}

fn bpf_is_eperm() -> bool {
    fails_with(sys(libc::SYS_bpf, [0x7fff, 0, 0, 0, 0, 0]), libc::EPERM)
}

fn kcmp_is_eperm() -> bool {
    let pid = sys(libc::SYS_getpid, [0; 6]);
    fails_with(sys(libc::SYS_kcmp, [pid, pid, 0, 0, 0, 0]), libc::EPERM)
}

fn personality_query_works() -> bool {
    sys(libc::SYS_personality, [0xffff_ffff, 0, 0, 0, 0, 0]) >= 0
}

fn personality_query_with_high_garbage_works() -> bool {
    // The kernel reads an `unsigned int`; the filter looks at the same low half.
    let persona = 0x1234_5678_ffff_ffff_u64 as c_long;
    sys(libc::SYS_personality, [persona, 0, 0, 0, 0, 0]) >= 0
}

fn personality_bsd_is_eperm() -> bool {
    fails_with(
        sys(libc::SYS_personality, [PER_BSD, 0, 0, 0, 0, 0]),
        libc::EPERM,
    )
}

fn socket_vsock_is_eperm() -> bool {
    socket_refused(AF_VSOCK, libc::SOCK_STREAM as c_long, libc::EPERM)
}

fn socket_vsock_with_high_bits_is_eperm() -> bool {
    // The kernel reads `int family` = 40; a 64-bit `!= 40` would have let this through.
    socket_refused(
        0x1_0000_0000 | AF_VSOCK,
        libc::SOCK_STREAM as c_long,
        libc::EPERM,
    )
}

fn socket_inet_works() -> bool {
    socket_works(libc::AF_INET as c_long, libc::SOCK_STREAM as c_long)
}

fn getpid_works() -> bool {
    sys(libc::SYS_getpid, [0; 6]) > 0
}

fn pipe_write_read_works() -> bool {
    let mut fds = [0 as libc::c_int; 2];
    if sys(libc::SYS_pipe2, [fds.as_mut_ptr() as c_long, 0, 0, 0, 0, 0]) != 0 {
        return false;
    }
    let sent = *b"seccomp";
    let mut got = [0u8; 7];
    let wrote = sys(
        libc::SYS_write,
        [fds[1] as c_long, sent.as_ptr() as c_long, 7, 0, 0, 0],
    );
    let read = sys(
        libc::SYS_read,
        [fds[0] as c_long, got.as_mut_ptr() as c_long, 7, 0, 0, 0],
    );
    close(fds[0] as c_long);
    close(fds[1] as c_long);
    wrote == 7 && read == 7 && got == sent
}

fn fork_and_exec_true_works() -> bool {
    // SAFETY: the grandchild only calls execve and `_exit`.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let argv = [c"/bin/true".as_ptr(), ptr::null()];
        let envp: [*const libc::c_char; 1] = [ptr::null()];
        // SAFETY: argv and envp are null-terminated arrays of C strings.
        unsafe { libc::execve(argv[0], argv.as_ptr(), envp.as_ptr()) };
        exit(127);
    }
    pid > 0 && wait(pid) == Some(End::Exited(0))
}

fn getcwd_ret() -> c_long {
    let mut buf = [0u8; 256];
    sys(
        libc::SYS_getcwd,
        [buf.as_mut_ptr() as c_long, buf.len() as c_long, 0, 0, 0, 0],
    )
}

fn getcwd_is_eacces() -> bool {
    fails_with(getcwd_ret(), libc::EACCES)
}

fn getcwd_runs() -> bool {
    getcwd_ret() >= 0
}

/// What Docker's default profile refuses, each probe distinguishing the filter's errno
/// from the kernel's own answer to the same call made by root.
const DEFAULT_PROFILE_REFUSALS: &[Probe] = &[
    ("keyctl is EPERM", keyctl_is_eperm),
    ("add_key is EPERM", add_key_is_eperm),
    ("request_key is EPERM", request_key_is_eperm),
    ("unshare(CLONE_NEWUSER) is EPERM", unshare_user_is_eperm),
    ("clone(CLONE_NEWNS|SIGCHLD) is EPERM", clone_newns_is_eperm),
    ("clone3 is ENOSYS", clone3_is_enosys),
    ("mount is EPERM", mount_is_eperm),
    ("bpf is EPERM", bpf_is_eperm),
    ("kcmp is EPERM", kcmp_is_eperm),
    ("personality(PER_BSD) is EPERM", personality_bsd_is_eperm),
    ("socket(AF_VSOCK) is EPERM", socket_vsock_is_eperm),
    (
        "socket(AF_VSOCK | 1<<32) is EPERM",
        socket_vsock_with_high_bits_is_eperm,
    ),
];

/// What Docker's default profile lets through.
const DEFAULT_PROFILE_ALLOWS: &[Probe] = &[
    ("personality(0xffffffff) works", personality_query_works),
    (
        "personality(0xffffffff) with upper garbage works",
        personality_query_with_high_garbage_works,
    ),
    ("socket(AF_INET, SOCK_STREAM) works", socket_inet_works),
    ("getpid works", getpid_works),
    ("pipe write/read works", pipe_write_read_works),
    ("fork + execve(/bin/true) works", fork_and_exec_true_works),
];

#[test]
fn docker_default_profile_with_default_caps() {
    let programs = compile(&Profile::docker_default(), &DOCKER_DEFAULT_CAPS).unwrap();
    assert_probes_pass(&programs, DEFAULT_PROFILE_REFUSALS);
    assert_probes_pass(&programs, DEFAULT_PROFILE_ALLOWS);
}

/// Control: without a filter, as root, every refusal probe fails, so a passing probe above
/// was the filter's doing and not the kernel refusing the call anyway.
#[test]
fn refusal_probes_fail_without_a_filter() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root, where the kernel itself allows these calls");
        return;
    }
    for probe in DEFAULT_PROFILE_REFUSALS {
        let end = run_filtered(&[], std::slice::from_ref(probe));
        assert_eq!(end, End::Exited(1), "{} passed with no filter", probe.0);
    }
}

#[test]
fn docker_default_profile_with_sys_admin() {
    let mut caps = DOCKER_DEFAULT_CAPS.to_vec();
    caps.push(SYS_ADMIN);
    let programs = compile(&Profile::docker_default(), &caps).unwrap();
    assert_probes_pass(
        &programs,
        &[
            ("clone3 reaches the kernel", clone3_reaches_kernel),
            (
                "unshare(CLONE_NEWUSER) reaches the kernel",
                unshare_user_reaches_kernel,
            ),
            ("keyctl is still EPERM", keyctl_is_eperm),
            ("getpid works", getpid_works),
        ],
    );
}

#[test]
fn custom_profile_denying_getcwd() {
    let profile = Profile::from_json(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
    )
    .unwrap();
    let programs = compile(&profile, &[]).unwrap();
    assert_probes_pass(
        &programs,
        &[
            ("getcwd is EACCES", getcwd_is_eacces),
            ("getpid works", getpid_works),
            ("fork + execve(/bin/true) works", fork_and_exec_true_works),
        ],
    );
}

#[test]
fn overlapping_actions_resolve_by_precedence_then_profile_order() {
    let mut profile = Profile::docker_default();
    let rule = |name: &str, action| SyscallRule {
        names: vec![name.to_string()],
        action,
        args: Vec::new(),
        includes: Default::default(),
        excludes: Default::default(),
        comment: String::new(),
    };
    // getcwd is also in Docker's ALLOW list: ERRNO outranks ALLOW, and of two errnos the
    // one written first wins.
    profile.syscalls.push(rule("getcwd", Action::Errno(13)));
    profile.syscalls.push(rule("getcwd", Action::Errno(22)));
    let programs = compile(&profile, &DOCKER_DEFAULT_CAPS).unwrap();
    assert_probes_pass(
        &programs,
        &[
            ("getcwd is EACCES", getcwd_is_eacces),
            ("clone3 is still ENOSYS", clone3_is_enosys),
            ("keyctl is still EPERM", keyctl_is_eperm),
            ("getpid works", getpid_works),
        ],
    );
}

#[test]
fn repeated_argument_index_ors_distinct_indexes_and() {
    let profile = Profile::from_json(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": [
                {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 10, "op": "SCMP_CMP_EQ"}]},
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": [
                {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]}]}"#,
    )
    .unwrap();
    let programs = compile(&profile, &[]).unwrap();
    fn inet_refused() -> bool {
        socket_refused(
            libc::AF_INET as c_long,
            libc::SOCK_STREAM as c_long,
            libc::EACCES,
        )
    }
    fn inet6_refused() -> bool {
        socket_refused(
            libc::AF_INET6 as c_long,
            libc::SOCK_STREAM as c_long,
            libc::EACCES,
        )
    }
    fn unix_dgram_refused() -> bool {
        socket_refused(
            libc::AF_UNIX as c_long,
            libc::SOCK_DGRAM as c_long,
            libc::EACCES,
        )
    }
    fn unix_stream_works() -> bool {
        socket_works(libc::AF_UNIX as c_long, libc::SOCK_STREAM as c_long)
    }
    assert_probes_pass(
        &programs,
        &[
            ("socket(AF_INET) is EACCES", inet_refused),
            ("socket(AF_INET6) is EACCES", inet6_refused),
            ("socket(AF_UNIX, SOCK_DGRAM) is EACCES", unix_dgram_refused),
            ("socket(AF_UNIX, SOCK_STREAM) works", unix_stream_works),
        ],
    );
}

#[test]
fn kill_process_action_kills_with_sigsys() {
    let profile = Profile::from_json(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getcwd"], "action": "SCMP_ACT_KILL_PROCESS"}]}"#,
    )
    .unwrap();
    let programs = compile(&profile, &[]).unwrap();
    let end = run_filtered(&programs, &[("getcwd", getcwd_runs)]);
    assert_eq!(end, End::Signaled(libc::SIGSYS));
}

#[cfg(target_arch = "x86_64")]
#[test]
fn x32_calls_are_killed() {
    fn x32_getpid() -> bool {
        sys(0x4000_0000 | libc::SYS_getpid, [0; 6]) > 0
    }
    let profile = Profile::from_json(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let programs = compile(&profile, &[]).unwrap();
    let end = run_filtered(&programs, &[("x32 getpid", x32_getpid)]);
    assert_eq!(end, End::Signaled(libc::SIGSYS));
}
