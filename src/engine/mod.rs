//! The operations a user asks for, combining the modules below; the CLI and the API are thin
//! doors over them. So far: the container operations (`containers`), where a build's context
//! comes from, Docker's view of a container, and the registry client every pull shares.

pub mod container_inspect;
pub mod containers;
pub mod context_source;
pub mod context_tar;
pub mod inspect_security;
pub mod registry;
