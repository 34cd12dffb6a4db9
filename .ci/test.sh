#!/usr/bin/env bash
# The README's test command: installs what the test suite needs on a fresh Debian machine (as
# root) and runs the whole suite. CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# busybox-static: the offline base image; skopeo, umoci: outside judges of our images;
# docker-registry: a real registry on loopback; slirp4netns, uidmap: RUN's default network and
# rootless id maps; zstd: checking zstd layers with the real tool; apache2-utils: htpasswd's
# bcrypt entries for the registry's auth.
pkgs=(busybox-static skopeo umoci docker-registry slirp4netns uidmap zstd apache2-utils)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The conformance scores first (each harness fails below 100%), then the whole suite.
echo "== conformance"
cargo test -q --test conformance_parser --test conformance_shell --test conformance_dockerignore \
  --test check_cli -- --nocapture 2>&1 |
  grep -oE '(parser|parser-negative|real-world|shell|envVarTest|wordsTest|extra-cases|dockerignore|real-world check)[^:.]*(\.jsonl)?: [0-9]+/[0-9]+' || true
echo "== test suite"
cargo test --all-targets --no-fail-fast 2>&1
