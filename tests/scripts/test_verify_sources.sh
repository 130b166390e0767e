#!/usr/bin/env bash
# scripts/verify_sources.py on a tiny local repository: a matching row, a row whose checksum differs, a path the
# commit lacks, a repository with no clone; derived rows are counted, not checked.
# Usage: bash tests/scripts/test_verify_sources.sh [SOURCE_DIR]
set -uo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
VERIFY=("${PYTHON:-python3}" "$ROOT/scripts/verify_sources.py")
# shellcheck source=check.sh
. "$(dirname "$0")/check.sh"

repo=$WORK/repos/owner/name
mkdir -p "$repo/dir" && printf 'pixels\n' > "$repo/dir/a b.png"
git -C "$repo" init -q && git -C "$repo" add . &&
  git -C "$repo" -c user.name=t -c user.email=t@t commit -qm one || { echo "git failed" >&2; exit 1; }
commit=$(git -C "$repo" rev-parse HEAD)
good=$(printf 'pixels\n' | sha256sum | cut -c1-64)
url="https://raw.githubusercontent.com/owner/name/$commit/dir/a%20b.png"
{
  echo "# sha256	path	source"
  printf '%s\t%s\t%s\n' "$good" photos/a.png "$url"
  printf '%s\t%s\t%s\n' "$good" photos/d.png "derived: a, downscaled"
} > "$WORK/good.tsv"
"${VERIFY[@]}" --repos "$WORK/repos" --list "$WORK/good.tsv" > "$WORK/out" 2>&1
check "a matching row passes (exit 0)" test $? -eq 0
check "it is counted" contains "$WORK/out" "1  URL rows whose bytes match"
check "the derived row is counted, not checked" contains "$WORK/out" "1  derived"

{
  printf '%s\t%s\t%s\n' "$(printf 'other\n' | sha256sum | cut -c1-64)" photos/a.png "$url"
  printf '%s\t%s\t%s\n' "$good" photos/b.png "https://raw.githubusercontent.com/owner/name/$commit/missing.png"
  printf '%s\t%s\t%s\n' "$good" photos/c.png "https://raw.githubusercontent.com/nobody/absent/$commit/x.png"
} > "$WORK/bad.tsv"
"${VERIFY[@]}" --repos "$WORK/repos" --list "$WORK/bad.tsv" > "$WORK/out" 2>&1
check "problems give exit 1" test $? -eq 1
check "a checksum that differs is named" contains "$WORK/out" "photos/a.png: the SHA-256 of owner/name"
check "a path the commit lacks is named" contains "$WORK/out" "photos/b.png: owner/name has no missing.png"
check "a repository without a clone is named" contains "$WORK/out" "photos/c.png: no clone of nobody/absent"
check "three problems" contains "$WORK/out" "3 problem(s)"

printf '%s\t%s\n' "$good" photos/a.png > "$WORK/torn.tsv"  # no source column
"${VERIFY[@]}" --repos "$WORK/repos" --list "$WORK/torn.tsv" > "$WORK/out" 2>&1
check "a row without its source gives exit 1" test $? -eq 1
check "it is named by line" contains "$WORK/out" "torn.tsv:1: expected SHA-256, path and source"
"${VERIFY[@]}" --repos "$WORK/no-such-folder" --list "$WORK/good.tsv" > "$WORK/out" 2>&1
check "a missing clone folder is a usage error (exit 2)" test $? -eq 2
exit $status
