#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine (as root) and runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(busybox-static skopeo umoci docker-registry slirp4netns uidmap)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
cargo test --all-targets --no-fail-fast 2>&1
