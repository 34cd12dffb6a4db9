//! Runs a build graph: scheduling, one file per op kind, image assembly, progress events.
pub mod build;
pub mod config_apply;
pub mod copy;
pub mod error;
pub mod events;
pub mod explain;
pub mod interrupt;
mod layer_commit;
pub mod mounts;
pub mod remote_cache;
pub mod rootfs;
mod secret_file;
mod slots;
pub mod state;
mod step_cgroup;
mod step_copy;
mod step_mounts;
pub mod step_network;
pub mod step_run;
mod steps;

pub use build::{build, check_emulation, BuildOptions, BuildOutcome, StepSummary};
pub use error::{ExecError, StepError};
pub use interrupt::Interrupt;
