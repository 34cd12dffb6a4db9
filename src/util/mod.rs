//! Small helpers shared by every layer: atomic writes, safe joins inside a root, hashing readers
//! and writers, and the image's passwd/group resolution.

pub mod atomic;
pub mod hashing;
pub mod passwd;
pub mod read_full;
pub mod safe_path;
pub mod tar_fields;
pub mod userns;
