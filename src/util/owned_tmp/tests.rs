//! Leases on a real file system: what an owner makes and leaves, and sweeps around live owners.

use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::*;

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn an_owned_dir_and_its_lock_go_on_drop() {
    let area = tempfile::tempdir().unwrap();
    let d = OwnedDir::new_in(area.path(), "step-").unwrap();
    let name = d.path().file_name().unwrap().to_str().unwrap().to_string();
    assert!(name.starts_with("step-"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(d.path()).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        listing(area.path()),
        vec![name.clone(), format!("{name}.lock")]
    );
    // A read-only tree inside (an image's directories) does not stop the removal.
    fs::create_dir_all(d.path().join("ro/sub")).unwrap();
    fs::write(d.path().join("ro/sub/f"), "x").unwrap();
    fs::set_permissions(d.path().join("ro"), fs::Permissions::from_mode(0o555)).unwrap();
    drop(d);
    assert!(listing(area.path()).is_empty());
}

#[test]
fn an_owned_file_persists_or_goes() {
    let area = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let mut f = OwnedFile::new_in(area.path(), "blob-").unwrap();
    f.write_all(b"content").unwrap();
    f.persist(&dest.path().join("blob")).unwrap();
    assert_eq!(fs::read(dest.path().join("blob")).unwrap(), b"content");
    assert!(listing(area.path()).is_empty());

    let f = OwnedFile::new_in(area.path(), "blob-").unwrap();
    assert_eq!(listing(area.path()).len(), 2);
    drop(f);
    assert!(listing(area.path()).is_empty());
}

#[test]
fn a_moved_dir_gives_its_name_up() {
    let area = tempfile::tempdir().unwrap();
    let d = OwnedDir::new_in(area.path(), "snapshot-").unwrap();
    let dest = area.path().join("placed");
    fs::rename(d.path(), &dest).unwrap();
    d.moved();
    assert_eq!(listing(area.path()), vec!["placed"]);
}

#[test]
fn a_sweep_takes_dead_owners_items_and_leaves_live_ones() {
    let area = tempfile::tempdir().unwrap();
    let live = OwnedDir::new_in(area.path(), "step-").unwrap();
    fs::write(live.path().join("f"), "x").unwrap();
    // What a killed owner leaves: the item and its lock file, nobody holding it.
    fs::create_dir(area.path().join("step-dead")).unwrap();
    fs::write(area.path().join("step-dead/f"), "12345").unwrap();
    fs::write(area.path().join("step-dead.lock"), "").unwrap();
    fs::write(area.path().join("blob-dead"), "123").unwrap();
    fs::write(area.path().join("blob-dead.lock"), "").unwrap();
    // An older strata's temp file, and a pull's partial blob.
    fs::write(area.path().join("blob-legacy"), "").unwrap();
    fs::write(area.path().join("partial-ab"), "").unwrap();

    let r = sweep(area.path(), Orphans::Keep);
    assert_eq!(r.reclaimed, vec!["blob-dead", "step-dead"]);
    assert_eq!(r.bytes, 8);
    assert_eq!(r.unleased, vec!["blob-legacy", "partial-ab"]);
    assert_eq!(r.alive.len(), 1);
    assert!(live.path().join("f").exists());

    let r = sweep(
        area.path(),
        Orphans::Reclaim {
            except: &["partial-"],
        },
    );
    assert_eq!(r.reclaimed, vec!["blob-legacy"]);
    let live_name = live
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        listing(area.path()),
        vec![
            "partial-ab".to_string(),
            live_name.clone(),
            format!("{live_name}.lock")
        ]
    );
    drop(live);
    assert_eq!(listing(area.path()), vec!["partial-ab"]);
}

#[test]
fn sweeps_racing_owners_never_take_a_live_item() {
    let area = Arc::new(tempfile::tempdir().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let sweeper = {
        let (area, stop) = (area.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let r = sweep(area.path(), Orphans::Reclaim { except: &[] });
                assert!(r.reclaimed.is_empty(), "took a live item: {r:?}");
                n += 1;
            }
            n
        })
    };
    let owners: Vec<_> = (0..4)
        .map(|_| {
            let area = area.clone();
            std::thread::spawn(move || {
                for i in 0..300 {
                    if i % 2 == 0 {
                        let d = OwnedDir::new_in(area.path(), "dir-").unwrap();
                        fs::write(d.path().join("f"), "x").unwrap();
                        std::thread::yield_now();
                        assert!(d.path().join("f").exists());
                    } else {
                        let mut f = OwnedFile::new_in(area.path(), "blob-").unwrap();
                        f.write_all(b"x").unwrap();
                        std::thread::yield_now();
                        assert!(f.path().exists());
                    }
                }
            })
        })
        .collect();
    for o in owners {
        o.join().unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    assert!(sweeper.join().unwrap() > 0);
    assert!(listing(area.path()).is_empty());
}
