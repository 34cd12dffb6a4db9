#!/usr/bin/env bash
# README command 1: builds strata and runs its main job end to end, offline.
#
# Build strata, make a busybox base image from Debian's static busybox (no registry needed),
# build the multi-stage sample project in examples/hello (COPY, heredoc RUN, COPY --from, RUN),
# rebuild it fully cached, show the image through the store commands, and run it as a
# container (foreground with --rm, then detached with ps/logs/exec/stop/rm).
set -euo pipefail
cd "$(dirname "$0")/.."

# busybox-static: the offline base image; aardvark-dns, iptables: container networks.
need=()
for p in busybox-static aardvark-dns iptables curl; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "== building strata"
cargo build --release --quiet
strata=$PWD/target/release/strata
export STRATA_ROOT=$PWD/target/demo-store
rm -rf "$STRATA_ROOT"

echo "== making a busybox base image offline"
rootfs=$(mktemp -d)
out=$(mktemp -d)
trap 'rm -rf "$rootfs" "$out"' EXIT
mkdir -p "$rootfs"/{bin,etc,root,tmp,proc,sys,dev}
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
done
chmod 1777 "$rootfs/tmp"
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"
"$strata" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/sh"]' \
  "$rootfs" busybox

echo "== checking examples/hello/Dockerfile"
"$strata" check examples/hello

echo "== building examples/hello (RUN steps in sandboxes)"
"$strata" build --progress=plain -t hello --iidfile "$out/iid" examples/hello
echo "== rebuilding: every step cached, same image"
"$strata" build --progress=plain -t hello --iidfile "$out/iid2" examples/hello 2>&1 | grep -c CACHED | sed 's/$/ steps cached/'
cmp "$out/iid" "$out/iid2" && echo "same image ID: $(cat "$out/iid")"

echo "== the image"
"$strata" images
"$strata" history hello
"$strata" inspect hello | head -40
"$strata" save --format oci -o "$out/hello.oci.tar" hello
echo "saved $(du -h "$out/hello.oci.tar" | cut -f1) oci-archive; the file the RUN steps made:"
mkdir "$out/x" && tar -xf "$out/hello.oci.tar" -C "$out/x"
for layer in $(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(" ".join(l["digest"].split(":")[1] for l in m["layers"]))' \
    "$out/x/blobs/sha256/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"].split(":")[1])' "$out/x/index.json")"); do
  tar -xzf "$out/x/blobs/sha256/$layer" -C "$out/x" srv/GREETING 2>/dev/null || true
done
cat "$out/x/srv/GREETING"

echo "== strata run --rm hello (the image's CMD prints the greeting)"
"$strata" run --rm --network none hello
echo "== a detached container: ps, logs, exec, stop, rm"
"$strata" run -d --name hello-svc --network none hello sh -c 'cat $GREETING_FILE; while true; do sleep 1; done' >/dev/null
sleep 0.5
"$strata" ps
"$strata" logs hello-svc
"$strata" exec hello-svc sh -c 'echo "exec sees: $(head -1 $GREETING_FILE)"'
"$strata" stop -t 2 hello-svc >/dev/null
"$strata" rm hello-svc >/dev/null
"$strata" ps -a
echo "== a web server on a published port: strata run -d -p 127.0.0.1:18080:80 (a bridge network)"
"$strata" run -d --name hello-web -p 127.0.0.1:18080:80 hello \
  sh -c 'mkdir -p /www && cp $GREETING_FILE /www/index.html && exec httpd -f -p 80 -h /www' >/dev/null
"$strata" port hello-web
for _ in $(seq 50); do curl -sf http://127.0.0.1:18080/ && break; sleep 0.1; done
"$strata" ps
"$strata" rm -f hello-web >/dev/null
echo "== done: the store is in $STRATA_ROOT (an OCI image layout under oci/)"
