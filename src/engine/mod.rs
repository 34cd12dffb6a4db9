//! The operations a user asks for, combining the modules below; the CLI and the API are thin
//! doors over them. So far: where a build's context comes from.

pub mod context_source;
pub mod context_tar;
