//! Containers: the durable record of one `strata run` (what it runs, over which image, and its
//! state) and the on-disk store of those records.
//!
//! Layout, under the store root:
//! ```text
//! containers/
//!   lock                  flock taken while a container is created or removed (name uniqueness)
//!   <id>/                 64 hex digits
//!     state.json          the `Container` record, always replaced atomically
//!     lock                the per-container flock (`Containers::lock`), held for short updates
//!     upper/ work/        the overlay upperdir and workdir (the container's own writes)
//!     empty/              stands in as the lowerdir of a scratch image
//!     container.log       stdout and stderr of a detached container, appended to
//! ```
//! A container is created complete (its directory is made under a temp name, then renamed),
//! so a crash never leaves a record without its upperdir, nor the reverse.
//!
//! `record` is the data, `store` the directory, `rootfs` the overlay a container runs on,
//! `mount_spec` parses `-v`/`--mount` (pure), `command` merges the image config with flags
//! (pure), `volumes` is the seam named volumes plug into, `liveness` tells a live process from
//! a reused pid. `tree` is a container's filesystem read and written without mounts (for
//! `export`, `cp`, and filling volumes), `commit` makes an image of the upperdir,
//! `volume_store` holds named and anonymous volumes (`volume_users` their users,
//! `volume_opts` the local driver's options (pure), `volume_mount` their refcounted mounts),
//! `health` the healthcheck state machine
//! (pure) that `health_monitor` drives from the container's monitor.

pub mod access;
pub mod cgroup_limits;
pub mod cgroups;
pub mod command;
pub mod commit;
pub mod config_view;
pub mod cp;
pub mod cpuset;
pub mod create;
pub mod diff;
pub mod disk_usage;
pub mod error;
pub mod events;
pub mod export;
pub mod filter;
pub mod health;
pub mod health_monitor;
pub mod host_info;
pub mod host_options;
pub mod lifecycle;
pub mod links;
pub mod liveness;
pub mod logfile;
pub mod mount_spec;
pub mod names;
pub mod net;
pub mod prune;
pub mod record;
pub mod record_cache;
pub mod resources;
pub mod restart;
pub mod rootdir;
pub mod rootfs;
pub mod stats_view;
pub mod store;
pub mod tree;
pub mod volume_filter;
mod volume_mount;
pub mod volume_opts;
pub mod volume_store;
mod volume_users;
pub mod volumes;

pub use create::{create, CreateOptions};
pub use error::ContainerError;
pub use lifecycle::RunIo;
pub use record::{
    Container, Endpoint, LayerRef, MountSpec, NetConfig, NetState, ProcRef, RunConfig, State,
    Status,
};
pub use rootfs::rootfs;
pub use store::{ContainerLock, Containers};
