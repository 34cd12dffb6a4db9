//! Go's `time.ParseDuration`, the one grammar Docker uses for every duration it takes: build
//! prune's `until`, `--since`/`--until` of events and logs, healthcheck flags and `HEALTHCHECK`
//! options.

const NS: i128 = 1_000_000_000;

/// `[-+]` then one or more `<decimal><unit>` (`ns us µs ms s m h`), or a bare `0`, in
/// nanoseconds; `None` when malformed or out of range. Integer arithmetic, so `1.1s` is exactly
/// 1_100_000_000 as Go has it.
pub fn parse(s: &str) -> Option<i128> {
    let (sign, mut rest) = match s.as_bytes().first()? {
        b'-' => (-1, &s[1..]),
        b'+' => (1, &s[1..]),
        _ => (1, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let is_num = |c: char| c.is_ascii_digit() || c == '.';
        let (num, tail) = rest.split_at(rest.find(|c| !is_num(c)).unwrap_or(rest.len()));
        let (unit, tail) = tail.split_at(tail.find(is_num).unwrap_or(tail.len()));
        let unit: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => NS,
            "m" => 60 * NS,
            "h" => 3600 * NS,
            _ => return None,
        };
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
            return None;
        }
        let int: i128 = if int.is_empty() { 0 } else { int.parse().ok()? };
        let frac = &frac[..frac.len().min(18)];
        let scale = 10i128.pow(frac.len() as u32);
        let frac: i128 = frac.parse().unwrap_or(0); // digits only, or empty
        total = total.checked_add(int.checked_mul(unit)? + frac * unit / scale)?;
        rest = tail;
    }
    // Go's Duration is an int64 of nanoseconds.
    (total <= i64::MAX as i128).then_some(sign * total)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn go_durations() {
        let cases = [
            ("0", Some(0)),
            ("30s", Some(30_000_000_000)),
            ("1m30s", Some(90_000_000_000)),
            ("1h30m", Some(5_400_000_000_000)),
            ("1.5h", Some(5_400_000_000_000)),
            ("24h", Some(86_400_000_000_000)),
            ("1.1s", Some(1_100_000_000)),
            (".5s", Some(500_000_000)),
            ("10ms", Some(10_000_000)),
            ("5us", Some(5_000)),
            ("5µs", Some(5_000)),
            ("7ns", Some(7)),
            ("-1s", Some(-1_000_000_000)),
            ("+2m", Some(120_000_000_000)),
            ("", None),
            ("h", None),
            (".s", None),
            ("10", None),
            ("abc", None),
            ("1x", None),
            ("10d", None),
            ("1h-3m", None),
            ("1..2s", None),
            ("3000000h", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse(s), want, "{s}");
        }
    }
}
