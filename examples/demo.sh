#!/usr/bin/env bash
# README command 1: builds strata and runs its main job end to end, offline.
#
# Today that is: build strata, make a busybox base image from Debian's static busybox (no
# registry needed), check the sample project's Dockerfile, and show the image through the store
# commands. `strata build` and `strata run` join this script as they land.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v busybox >/dev/null || ! busybox --list >/dev/null 2>&1 || [ ! -x /bin/busybox ]; then
  echo "== installing busybox-static (the offline base image)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
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

echo "== the store"
"$strata" images
"$strata" history busybox
"$strata" inspect busybox | head -40
"$strata" save --format oci -o "$out/busybox.oci.tar" busybox
echo "saved $(du -h "$out/busybox.oci.tar" | cut -f1) oci-archive; its layout:"
tar -tf "$out/busybox.oci.tar" | sort
echo "== done: the store is in $STRATA_ROOT (an OCI image layout under oci/)"
