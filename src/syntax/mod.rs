//! The Dockerfile front end: PEG grammar → typed AST with spans, Docker word expansion,
//! `.dockerignore` matching, and the BuildKit dump format. Pure: no I/O beyond what callers pass in.
pub mod dockerignore;
