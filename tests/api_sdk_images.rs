//! Images, builds, volumes and networks through `strata system service` as the Python SDK
//! (PyPI `docker`) drives them in its own integration suite: one script per test, its results
//! printed as one JSON object and checked here. Images come from the offline busybox.

mod api_support;
mod common;

use api_support::Service;
use common::Strata;
use serde_json::{json, Value};

fn service() -> (Strata, Service) {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    s.import_busybox("busybox");
    (s, svc)
}

/// docker-py's build options and the classic builder's stream as its tests read it.
#[test]
fn sdk_builds_as_docker_py_tests_them() {
    let (_s, svc) = service();
    let r = svc.python_json(
        r#"
import docker, io, json, os, tempfile
c = docker.APIClient(version="auto", **docker.utils.kwargs_from_env())
r = {}
def df(*lines): return io.BytesIO("\n".join(lines).encode())
def build(**kw): return list(c.build(decode=True, **kw))
def cached(out): return sum('Using cache' in x.get('stream', '') for x in out)

# A Dockerfile outside the context: docker-py adds it to the tar under a random name, lists
# that name in the .dockerignore it writes, and sends `dockerfile` twice (name, then text).
base = tempfile.mkdtemp()
open(os.path.join(base, 'file.txt'), 'w').write('hello')
open(os.path.join(base, '.dockerignore'), 'w').write('.dockerignore\n')
dfd = tempfile.mkdtemp()
open(os.path.join(dfd, 'Dockerfile'), 'w').write('FROM busybox\nCOPY . /src\nWORKDIR /src\n')
r['outside_last'] = build(path=base, dockerfile=os.path.join(dfd, 'Dockerfile'), tag='sdki-outside')[-1]
ctr = c.create_container('sdki-outside', 'ls -a')
c.start(ctr); c.wait(ctr)
r['outside_ls'] = sorted(c.logs(ctr).decode().split())
c.remove_container(ctr)

# Every step is announced, config steps too; build args reach USER.
out = build(fileobj=df('FROM scratch', 'ARG test', 'USER $test'), tag='sdki-args', buildargs={'test': 'OK'})
r['steps'] = [x['stream'] for x in out if x.get('stream', '').startswith('Step')]
r['user'] = c.inspect_image('sdki-args')['Config']['User']

# cache_from names local images; FROM is not a cache hit.
s = ['FROM busybox', 'ENV FOO=sdki', 'RUN touch baz', 'RUN touch bax']
out = build(fileobj=df(*s), tag='sdki-c1')
r['from_lines'] = [x['stream'] for x in out[:2]]
r['busybox_short'] = c.inspect_image('busybox')['Id'][7:19]
r['cache_from_hit'] = cached(build(fileobj=df(*s), tag='sdki-c2', cache_from=['sdki-c1']))
c.remove_image('sdki-c2')
r['cache_from_missing'] = cached(build(fileobj=df(*s), tag='sdki-c2', cache_from=['sdki-nosuchtag']))
r['local_cache'] = cached(build(fileobj=df(*s), tag='sdki-c3'))

# The classic builder colours a step's stderr.
out = build(fileobj=df('FROM busybox', 'RUN sh -c ">&2 echo sdki-err"'), nocache=True)
r['stderr'] = [x['stream'] for x in out if 'sdki-err' in x.get('stream', '') and not x['stream'].startswith('Step')]

# models: images.build returns the image; a failing RUN is a BuildError with its code.
img, _ = docker.from_env().images.build(fileobj=df('FROM busybox', 'CMD echo hello world'), tag='sdki-model')
r['model_tags'] = img.tags
out = build(fileobj=df('FROM busybox', 'RUN exit 3'), network_mode='none', tag='sdki-fail', nocache=True)
r['fail'] = out[-1]
print(json.dumps(r))
"#,
    );
    assert_eq!(
        r["outside_last"],
        json!({"stream": "Successfully tagged sdki-outside:latest\n"})
    );
    assert_eq!(r["outside_ls"], json!([".", "..", "file.txt"]));
    assert_eq!(
        r["steps"],
        json!([
            "Step 1/3 : FROM scratch\n",
            "Step 2/3 : ARG test\n",
            "Step 3/3 : USER $test\n"
        ])
    );
    assert_eq!(r["user"], "OK");
    let short = r["busybox_short"].as_str().unwrap();
    assert_eq!(
        r["from_lines"],
        json!(["Step 1/4 : FROM busybox\n", format!(" ---> {short}\n")])
    );
    assert_eq!(r["cache_from_hit"], 3, "{r}");
    assert_eq!(r["cache_from_missing"], 0, "{r}");
    assert_eq!(r["local_cache"], 3, "{r}");
    assert_eq!(r["stderr"], json!(["\u{1b}[91msdki-err\n\u{1b}[0m"]));
    assert_eq!(r["model_tags"], json!(["sdki-model:latest"]));
    assert_eq!(r["fail"]["errorDetail"]["code"], 3, "{r}");
}

/// Volumes, networks and images as docker-py's api_* and models_* tests check them.
#[test]
fn sdk_volumes_networks_images() {
    let (_s, svc) = service();
    let r = svc.python_json(
        r#"
import docker, json
c = docker.APIClient(version="auto", **docker.utils.kwargs_from_env())
r = {}
def err(f):
    try:
        f()
    except docker.errors.APIError as e:
        return [e.status_code, e.explanation]

v = c.create_volume('sdki-vol')
r['vol'] = [v['Labels'], v['Options'], v['Driver']]
r['vol_same'] = [c.inspect_volume('sdki-vol') == v, v in c.volumes()['Volumes']]
r['vol_labels'] = c.create_volume('sdki-vol2', labels={'k': 'v'})['Labels']
r['vol_rm_missing'] = err(lambda: c.remove_volume('sdki-nosuchvol'))
anon = c.create_volume()['Name']
r['vol_prune'] = anon in c.prune_volumes()['VolumesDeleted']

n = c.create_network('sdki-net', labels={'a': 'b'})['Id']
net = c.inspect_network(n)
r['net'] = [net['Name'], net['Driver'], net['Scope'], net['IPAM']['Driver'], net['Labels']]
r['ipam_options'] = net['IPAM'].get('Options')
r['scope_local'] = c.inspect_network(n, scope='local')['Id'] == n
r['scope_global'] = err(lambda: c.inspect_network(n, scope='global'))
r['host_driver'] = err(lambda: c.create_network('sdki-host', driver='host'))
r['dup'] = err(lambda: c.create_network('sdki-net', check_duplicate=True))[0]
r['by_partial_id'] = [x['Id'] for x in c.networks(ids=[n[:8]])] == [n]
r['net_prune'] = c.prune_networks()['NetworksDeleted']

# An IP range and auxiliary addresses: addresses come from the range.
from docker.types import IPAMConfig, IPAMPool
pool = IPAMPool(subnet='10.213.0.0/16', iprange='10.213.5.0/24', gateway='10.213.5.254',
                aux_addresses={'a': '10.213.1.5'})
n2 = c.create_network('sdki-ipam', ipam=IPAMConfig(driver='default', pool_configs=[pool]))['Id']
ipam = c.inspect_network(n2)['IPAM']
r['ipam'] = [ipam.pop('Options', None), ipam]
ctr = c.create_container('busybox', 'sleep 30', host_config=c.create_host_config(network_mode='sdki-ipam'))
c.start(ctr)
r['ipam_ip'] = c.inspect_container(ctr)['NetworkSettings']['Networks']['sdki-ipam']['IPAddress']
c.remove_container(ctr, force=True)
c.remove_network(n2)

r['images_info'] = len({i['Id'] for i in c.images(all=True)}) == c.info()['Images']
c.tag('busybox', 'sdki/tagged', 't1')
r['ref_filter'] = [i['RepoTags'] for i in c.images(filters={'reference': 'sdki/*'})]
r['rmi'] = c.remove_image('sdki/tagged:t1')
r['rmi_missing'] = err(lambda: c.remove_image('sdki/none:t1'))
ctr = c.create_container('busybox', ['touch', '/test'])
c.start(ctr); c.wait(ctr)
committed = c.commit(ctr['Id'])['Id']
r['parent'] = c.inspect_image(committed)['Parent'] == c.inspect_image('busybox')['Id']
c.remove_container(ctr)
r['ping'] = c.ping()
r['version'] = c.version(api_version=False)['ApiVersion'] == c._version
print(json.dumps(r))
"#,
    );
    // dockerd keeps the nil maps docker-py sends: `null`, the same in create, inspect and ls.
    assert_eq!(r["vol"], json!([null, null, "local"]));
    assert_eq!(r["vol_same"], json!([true, true]));
    assert_eq!(r["vol_labels"], json!({"k": "v"}));
    assert_eq!(
        r["vol_rm_missing"],
        json!([404, "get sdki-nosuchvol: no such volume"])
    );
    assert_eq!(r["vol_prune"], true);
    assert_eq!(
        r["net"],
        json!(["sdki-net", "bridge", "local", "default", {"a": "b"}])
    );
    assert_eq!(r["ipam_options"], Value::Null);
    assert_eq!(r["scope_local"], true);
    let id = r["scope_global"][1]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(r["scope_global"][0], 404, "{r}");
    assert!(
        id.starts_with("network ") && id.ends_with(" not found"),
        "{r}"
    );
    assert_eq!(
        r["host_driver"],
        json!([403, "only one instance of \"host\" network is allowed"])
    );
    assert_eq!(r["dup"], 409);
    assert_eq!(r["by_partial_id"], true);
    assert_eq!(r["net_prune"], json!(["sdki-net"]));
    assert_eq!(
        r["ipam"],
        json!([null, {"Driver": "default", "Config": [{
            "Subnet": "10.213.0.0/16",
            "IPRange": "10.213.5.0/24",
            "Gateway": "10.213.5.254",
            "AuxiliaryAddresses": {"a": "10.213.1.5"}
        }]}])
    );
    assert_eq!(r["ipam_ip"], "10.213.5.1");
    assert_eq!(r["images_info"], true);
    assert_eq!(r["ref_filter"], json!([["sdki/tagged:t1"]]));
    assert_eq!(r["rmi"], json!([{"Untagged": "sdki/tagged:t1"}]));
    assert_eq!(
        r["rmi_missing"],
        json!([404, "No such image: sdki/none:t1"])
    );
    // The image a commit was made from is its `Parent`, as docker-py's CommitTest checks.
    assert_eq!(r["parent"], true);
    assert_eq!(r["ping"], true);
    assert_eq!(r["version"], true);
}
