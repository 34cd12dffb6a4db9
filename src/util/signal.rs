//! Signal names as Docker reads them (`kill -s`, `stop -s`, an image's `StopSignal`): with
//! or without `SIG`, in any case, and the realtime ones as `RTMIN+n` / `RTMAX-n`, numbered
//! as on Linux (`SIGRTMIN` is 34, `SIGRTMAX` 64).

/// The standard signals by name (without `SIG`), with Linux's numbers on x86_64 and arm64.
const NAMED: &[(&str, i32)] = &[
    ("ABRT", 6),
    ("ALRM", 14),
    ("BUS", 7),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("FPE", 8),
    ("HUP", 1),
    ("ILL", 4),
    ("INT", 2),
    ("IO", 29),
    ("IOT", 6),
    ("KILL", 9),
    ("PIPE", 13),
    ("POLL", 29),
    ("PROF", 27),
    ("PWR", 30),
    ("QUIT", 3),
    ("SEGV", 11),
    ("STKFLT", 16),
    ("STOP", 19),
    ("SYS", 31),
    ("TERM", 15),
    ("TRAP", 5),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("USR1", 10),
    ("USR2", 12),
    ("VTALRM", 26),
    ("WINCH", 28),
    ("XCPU", 24),
    ("XFSZ", 25),
];

/// `SIGRTMIN` and `SIGRTMAX` as Docker (and glibc programs) number them.
pub const RTMIN: i32 = 34;
pub const RTMAX: i32 = 64;

/// The number of a signal named as Docker accepts: `TERM`, `sigterm`, `SIGRTMIN+3`,
/// `RTMAX-2` (offsets `RTMIN+1`…`RTMIN+15` and `RTMAX-14`…`RTMAX-1`, written without a
/// leading zero). Numbers are not names: see `parse`.
pub fn by_name(name: &str) -> Option<i32> {
    let upper = name.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = NAMED.iter().find(|(known, _)| *known == name) {
        return Some(n);
    }
    let offset = |rest: &str, sign: char, max: i32| match rest {
        "" => Some(0),
        _ => rest
            .strip_prefix(sign)
            .filter(|n| !n.starts_with(['0', '+', '-']))
            .and_then(|n| n.parse::<i32>().ok())
            .filter(|n| (1..=max).contains(n)),
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return offset(rest, '+', 15).map(|n| RTMIN + n);
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return offset(rest, '-', 14).map(|n| RTMAX - n);
    }
    None
}

/// A signal as `docker kill -s` takes it: a number from 1 to 64, or a name (`by_name`).
pub fn parse(text: &str) -> Option<i32> {
    match text.parse::<i32>() {
        Ok(n) => (1..=RTMAX).contains(&n).then_some(n),
        Err(_) => by_name(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        #[rustfmt::skip]
        let cases: &[(&str, Option<i32>)] = &[
            ("TERM", Some(15)), ("SIGTERM", Some(15)), ("sigterm", Some(15)), ("term", Some(15)),
            ("KILL", Some(9)), ("USR1", Some(10)), ("SIGWINCH", Some(28)), ("CLD", Some(17)),
            ("RTMIN", Some(34)), ("SIGRTMIN+3", Some(37)), ("rtmin+15", Some(49)),
            ("RTMAX", Some(64)), ("SIGRTMAX-1", Some(63)), ("RTMAX-14", Some(50)),
            ("RTMIN+16", None), ("RTMIN+0", None), ("RTMIN+01", None), ("RTMIN-1", None),
            ("RTMAX-15", None), ("RTMAX+1", None), ("NOPE", None), ("SIG", None), ("", None),
            ("9", Some(9)), ("64", Some(64)), ("65", None), ("0", None), ("-1", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), *want, "{text:?}");
        }
    }

    #[test]
    fn the_table_matches_the_platform() {
        for (name, n) in NAMED {
            let sys = format!("SIG{name}").parse::<nix::sys::signal::Signal>();
            if let Ok(sig) = sys {
                assert_eq!(sig as i32, *n, "{name}");
            }
        }
        assert_eq!(libc::SIGRTMAX(), RTMAX);
    }
}
