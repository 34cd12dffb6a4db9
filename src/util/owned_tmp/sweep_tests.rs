//! The sweep's rules as a table: a listing and the state of each lock in, what is removed out.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use super::*;

/// Lock states by item name; `reclaim` fails for names in `stuck`.
#[derive(Default)]
struct Fake {
    locks: HashMap<String, &'static str>,
    /// Lock files that appear only to a second look (made during the listing).
    late_locks: Vec<String>,
    stuck: Vec<String>,
    /// Items whose owner died before making them: only the lock file is there.
    never_made: Vec<String>,
    removed: Vec<String>,
    locks_removed: Vec<String>,
}

impl SweepOps for Fake {
    type Held = String;
    fn probe(&mut self, lock: &Path) -> LockState<String> {
        let name = lock.file_name().unwrap().to_str().unwrap();
        let item = name.strip_suffix(LOCK_SUFFIX).unwrap().to_string();
        match self.locks.get(&item).copied() {
            Some("held") => LockState::Held,
            Some("free") => LockState::Free(name.to_string()),
            Some("eacces") => LockState::Unknown(io::Error::from(io::ErrorKind::PermissionDenied)),
            _ => LockState::Gone,
        }
    }
    fn lock_exists(&mut self, lock: &Path) -> bool {
        let name = lock.file_name().unwrap().to_str().unwrap();
        self.late_locks
            .iter()
            .any(|l| format!("{l}{LOCK_SUFFIX}") == name)
    }
    fn reclaim(&mut self, item: &Path) -> io::Result<Option<u64>> {
        let name = item.file_name().unwrap().to_str().unwrap().to_string();
        if self.stuck.contains(&name) {
            return Err(io::Error::other("still mounted"));
        }
        if self.never_made.contains(&name) {
            return Ok(None);
        }
        self.removed.push(name);
        Ok(Some(10))
    }
    fn remove_lock(&mut self, lock: &Path, held: String) {
        assert_eq!(lock.file_name().unwrap().to_str().unwrap(), held);
        self.locks_removed.push(held);
    }
}

#[test]
fn which_items_are_reclaimed() {
    // (listing, lock states by item, late locks, stuck items, orphan policy,
    //  removed, alive, unleased left, failed)
    type Row = (
        &'static str,
        &'static [&'static str],
        &'static [(&'static str, &'static str)],
        &'static [&'static str],
        &'static [&'static str],
        Orphans<'static>,
        &'static [&'static str],
        &'static [&'static str],
        &'static [&'static str],
        &'static [&'static str],
    );
    let keep = Orphans::Keep;
    let reclaim = Orphans::Reclaim {
        except: &["partial-"],
    };
    #[rustfmt::skip]
    let table: &[Row] = &[
        ("empty area", &[], &[], &[], &[], keep, &[], &[], &[], &[]),
        ("live owner's item stays",
            &["blob-a", "blob-a.lock"], &[("blob-a", "held")], &[], &[], reclaim,
            &[], &["blob-a"], &[], &[]),
        ("dead owner's item goes",
            &["blob-a", "blob-a.lock"], &[("blob-a", "free")], &[], &[], keep,
            &["blob-a"], &[], &[], &[]),
        ("a lock whose item never came (or already went) goes, unreported",
            &["step-b.lock"], &[("step-b", "free")], &[], &[], keep,
            &[], &[], &[], &[]),
        ("lock gone since the listing: the owner finished",
            &["step-c", "step-c.lock"], &[], &[], &[], keep, &[], &[], &[], &[]),
        ("unprobeable lock: left alone, reported",
            &["step-d", "step-d.lock"], &[("step-d", "eacces")], &[], &[], reclaim,
            &[], &[], &[], &["step-d"]),
        ("dead owner's item with a mount that will not go: kept for next time",
            &["step-e", "step-e.lock"], &[("step-e", "free")], &[], &["step-e"], keep,
            &[], &[], &[], &["step-e"]),
        ("unleased names stay while others may run",
            &["blob-old", "step-123-x", "partial-ab"], &[], &[], &[], keep,
            &[], &[], &["blob-old", "partial-ab", "step-123-x"], &[]),
        ("unleased names go when no one else runs, partial blobs excepted",
            &["blob-old", "step-123-x", "partial-ab"], &[], &[], &[], reclaim,
            &["blob-old", "step-123-x"], &[], &["partial-ab"], &[]),
        ("an item listed before its lock file: looked at again, its owner is alive",
            &["dir-f"], &[("dir-f", "held")], &["dir-f"], &[], reclaim,
            &[], &["dir-f"], &[], &[]),
        ("mixed: one alive, one dead, one kept",
            &["blob-1", "blob-1.lock", "blob-2", "blob-2.lock", "partial-9"],
            &[("blob-1", "held"), ("blob-2", "free")], &[], &[], reclaim,
            &["blob-2"], &["blob-1"], &["partial-9"], &[]),
    ];
    for (what, listing, states, late, stuck, orphans, removed, alive, unleased, failed) in table {
        let mut fake = Fake {
            locks: states.iter().map(|(n, s)| (n.to_string(), *s)).collect(),
            late_locks: late.iter().map(|s| s.to_string()).collect(),
            stuck: stuck.iter().map(|s| s.to_string()).collect(),
            never_made: listing
                .iter()
                .filter_map(|n| n.strip_suffix(LOCK_SUFFIX))
                .filter(|i| !listing.contains(i))
                .map(String::from)
                .collect(),
            ..Fake::default()
        };
        let names = listing.iter().map(|s| s.to_string()).collect();
        let r = sweep_with(Path::new("/area"), names, *orphans, &mut fake);
        assert_eq!(r.reclaimed, *removed, "{what}: reclaimed");
        assert_eq!(fake.removed, *removed, "{what}: removed");
        assert_eq!(r.alive, *alive, "{what}: alive");
        assert_eq!(r.unleased, *unleased, "{what}: unleased");
        let failed_names: Vec<&str> = r.failed.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(failed_names, *failed, "{what}: failed");
        // A lock file goes only once its item is gone, and only when it was free.
        for l in &fake.locks_removed {
            let item = l.strip_suffix(LOCK_SUFFIX).unwrap();
            assert!(
                removed.contains(&item) || fake.never_made.iter().any(|n| n == item),
                "{what}: lock {l} removed"
            );
            assert_eq!(fake.locks.get(item).copied(), Some("free"), "{what}: {l}");
        }
    }
}

#[test]
fn grouping_pairs_items_with_their_locks() {
    let names = ["b.lock", "a", "b", "c.lock", "d"].map(String::from);
    assert_eq!(
        group(names),
        vec![
            Found::Unleased("a".into()),
            Found::Leased("b".into()),
            Found::Leased("c".into()),
            Found::Unleased("d".into()),
        ]
    );
}
