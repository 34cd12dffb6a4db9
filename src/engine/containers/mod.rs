//! The container operations, one file per operation or concern: typed requests in
//! (`request::CreateRequest`, `StopRequest`, `ListRequest`, `LogsRequest`, …), typed results
//! out (the record, `ContainerSummary` rows, `WaitOutcome`, …) or an iterator of typed events
//! (`logs::LogFrame`s, `create::CreateEvent`s), errors as `Error`. No clap and no HTTP: the
//! CLI and the Engine API both translate into these calls and render what comes back.
//!
//! Concurrency: the engine is synchronous. Every call blocks until it is done (`wait`, a
//! followed log, a foreground run block for as long as the container runs); the API server
//! runs them on its blocking pool, the CLI calls them directly. The few calls that act on the
//! calling process itself (`foreground::run_foreground` and `exec::run_attached` use its own
//! stdio, `stdio::forward_signals` its signal mask) are for a process that stands for one
//! container: the CLI, or the monitor `supervise` runs.
//!
//! A container is named by a *query*: its name, its ID, or a unique prefix of its ID.

pub mod archive;
pub mod attach;
pub mod changes;
pub mod commit;
pub mod create;
pub mod error;
pub mod exec;
pub mod exec_instance;
pub mod export;
pub mod foreground;
pub mod inspect;
pub mod list;
pub mod logs;
pub mod pause;
pub mod port;
pub mod remove;
pub mod rename;
pub mod request;
pub mod start;
pub mod stats;
pub mod stdio;
pub mod stop;
pub mod supervise;
pub mod top;
pub mod update;
pub mod wait;

pub use create::{create, CreateEvent, Created};
pub use error::{Error, ErrorKind, Result};
pub use request::{CreateRequest, MoreNetwork, NetworkRequest};
