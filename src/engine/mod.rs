//! The operations a user asks for, combining the modules below; the CLI and the API are thin
//! doors over them. So far: where a build's context comes from, and Docker's view of a
//! container.

pub mod container_inspect;
pub mod context_source;
pub mod context_tar;
pub mod inspect_security;
