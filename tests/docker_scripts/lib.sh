# Sourced by every script: `docker` is strata (the harness puts a `docker` wrapper first on
# PATH), and a failed expectation ends the script with what was expected and what came.
set -euo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_eq() { [ "$1" = "$2" ] || fail "expected [$2], got [$1]${3:+ ($3)}"; }
expect_contains() { case "$1" in *"$2"*) ;; *) fail "expected [$1] to contain [$2]";; esac; }
# Runs the command and expects exit code $1.
expect_code() {
  local want=$1; shift
  local got=0
  "$@" >/dev/null 2>&1 || got=$?
  [ "$got" = "$want" ] || fail "$* exited $got, expected $want"
}
# Polls a condition for up to $1 seconds.
eventually() {
  local secs=$1; shift
  for _ in $(seq $((secs * 10))); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  fail "timed out: $*"
}
