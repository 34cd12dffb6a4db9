#!/usr/bin/env bash
# The README's test command: installs what the test suite needs on a fresh Debian machine (as
# root) and runs the whole suite. CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# busybox-static: the offline base image; skopeo, umoci: outside judges of our images;
# docker-registry: a real registry on loopback; slirp4netns, uidmap: RUN's default network and
# rootless id maps; zstd: checking zstd layers with the real tool; apache2-utils: htpasswd's
# bcrypt entries for the registry's auth; aardvark-dns, iptables: container networks (names,
# port forwarding); netavark: the alternative bridge backend; iproute2, curl: tests look at
# links and reach published ports from the host; wrk: the network bench's load generator; git,
# xz-utils: build contexts from a git daemon on loopback and from .tar.xz archives; gcc,
# libc6-dev: the sandbox-escape probe, built static; util-linux (setpriv), bsdutils (script):
# a caller with inheritable capabilities, and a terminal without -t. systemd
# (systemd-socket-activate): `system service` under socket activation; python3-venv: the
# Python Docker SDK (PyPI) that drives the service, in a venv of its own; docker-compose:
# Debian's compose 1.29, a real client of the service's volume and network endpoints.
# qemu-user-static, binfmt-support: emulated RUN for foreign platforms (binfmt_misc handlers
# with the F flag).
pkgs=(busybox-static skopeo umoci docker-registry slirp4netns uidmap zstd apache2-utils
  aardvark-dns iptables netavark iproute2 curl wrk git xz-utils gcc libc6-dev util-linux
  bsdutils systemd python3-venv docker-compose qemu-user-static binfmt-support)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Multi-platform tests: an arm64 base made offline from Debian's busybox-static:arm64, only
# downloaded through dpkg multiarch and unpacked (never installed), and qemu's binfmt_misc
# handlers registered (binfmt_misc may not be mounted in a fresh container).
arm64_root=/var/cache/strata-test/busybox-arm64
if [ ! -x "$arm64_root/bin/busybox" ]; then
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt-get update -qq
  deb_dir=$(mktemp -d)
  (cd "$deb_dir" && apt-get download -qq busybox-static:arm64)
  mkdir -p "$arm64_root"
  dpkg-deb -x "$deb_dir"/busybox-static_*_arm64.deb "$arm64_root"
  rm -rf "$deb_dir"
fi
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64

# The Engine API's Python client, pinned, first on PATH for the tests' `python3`.
venv="${XDG_CACHE_HOME:-$HOME/.cache}/strata-test-venv"
if ! "$venv/bin/python3" -c 'import docker' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'docker==7.1.0'
fi
export PATH="$venv/bin:$PATH"

# shared/ (conformance data, bench scenarios) sits next to the checkout. A clone made elsewhere
# (`git clone /work/main /tmp/x`) finds it next to the repository it was cloned from.
if [ -z "${STRATA_SHARED_DIR:-}" ] && [ ! -d ../shared ]; then
  origin=$(git remote get-url origin 2>/dev/null || true)
  if [ -n "$origin" ] && [ -d "$origin/../shared" ]; then
    STRATA_SHARED_DIR=$(cd "$origin/../shared" && pwd)
    export STRATA_SHARED_DIR
    echo "shared/: $STRATA_SHARED_DIR (next to the origin clone)"
  else
    echo "error: shared/ not found at $(pwd)/../shared nor next to the origin repository; set STRATA_SHARED_DIR" >&2
    exit 1
  fi
fi

# The conformance scores first (each harness fails below 100%), then the whole suite.
echo "== conformance"
cargo test -q --test conformance_parser --test conformance_shell --test conformance_dockerignore \
  --test check_cli -- --nocapture 2>&1 |
  grep -oE '(parser|parser-negative|real-world|shell|envVarTest|wordsTest|extra-cases|dockerignore|real-world check)[^:.]*(\.jsonl)?: [0-9]+/[0-9]+' || true
echo "== test suite"
cargo test --all-targets --no-fail-fast 2>&1
