//! Volumes and commit with real containers: busybox run through the library (`create` +
//! `lifecycle::run`) over a real overlay, then inspected with the binary and `tar`.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{tool, Strata};
use strata::container::lifecycle::run;
use strata::container::mount_spec::parse_volume_flag;
use strata::container::net::NetOptions;
use strata::container::{create, Container, CreateOptions, RunIo};
use strata::sandbox::{Canceller, Stdio};
use strata::store::Store;

struct Bench {
    s: Strata,
    store: Store,
}

impl Bench {
    fn new() -> Bench {
        let s = Strata::new();
        s.import_busybox("busybox");
        let store = Store::open(&s.root).unwrap();
        Bench { s, store }
    }

    fn create(&self, image: &str, volumes: &[&str], rm: bool, script: &str) -> Container {
        let img = self.store.resolve(image).unwrap();
        let opts = CreateOptions {
            command: vec!["sh".into(), "-c".into(), script.into()],
            net: NetOptions {
                network: Some("none".into()),
                ..Default::default()
            },
            mounts: volumes
                .iter()
                .map(|v| parse_volume_flag(v, Path::new("/")).unwrap())
                .collect(),
            auto_remove: rm,
            ..Default::default()
        };
        create(&self.store, &img, image, opts, |_| None).unwrap()
    }

    /// Runs a new container; returns its id, exit code and stdout.
    fn run(&self, image: &str, volumes: &[&str], rm: bool, script: &str) -> (String, i32, String) {
        let c = self.create(image, volumes, rm, script);
        let out: PathBuf = self.s.scratch("out").join(format!("{}.out", c.id));
        let io = RunIo {
            stdin: Stdio::Null,
            stdout: Stdio::File(out.clone()),
            stderr: Stdio::Inherit,
        };
        let store = Store::open(&self.s.root).unwrap();
        let code = run(store, &c.id, io, &Canceller::new(), &mut |_| {}, &mut || {}).unwrap();
        let stdout = fs::read_to_string(&out).unwrap_or_default();
        (c.id, code, stdout)
    }
}

#[test]
fn a_named_volume_keeps_data_across_containers() {
    let b = Bench::new();
    for _ in 0..2 {
        let (_, code, _) = b.run("busybox", &["data:/d"], true, "echo 1 >> /d/n");
        assert_eq!(code, 0);
    }
    let (_, code, out) = b.run("busybox", &["data:/d"], true, "cat /d/n");
    assert_eq!((code, out.as_str()), (0, "1\n1\n"));
    // Removed containers no longer hold it.
    b.s.ok(&["volume", "rm", "data"]);
}

#[test]
fn a_volume_over_an_image_path_starts_with_the_image_files() {
    let b = Bench::new();
    let (_, code, out) = b.run(
        "busybox",
        &["etcvol:/etc"],
        true,
        "cat /etc/passwd; stat -c %a /tmp; echo x > /etc/mine",
    );
    assert_eq!(code, 0);
    assert!(out.starts_with("root:x:0:0"), "{out}");
    // An anonymous volume over /tmp keeps the image's mode (1777).
    let (_, code, out) = b.run("busybox", &["/tmp"], true, "stat -c %a /tmp");
    assert_eq!((code, out.trim()), (0, "1777"));
    // The second container sees the first one's file: the volume is not refilled.
    let (_, _, out) = b.run("busybox", &["etcvol:/etc"], true, "cat /etc/mine");
    assert_eq!(out, "x\n");
    // A volume still used by an existing container cannot be removed.
    let (id, code, _) = b.run("busybox", &["etcvol:/etc"], false, "true");
    assert_eq!(code, 0);
    let err = b.s.fails(&["volume", "rm", "etcvol"]);
    assert!(err.contains("in use") && err.contains(&id), "{err}");
}

#[test]
fn commit_of_a_real_container_runs_with_its_changes() {
    let b = Bench::new();
    let (id, code, _) = b.run(
        "busybox",
        &[],
        false,
        "echo hi > /added && rm /etc/group && mkdir -p /var/x && echo y > /var/x/y",
    );
    assert_eq!(code, 0);
    b.s.ok(&["commit", &id[..12], "snap:1"]);
    let img = b.store.resolve("snap:1").unwrap();
    let top = img.layers().last().unwrap();
    let blob = b
        .store
        .blob_path(&strata::store::digest_of(top.digest()).unwrap());
    let listing = tool("tar", &["-tzf", blob.to_str().unwrap()]);
    let names: Vec<&str> = listing.lines().collect();
    for want in ["added", "etc/.wh.group", "var/x/y"] {
        assert!(names.contains(&want), "{want} missing: {names:?}");
    }
    assert!(
        !names.iter().any(|n| n.starts_with("bin/")),
        "unchanged files in the layer: {names:?}"
    );
    // As dockerd's commit: the container's command, not the image's.
    assert_eq!(
        img.config.config.cmd.as_ref().map(|c| c[..2].to_vec()),
        Some(vec!["sh".to_string(), "-c".to_string()])
    );
    let (_, code, out) = b.run(
        "snap:1",
        &[],
        true,
        "cat /added /var/x/y; test -e /etc/group || echo gone",
    );
    assert_eq!((code, out.as_str()), (0, "hi\ny\ngone\n"));
    // cp and export of the real (stopped) container.
    let host = b.s.scratch("host");
    b.s.ok(&["cp", &format!("{id}:/var/x"), host.to_str().unwrap()]);
    assert_eq!(fs::read_to_string(host.join("x/y")).unwrap(), "y\n");
    let tar = host.join("c.tar");
    b.s.ok(&["export", "-o", tar.to_str().unwrap(), &id]);
    let listing = tool("tar", &["-tf", tar.to_str().unwrap()]);
    assert!(listing.lines().any(|l| l == "added"));
    assert!(listing.lines().any(|l| l == "bin/busybox"));
    assert!(!listing.lines().any(|l| l == "etc/group"));
}

#[test]
fn cp_into_and_out_of_a_running_container() {
    let b = Bench::new();
    let c = b.create(
        "busybox",
        &["live:/vol"],
        false,
        "echo running > /tmp/state; while [ ! -e /stop ]; do sleep 0.05; done; cat /from-host /vol/f",
    );
    let out = b.s.scratch("out").join("live.out");
    let (tx, rx) = std::sync::mpsc::channel();
    let store = Store::open(&b.s.root).unwrap();
    let id = c.id.clone();
    let io = RunIo {
        stdin: Stdio::Null,
        stdout: Stdio::File(out.clone()),
        stderr: Stdio::Inherit,
    };
    let cancel = Canceller::new();
    let handle = {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            run(
                store,
                &id,
                io,
                &cancel,
                &mut |_| {
                    let _ = tx.send(());
                },
                &mut || {},
            )
        })
    };
    rx.recv_timeout(std::time::Duration::from_secs(20))
        .expect("the container started");
    let host = b.s.scratch("host");
    fs::write(host.join("f"), "from host\n").unwrap();
    let h = |p: &str| host.join(p).display().to_string();
    // Wait for the container's first write, then read it back while it runs.
    let mut tries = 0;
    loop {
        let o =
            b.s.command(&["cp", &format!("{}:/tmp/state", c.id), &h("state")])
                .output()
                .unwrap();
        if o.status.success() || tries > 100 {
            break;
        }
        tries += 1;
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(fs::read_to_string(host.join("state")).unwrap(), "running\n");
    // Into the running container: its root and a volume mounted in it.
    b.s.ok(&["cp", &h("f"), &format!("{}:/from-host", c.id)]);
    b.s.ok(&["cp", &h("f"), &format!("{}:/vol/f", c.id)]);
    b.s.ok(&["cp", &h("f"), &format!("{}:/stop", c.id)]);
    let code = handle.join().unwrap().unwrap();
    assert_eq!(code, 0);
    assert_eq!(fs::read_to_string(&out).unwrap(), "from host\nfrom host\n");
}
