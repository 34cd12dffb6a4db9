//! ADD of a URL: the [`Fetch`] hook the HTTP client will implement, `--checksum=sha256:…`
//! verification, and the `Last-Modified` header turned into the file's mtime ("If the HTTP
//! response contains a Last-Modified header, the timestamp from that header will be used to set
//! the mtime on the destination file").

use sha2::{Digest as _, Sha256};

use crate::plan::copy::{CopyError, MTime};

/// A fetched remote file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    pub body: Vec<u8>,
    /// The `Last-Modified` header as sent, if any.
    pub last_modified: Option<String>,
}

/// Downloads a URL for ADD. The lead plugs the HTTP client in here.
pub trait Fetch {
    fn fetch(&self, url: &str) -> Result<Fetched, CopyError>;
}

/// Checks `body` against an ADD `--checksum` value; only `sha256:<64 hex>` is accepted
/// ("SHA-256 is the only supported hash algorithm").
pub fn verify_checksum(url: &str, body: &[u8], checksum: &str) -> Result<(), CopyError> {
    let bad = || CopyError::BadChecksum {
        value: checksum.to_string(),
    };
    let hex = checksum.strip_prefix("sha256:").ok_or_else(bad)?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let actual: String = Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if actual != hex.to_ascii_lowercase() {
        return Err(CopyError::ChecksumMismatch {
            url: url.to_string(),
            expected: checksum.to_string(),
            actual: format!("sha256:{actual}"),
        });
    }
    Ok(())
}

/// Parses an HTTP date (RFC 9110: IMF-fixdate, plus the obsolete RFC 850 and asctime forms)
/// into an mtime; `None` for anything else, in which case the file gets the time it was written.
pub fn parse_http_date(s: &str) -> Option<MTime> {
    let s = s.trim();
    let parts: Vec<&str> = s.split_whitespace().collect();
    let (day, mon, year, time) = match parts.as_slice() {
        // Sun, 06 Nov 1994 08:49:37 GMT
        [_, d, m, y, t, "GMT"] => (d.parse().ok()?, *m, y.parse().ok()?, *t),
        // Sunday, 06-Nov-94 08:49:37 GMT
        [_, dmy, t, "GMT"] => {
            let mut it = dmy.split('-');
            let d = it.next()?.parse().ok()?;
            let m = it.next()?;
            let y: i64 = it.next()?.parse().ok()?;
            (d, m, if y < 70 { 2000 + y } else { 1900 + y }, *t)
        }
        // Sun Nov  6 08:49:37 1994
        [_, m, d, t, y] => (d.parse().ok()?, *m, y.parse().ok()?, *t),
        _ => return None,
    };
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == mon)? as i64
        + 1;
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, mi, se] = hms.as_slice() else {
        return None;
    };
    let day: i64 = day;
    if !(1..=31).contains(&day) || *h > 23 || *mi > 59 || *se > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(MTime {
        secs: days * 86400 + h * 3600 + mi * 60 + se,
        nanos: 0,
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        let want = Some(MTime {
            secs: 784111777,
            nanos: 0,
        });
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), want);
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), want);
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), want);
        assert_eq!(
            parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(MTime { secs: 0, nanos: 0 })
        );
        assert_eq!(parse_http_date("yesterday"), None);
        assert_eq!(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"), None);
    }

    #[test]
    fn checksums() {
        // sha256("hello\n")
        let sum = "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
        assert!(verify_checksum("u", b"hello\n", sum).is_ok());
        assert!(matches!(
            verify_checksum("u", b"other", sum),
            Err(CopyError::ChecksumMismatch { .. })
        ));
        for bad in ["md5:abc", "sha256:xyz", "5891b5b5"] {
            assert!(matches!(
                verify_checksum("u", b"", bad),
                Err(CopyError::BadChecksum { .. })
            ));
        }
    }
}
