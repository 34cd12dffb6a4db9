//! Two Engine API corners through `strata system service`: `PUT /containers/{id}/archive`
//! replacing a directory with a file and the reverse unless `noOverwriteDirNonDir` (what
//! docker-py's `put_archive` leaves out and the docker CLI's `cp` sets), and
//! `DELETE /containers//PARENT/ALIAS?link=1` removing a legacy link, not a container.

mod api_support;
mod common;

use std::path::Path;

use api_support::{busybox_service, Service, SDK_PRELUDE};

/// A tar of `entries`: (name, `Some(data)` for a file, `None` for a directory).
fn tar_of(entries: &[(&str, Option<&str>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        match data {
            Some(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(d.len() as u64);
                b.append_data(&mut h, name, d.as_bytes()).unwrap();
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, name, std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// `PUT /containers/NAME/archive?path=/QUERY` with `tar` as the body.
fn put(svc: &Service, dir: &Path, name: &str, query: &str, tar: &[u8]) -> api_support::Reply {
    let file = dir.join("up.tar");
    std::fs::write(&file, tar).unwrap();
    svc.put_tar(&file, &format!("/containers/{name}/archive?path=/{query}"))
}

#[test]
fn put_archive_replaces_dirs_and_files_unless_told_not_to() {
    let (s, svc) = busybox_service();
    let dir = s.scratch("tars");
    // Stopped: the image's /root (a directory) and /etc/passwd (a file) are in its layers.
    svc.docker_ok(&[
        "create",
        "--network",
        "none",
        "--name",
        "arc",
        "busybox",
        "sleep",
        "120",
    ]);
    let file_for_dir = tar_of(&[("root", Some("root-now-a-file\n"))]);
    let dir_for_file = tar_of(&[("etc/passwd/", None), ("etc/passwd/inner", Some("inner\n"))]);
    let r = put(
        &svc,
        &dir,
        "arc",
        "&noOverwriteDirNonDir=true",
        &file_for_dir,
    );
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(
        r.json()["message"],
        "cannot overwrite directory \"/root\" with non-directory \"/\""
    );
    let r = put(&svc, &dir, "arc", "&noOverwriteDirNonDir=1", &dir_for_file);
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(
        r.json()["message"],
        "cannot overwrite non-directory \"/etc/passwd\" with directory \"/\""
    );
    assert_eq!(put(&svc, &dir, "arc", "", &file_for_dir).status, 200);
    let r = put(
        &svc,
        &dir,
        "arc",
        "&noOverwriteDirNonDir=false",
        &dir_for_file,
    );
    assert_eq!(r.status, 200, "{r:?}");

    // The overlay shows the replacements, not what the image had below them.
    svc.docker_ok(&["start", "arc"]);
    let sh = |cmd: &str| svc.docker_ok(&["exec", "arc", "sh", "-c", cmd]);
    assert_eq!(
        sh("cat /root; ls -A /etc/passwd"),
        "root-now-a-file\ninner\n"
    );

    // Running: a directory made in the container gives way, and a symlink to a directory is
    // replaced itself, its target left alone.
    sh("mkdir -p /tmp/d/sub && echo x > /tmp/d/sub/x && ln -s /etc /tmp/lnk");
    let tar = tar_of(&[
        ("tmp/d", Some("d-now-a-file\n")),
        ("tmp/lnk", Some("was-a-link\n")),
    ]);
    let r = put(&svc, &dir, "arc", "&noOverwriteDirNonDir=true", &tar);
    assert_eq!(
        r.json()["message"],
        "cannot overwrite directory \"/tmp/d\" with non-directory \"/\""
    );
    assert_eq!(
        sh("ls /tmp/d/sub"),
        "x\n",
        "a refused upload changed nothing"
    );
    assert_eq!(put(&svc, &dir, "arc", "", &tar).status, 200);
    assert_eq!(
        sh("cat /tmp/d /tmp/lnk; ls /etc/passwd"),
        "d-now-a-file\nwas-a-link\ninner\n"
    );
    svc.docker_ok(&["rm", "-f", "arc"]);
}

#[test]
fn sdk_put_archive_replaces() {
    let (_s, svc) = busybox_service();
    let r = svc.python_json(&format!(
        "{SDK_PRELUDE}{}",
        r#"
def tar_of(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as t:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()

c = api.create_container('busybox', ['sleep', '120'], name='arcpy',
                         host_config=api.create_host_config(network_mode='none'))
api.start(c)
def sh(cmd):
    e = api.exec_create(c, ['sh', '-c', cmd])
    return api.exec_start(e).decode()
sh('mkdir -p /srv/data/deep && echo old > /srv/data/deep/f && echo plain > /srv/conf')
r = {}
r['put'] = api.put_archive(c, '/srv', tar_of([('data', b'file\n'), ('conf/', None),
                                              ('conf/app.ini', b'ini\n')]))
r['after'] = sh('cat /srv/data /srv/conf/app.ini')
api.remove_container(c, force=True)
print(json.dumps(r))
"#
    ));
    assert_eq!(r["put"], true);
    assert_eq!(r["after"], "file\nini\n");
}

#[test]
fn docker_rm_link_drops_the_link_not_a_container() {
    let (s, svc) = busybox_service();
    svc.docker_ok(&[
        "run", "-d", "--name", "lk-db", "-e", "SECRET=1", "busybox", "sleep", "120",
    ]);
    svc.docker_ok(&[
        "create",
        "--name",
        "lk-web",
        "--link",
        "lk-db:db",
        "busybox",
        "sh",
        "-c",
        "env | grep -c '^DB_' ; grep -cw db /etc/hosts",
    ]);
    let links = |name: &str| svc.docker_ok(&["inspect", "-f", "{{json .HostConfig.Links}}", name]);
    assert!(links("lk-web").contains("lk-db:db"), "{}", links("lk-web"));

    let err = svc.docker_fails(&["rm", "--link", "lk-db"]);
    assert!(
        err.contains("Error response from daemon: Conflict, cannot remove the default link name of the container"),
        "{err}"
    );
    // The docker CLI trims the name's slashes before sending it, as dockerd then says.
    let err = svc.docker_fails(&["rm", "--link", "/lk-web/nope"]);
    assert!(err.contains("No such container: lk-web/nope"), "{err}");

    assert_eq!(
        svc.docker_ok(&["rm", "--link", "/lk-web/db"]),
        "/lk-web/db\n"
    );
    assert!(!links("lk-web").contains("db"), "{}", links("lk-web"));
    // Both containers are still there, and the parent starts without the link.
    let names = svc.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(
        names.contains("lk-db") && names.contains("lk-web"),
        "{names}"
    );
    svc.docker_ok(&["start", "lk-web"]);
    svc.docker_ok(&["wait", "lk-web"]);
    assert_eq!(svc.docker_ok(&["logs", "lk-web"]), "0\n0\n");

    // The strata CLI, on another parent.
    s.ok(&[
        "create",
        "--name",
        "lk-cli",
        "--link",
        "lk-db:data",
        "busybox",
        "true",
    ]);
    assert_eq!(s.ok(&["rm", "--link", "/lk-cli/data"]), "/lk-cli/data\n");
    assert!(!links("lk-cli").contains("data"), "{}", links("lk-cli"));
    let err = s.fails(&["rm", "--link", "/lk-cli/data"]);
    assert!(err.contains("No such container: /lk-cli/data"), "{err}");
    svc.docker_ok(&["rm", "-f", "lk-db", "lk-web", "lk-cli"]);
}

#[test]
fn sdk_remove_container_link() {
    let (_s, svc) = busybox_service();
    let r = svc.python_json(&format!(
        "{SDK_PRELUDE}{}",
        r#"
db = api.create_container('busybox', ['sleep', '120'], name='lkpy-db')
api.start(db)
app = api.create_container('busybox', ['true'], name='lkpy-app',
                           host_config=api.create_host_config(links={'lkpy-db': 'cache'}))
r = {'before': api.inspect_container(app)['HostConfig']['Links']}
api.remove_container('/lkpy-app/cache', link=True)
r['after'] = api.inspect_container(app)['HostConfig']['Links']
r['both'] = sorted(x['Names'][0] for x in api.containers(all=True))
def err(f):
    try:
        f()
    except docker.errors.APIError as e:
        return [e.status_code, e.explanation]
r['again'] = err(lambda: api.remove_container('/lkpy-app/cache', link=True))
r['default'] = err(lambda: api.remove_container('lkpy-db', link=True))
api.remove_container(db, force=True)
api.remove_container(app, force=True)
print(json.dumps(r))
"#
    ));
    assert!(r["before"].to_string().contains("cache"), "{}", r["before"]);
    assert!(
        r["after"].is_null() || r["after"] == serde_json::json!([]),
        "{}",
        r["after"]
    );
    assert_eq!(r["both"], serde_json::json!(["/lkpy-app", "/lkpy-db"]));
    assert_eq!(
        r["again"],
        serde_json::json!([404, "No such container: /lkpy-app/cache"])
    );
    assert_eq!(
        r["default"],
        serde_json::json!([
            500,
            "Conflict, cannot remove the default link name of the container"
        ])
    );
}
