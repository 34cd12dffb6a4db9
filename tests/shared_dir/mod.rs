//! Where `shared/` (conformance data, bench scenarios) is: `$STRATA_SHARED_DIR` when set, else
//! `../shared` next to the checkout, where the developers' guide places it.

use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    match std::env::var_os("STRATA_SHARED_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    }
}

/// A path under `shared/conformance`.
#[allow(dead_code)]
pub fn conformance(rel: &str) -> PathBuf {
    root().join("conformance").join(rel)
}
