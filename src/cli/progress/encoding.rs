//! Text encodings rawjson needs and std lacks: base64 for log bytes, RFC 3339 timestamps.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Standard base64 with padding, as Go encodes `[]byte` in JSON.
pub(crate) fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// UTC RFC 3339 with as many fraction digits as needed, like Go's `time.RFC3339Nano`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = d.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Hinnant's algorithm, eras of 400 years).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rest / 3600, rest / 60 % 60, rest % 60);
    let mut text = format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}");
    if d.subsec_nanos() != 0 {
        let frac = format!(".{:09}", d.subsec_nanos());
        text.push_str(frac.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("foobar", "Zm9vYmFy"),
            ("\u{ff}\n", "w78K"),
        ];
        for (input, want) in cases {
            assert_eq!(base64(input.as_bytes()), want, "{input:?}");
        }
    }

    #[test]
    fn rfc3339_formats_utc_with_trimmed_fraction() {
        let at = |secs, nanos| UNIX_EPOCH + Duration::new(secs, nanos);
        let cases = [
            (at(0, 0), "1970-01-01T00:00:00Z"),
            (at(951_782_400, 0), "2000-02-29T00:00:00Z"),
            (at(1_704_164_645, 512_000_000), "2024-01-02T03:04:05.512Z"),
            (at(4_107_542_399, 1), "2100-02-28T23:59:59.000000001Z"),
        ];
        for (t, want) in cases {
            assert_eq!(rfc3339(t), want);
        }
    }
}
