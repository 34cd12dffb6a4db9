//! Tests for `cache_dirs.rs`: layout, mode and owner, and the three sharing modes across
//! threads (flock locks are per open file, so threads contend like processes do).

use std::os::unix::fs::MetadataExt;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::*;

fn mount(id: &str, sharing: Sharing) -> CacheMount {
    CacheMount {
        id: id.into(),
        target: "/cache".into(),
        sharing,
        from: None,
        source: None,
        mode: 0o755,
        uid: 0,
        gid: 0,
        readonly: false,
    }
}

/// Runs `acquire` on another thread and reports when it holds the directory; the guard is
/// dropped when `release` receives a message (or is dropped).
fn acquire_in_thread(
    root: &Path,
    m: CacheMount,
) -> (
    mpsc::Receiver<PathBuf>,
    mpsc::Sender<()>,
    thread::JoinHandle<()>,
) {
    let (got_tx, got_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let root = root.to_path_buf();
    let handle = thread::spawn(move || {
        let guard = acquire(&root, &m).expect("acquire");
        got_tx.send(guard.path().to_path_buf()).unwrap();
        let _ = release_rx.recv();
    });
    (got_rx, release_tx, handle)
}

const WAIT: Duration = Duration::from_millis(300);
const PATIENCE: Duration = Duration::from_secs(10);

#[test]
fn creates_the_dir_once_with_mode_and_owner() {
    let root = tempfile::tempdir().unwrap();
    let m = CacheMount {
        mode: 0o750,
        uid: 1234,
        gid: 5678,
        ..mount("go-build", Sharing::Shared)
    };
    let first = acquire(root.path(), &m).unwrap();
    assert!(first.created() && !first.is_private());
    let path = first.path().to_path_buf();
    assert_eq!(path.parent().unwrap(), root.path().join(CACHE_MOUNTS_DIR));
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(
        name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()),
        "{name}"
    );
    let meta = fs::metadata(&path).unwrap();
    assert_eq!(
        (meta.mode() & 0o7777, meta.uid(), meta.gid()),
        (0o750, 1234, 5678)
    );
    fs::write(path.join("kept"), b"x").unwrap();
    drop(first);

    let again = acquire(root.path(), &m).unwrap();
    assert_eq!(again.path(), path);
    assert!(!again.created());
    assert!(
        again.path().join("kept").exists(),
        "contents persist across uses"
    );
    let leftovers: Vec<_> = fs::read_dir(root.path().join(CACHE_MOUNTS_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn id_from_and_source_each_select_a_different_dir() {
    let root = tempfile::tempdir().unwrap();
    let base = mount("a", Sharing::Shared);
    let variants = [
        base.clone(),
        mount("b", Sharing::Shared),
        CacheMount {
            from: Some("stage".into()),
            ..base.clone()
        },
        CacheMount {
            from: Some("stage".into()),
            source: Some("/src".into()),
            ..base.clone()
        },
    ];
    let mut paths: Vec<PathBuf> = variants
        .iter()
        .map(|m| acquire(root.path(), m).unwrap().path().to_path_buf())
        .collect();
    // The target, mode and sharing are not part of a cache's identity.
    let same = CacheMount {
        target: "/elsewhere".into(),
        mode: 0o700,
        sharing: Sharing::Locked,
        ..base
    };
    assert_eq!(acquire(root.path(), &same).unwrap().path(), paths[0]);
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), variants.len());
}

#[test]
fn seed_fills_only_a_new_dir() {
    let root = tempfile::tempdir().unwrap();
    let m = mount("seeded", Sharing::Shared);
    let seed = |p: &Path| fs::write(p.join("from-stage"), b"seed");
    let g = acquire_seeded(root.path(), &m, &seed).unwrap();
    assert_eq!(fs::read(g.path().join("from-stage")).unwrap(), b"seed");
    fs::remove_file(g.path().join("from-stage")).unwrap();
    drop(g);
    let g = acquire_seeded(root.path(), &m, &seed).unwrap();
    assert!(
        !g.path().join("from-stage").exists(),
        "an existing cache is not reseeded"
    );
}

#[test]
fn shared_users_proceed_together() {
    let root = tempfile::tempdir().unwrap();
    let (got_a, release_a, a) = acquire_in_thread(root.path(), mount("s", Sharing::Shared));
    let path_a = got_a.recv_timeout(PATIENCE).expect("first shared user");
    let (got_b, release_b, b) = acquire_in_thread(root.path(), mount("s", Sharing::Shared));
    let path_b = got_b
        .recv_timeout(PATIENCE)
        .expect("second shared user while the first holds it");
    assert_eq!(path_a, path_b);
    release_a.send(()).unwrap();
    release_b.send(()).unwrap();
    a.join().unwrap();
    b.join().unwrap();
}

#[test]
fn locked_users_wait_for_each_other() {
    let root = tempfile::tempdir().unwrap();
    let (got_a, release_a, a) = acquire_in_thread(root.path(), mount("l", Sharing::Locked));
    let path_a = got_a.recv_timeout(PATIENCE).expect("first locked user");
    let (got_b, release_b, b) = acquire_in_thread(root.path(), mount("l", Sharing::Locked));
    assert!(
        got_b.recv_timeout(WAIT).is_err(),
        "second locked user must wait"
    );
    // A shared user waits for a locked holder too.
    let (got_c, release_c, c) = acquire_in_thread(root.path(), mount("l", Sharing::Shared));
    assert!(
        got_c.recv_timeout(WAIT).is_err(),
        "shared user must wait for the locked one"
    );
    release_a.send(()).unwrap();
    a.join().unwrap();
    // One of the two gets it next; the other follows once it is released.
    release_b.send(()).unwrap();
    release_c.send(()).unwrap();
    assert_eq!(
        got_b
            .recv_timeout(PATIENCE)
            .expect("locked user after release"),
        path_a
    );
    assert_eq!(
        got_c
            .recv_timeout(PATIENCE)
            .expect("shared user after release"),
        path_a
    );
    b.join().unwrap();
    c.join().unwrap();
}

#[test]
fn private_users_get_a_fresh_dir_when_the_cache_is_busy() {
    let root = tempfile::tempdir().unwrap();
    let first = acquire(root.path(), &mount("p", Sharing::Private)).unwrap();
    assert!(!first.is_private());
    fs::write(first.path().join("warm"), b"x").unwrap();

    let second = acquire(root.path(), &mount("p", Sharing::Private)).unwrap();
    assert!(second.is_private() && second.created());
    let private = second.path().to_path_buf();
    assert_ne!(private, first.path());
    assert_eq!(
        private.parent().unwrap(),
        root.path().join(CACHE_MOUNTS_DIR).join("private")
    );
    assert!(
        fs::read_dir(&private).unwrap().next().is_none(),
        "starts empty"
    );
    assert_eq!(fs::metadata(&private).unwrap().mode() & 0o7777, 0o755);
    fs::write(private.join("scratch"), b"y").unwrap();
    second.release().unwrap();
    assert!(!private.exists(), "removed when released");

    // Busy with a shared user: private still goes elsewhere; once free it gets the cache.
    drop(first);
    let shared = acquire(root.path(), &mount("p", Sharing::Shared)).unwrap();
    let third = acquire(root.path(), &mount("p", Sharing::Private)).unwrap();
    assert!(third.is_private());
    let third_path = third.path().to_path_buf();
    drop(third);
    assert!(!third_path.exists(), "removed on drop");
    drop(shared);
    let fourth = acquire(root.path(), &mount("p", Sharing::Private)).unwrap();
    assert!(!fourth.is_private() && fourth.path().join("warm").exists());
}
