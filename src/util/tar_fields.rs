//! Numeric tar header fields read as Go's `archive/tar` reads them (what Docker and BuildKit
//! unpack with): a field left empty (all NULs or spaces) is 0, where the `tar` crate refuses it.
//! Archives written by some tools leave uid, gid or mtime empty.

use std::io;

/// Which numeric field of the header.
#[derive(Debug, Clone, Copy)]
pub enum Field {
    Mode,
    Uid,
    Gid,
    Mtime,
}

/// The field's value; `Err` only for a field that has content and does not parse.
pub fn numeric(h: &tar::Header, field: Field) -> io::Result<u64> {
    let parsed = match field {
        Field::Mode => h.mode().map(u64::from),
        Field::Uid => h.uid(),
        Field::Gid => h.gid(),
        Field::Mtime => h.mtime(),
    };
    parsed.or_else(|e| {
        let old = h.as_old();
        let raw: &[u8] = match field {
            Field::Mode => &old.mode,
            Field::Uid => &old.uid,
            Field::Gid => &old.gid,
            Field::Mtime => &old.mtime,
        };
        if raw.iter().all(|b| *b == 0 || *b == b' ') {
            Ok(0)
        } else {
            Err(e)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_are_zero_and_garbage_is_an_error() {
        let mut h = tar::Header::new_old();
        h.set_mode(0o644);
        h.set_uid(7);
        h.as_old_mut().gid = [0; 8];
        h.as_old_mut().mtime = *b"           \0";
        assert_eq!(numeric(&h, Field::Mode).unwrap(), 0o644);
        assert_eq!(numeric(&h, Field::Uid).unwrap(), 7);
        assert_eq!(numeric(&h, Field::Gid).unwrap(), 0);
        assert_eq!(numeric(&h, Field::Mtime).unwrap(), 0);
        h.as_old_mut().uid = *b"12x4567\0";
        assert!(numeric(&h, Field::Uid).is_err());
    }
}
