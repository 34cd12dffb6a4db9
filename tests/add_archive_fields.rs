//! ADD of a local tar whose headers leave numeric fields empty (some archivers do): Docker
//! reads an empty uid, gid or mtime as 0, and so does strata, where the `tar` crate alone
//! refuses the entry.

mod build_support;
mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;

use build_support::Bench;

/// A tar with one file whose uid, gid and mtime fields are all NULs.
fn tar_with_empty_fields() -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    h.set_path("hello.txt").unwrap();
    h.set_size(3);
    h.set_mode(0o640);
    h.set_entry_type(tar::EntryType::Regular);
    h.as_old_mut().uid = [0; 8];
    h.as_old_mut().gid = [0; 8];
    h.as_old_mut().mtime = [0; 12];
    h.set_cksum();
    let mut b = tar::Builder::new(Vec::new());
    b.append(&h, &b"hi\n"[..]).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn empty_numeric_fields_read_as_zero() {
    let b = Bench::new();
    fs::write(b.ctx.join("a.tar"), tar_with_empty_fields()).unwrap();
    b.dockerfile("FROM busybox\nADD a.tar /x/\n");
    b.build("emptyfields", &[]);
    let root = b.unpack("emptyfields");
    let f = root.join("x/hello.txt");
    assert_eq!(fs::read_to_string(&f).unwrap(), "hi\n");
    let md = fs::metadata(&f).unwrap();
    assert_eq!((md.uid(), md.gid(), md.mode() & 0o7777), (0, 0, 0o640));
}
