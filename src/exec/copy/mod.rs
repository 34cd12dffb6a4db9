//! The COPY/ADD file operations: [`apply_copy`] writes what `plan::copy::plan_copy` selected
//! into a destination rootfs (creating parents, setting owners and modes, unpacking ADD's
//! archives, fetching URLs through a [`Fetch`] hook) and reports what changed.

mod apply;
mod archive;
mod fetch;
mod http;

pub use apply::{apply_copy, read_id_files};
pub use fetch::{parse_http_date, verify_checksum, Fetch, Fetched};
pub use http::HttpFetcher;
