//! Small side-effecting helpers shared by every layer: atomic writes, safe joins inside a root,
//! hashing readers and writers.
pub mod passwd;
pub mod safe_path;
