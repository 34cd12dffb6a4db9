//! Rootless id maps (pure): which host ids a user namespace maps, computed from `/etc/subuid`
//! or `/etc/subgid` text, and the arguments `newuidmap`/`newgidmap` take for them.
//! `rootless` applies them.

/// One line of a `uid_map`/`gid_map`: `count` ids from `inside` map to `outside` onwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// The `(start, count)` ranges delegated to a user, listed by name or by numeric id.
pub fn subid_ranges(text: &str, name: &str, id: u32) -> Vec<(u32, u32)> {
    let id = id.to_string();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split(':');
            let (owner, start, count) = (f.next()?, f.next()?, f.next()?);
            if owner != name && owner != id {
                return None;
            }
            let (start, count) = (start.trim().parse().ok()?, count.trim().parse().ok()?);
            (count > 0).then_some((start, count))
        })
        .collect()
}

/// The user's own id becomes 0 inside; delegated ranges follow from 1 in file order. With no
/// ranges this is the single-id map an unprivileged process may write itself.
pub fn id_maps(own: u32, ranges: &[(u32, u32)]) -> Vec<IdMap> {
    let mut maps = vec![IdMap {
        inside: 0,
        outside: own,
        count: 1,
    }];
    let mut next = 1u32;
    for &(start, count) in ranges {
        maps.push(IdMap {
            inside: next,
            outside: start,
            count,
        });
        next = next.saturating_add(count);
    }
    maps
}

/// Arguments for `newuidmap PID …` / `newgidmap PID …`.
pub fn newidmap_args(pid: i32, maps: &[IdMap]) -> Vec<String> {
    let mut args = vec![pid.to_string()];
    for m in maps {
        args.extend([m.inside, m.outside, m.count].map(|n| n.to_string()));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBUID: &str = "# delegated ranges\nalice:100000:65536\nbob:165536:65536\n1000:300000:10\nalice:400000:0\nbroken line\n";

    #[test]
    fn ranges_by_name_or_id() {
        type Case<'a> = (&'a str, u32, &'a [(u32, u32)]);
        let cases: &[Case] = &[
            ("alice", 1000, &[(100000, 65536), (300000, 10)]),
            ("bob", 1001, &[(165536, 65536)]),
            ("carol", 1002, &[]),
        ];
        for (name, id, want) in cases {
            assert_eq!(subid_ranges(SUBUID, name, *id), *want, "{name}");
        }
    }

    #[test]
    fn maps_put_own_id_at_zero_then_ranges() {
        let m = |inside, outside, count| IdMap {
            inside,
            outside,
            count,
        };
        assert_eq!(id_maps(1000, &[]), vec![m(0, 1000, 1)]);
        assert_eq!(
            id_maps(1000, &[(100000, 65536), (300000, 10)]),
            vec![m(0, 1000, 1), m(1, 100000, 65536), m(65537, 300000, 10)]
        );
        assert_eq!(
            newidmap_args(42, &id_maps(1000, &[(100000, 5)])),
            ["42", "0", "1000", "1", "1", "100000", "5"]
        );
    }
}
