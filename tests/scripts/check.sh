# Sourced by the script tests: a temporary $WORK removed at exit, and check/contains, which count failures in
# $status (the test's exit status).
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
status=0
check() { # description, condition...
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else echo "FAILED: $what" >&2; status=1; fi
}
contains() { grep -qF -- "$2" "$1"; }
