//! Seccomp for containers: Docker's profile format and default profile, compiled to one
//! BPF program (a binary search over syscall numbers, see `layout`) and installed with the
//! raw `seccomp(2)` call.
//!
//! Use: `Profile::docker_default()` or `Profile::from_json(text)` (or
//! `Profile::unconfined()`); `compile(&profile, &caps)` in the parent, before fork, with
//! the container's capability numbers (`cap_number`); then `install(&programs)` in the
//! child, after `PR_SET_NO_NEW_PRIVS` or while it still holds `CAP_SYS_ADMIN`, just
//! before exec.
//!
//! Where this differs from Docker (libseccomp via runc):
//! - on x86_64 the sub-architectures a profile names (`archMap`, `architectures`: i386 and
//!   x32, as Docker's default does) get the rules with their own numbers, and any other ABI
//!   is killed; on aarch64 only the native ABI is filtered and arm32 calls are killed, where
//!   Docker filters them too;
//! - arguments the kernel reads as 32-bit are compared on their low 32 bits (see
//!   `plan::INT_ARGS`), libseccomp compares all 64;
//! - one syscall given several actions by overlapping rules gets the most restrictive
//!   one (see `layout`); Docker's default profile has no such overlap.

mod apply;
mod caps;
mod compile;
mod default_profile;
mod disk_cache;
mod error;
mod layout;
mod plan;
mod profile;
mod profile_json;
mod syscall_table;
#[cfg(target_arch = "x86_64")]
mod syscall_table_compat;

#[cfg(test)]
mod bpf_eval;
#[cfg(test)]
mod kernel_tests;
#[cfg(test)]
mod oracle_tests;

pub use apply::install;
pub use caps::{cap_name, cap_number, CAP_LAST_CAP, DOCKER_DEFAULT_CAPS};
pub use compile::{compile, compile_default};
pub use error::SeccompError;
pub use layout::Program;
pub use profile::{Action, ArchMap, ArgCmp, CmpOp, Condition, KernelVersion, Profile, SyscallRule};
pub use syscall_table::syscall_number;
