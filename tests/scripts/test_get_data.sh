#!/usr/bin/env bash
# scripts/get-data.sh on a tiny fake mirror: a good copy, a second run that only checks, a file missing from the
# mirror, a corrupted file, a file with no public source and no mirror; and data/files.tsv is well formed.
# Usage: bash tests/scripts/test_get_data.sh [SOURCE_DIR]
set -uo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
GET="$ROOT/scripts/get-data.sh"
# shellcheck source=check.sh
. "$(dirname "$0")/check.sh"

mkdir -p "$WORK/mirror/a" "$WORK/mirror/b/c"
printf 'one\n' > "$WORK/mirror/a/one.png"
printf 'two\n' > "$WORK/mirror/b/c/two.jpg"
printf 'three\n' > "$WORK/mirror/three.bmp"
mkdir -p "$WORK/upstream" && cp "$WORK/mirror/three.bmp" "$WORK/upstream/"
sum() { sha256sum "$1" | cut -c1-64; }
{
  echo "# a comment"
  printf '%s\t%s\t%s\n' "$(sum "$WORK/mirror/a/one.png")" a/one.png "file://$WORK/nowhere/one.png"
  printf '%s\t%s\t%s\n' "$(sum "$WORK/mirror/b/c/two.jpg")" b/c/two.jpg "derived: two, downscaled"
  printf '%s\t%s\t%s\n' "$(sum "$WORK/mirror/three.bmp")" three.bmp "file://$WORK/upstream/three.bmp"
} > "$WORK/list.tsv"

# A good copy, then a second run that copies nothing.
bash "$GET" --mirror "$WORK/mirror" --dest "$WORK/dest" --list "$WORK/list.tsv" 2> "$WORK/log1"
check "good mirror: exit 0" test $? -eq 0
check "good mirror: 3 copied" contains "$WORK/log1" "0 already there, 3 copied, 0 downloaded, 0 failed"
check "good mirror: same bytes" cmp -s "$WORK/mirror/b/c/two.jpg" "$WORK/dest/b/c/two.jpg"
bash "$GET" --mirror "$WORK/mirror" --dest "$WORK/dest" --list "$WORK/list.tsv" 2> "$WORK/log2"
check "second run: exit 0" test $? -eq 0
check "second run: only checks" contains "$WORK/log2" "3 already there, 0 copied"

# A file the mirror lacks: named, exit 1, the others still copied.
printf '%s\t%s\t%s\n' "$(printf 'four\n' | sha256sum | cut -c1-64)" d/four.png "file://$WORK/nowhere/four.png" >> "$WORK/list.tsv"
bash "$GET" --mirror "$WORK/mirror" --dest "$WORK/dest2" --list "$WORK/list.tsv" 2> "$WORK/log3"
check "missing file: exit 1" test $? -eq 1
check "missing file: named" contains "$WORK/log3" "d/four.png: missing from the mirror"
check "missing file: others copied" contains "$WORK/log3" "3 copied, 0 downloaded, 1 failed"

# A corrupted file in the mirror: named with both checksums, not kept, and a good copy already in DEST is
# not replaced by it.
printf 'four\n' > "$WORK/mirror/d-four" && mkdir -p "$WORK/mirror/d" && mv "$WORK/mirror/d-four" "$WORK/mirror/d/four.png"
printf 'tw0\n' > "$WORK/mirror/b/c/two.jpg"
bash "$GET" --mirror "$WORK/mirror" --dest "$WORK/dest3" --list "$WORK/list.tsv" 2> "$WORK/log4"
check "corrupted file: exit 1" test $? -eq 1
check "corrupted file: named" contains "$WORK/log4" "b/c/two.jpg: checksum mismatch"
check "corrupted file: not kept" test ! -e "$WORK/dest3/b/c/two.jpg"
check "corrupted file: no temporary left" test -z "$(find "$WORK/dest3" -name '*.tmp-*')"
bash "$GET" --mirror "$WORK/mirror" --dest "$WORK/dest" --list "$WORK/list.tsv" 2> "$WORK/log5"
check "corrupted mirror, verified copy: kept" contains "$WORK/log5" "3 already there, 1 copied, 0 downloaded, 0 failed"

# No mirror: downloads what can be downloaded; a derived file has no public source and is named; a URL that
# does not answer is named.
bash "$GET" --mirror none --dest "$WORK/dest4" --list "$WORK/list.tsv" 2> "$WORK/log6"
check "no mirror: exit 1" test $? -eq 1
check "no mirror: 1 downloaded" contains "$WORK/log6" "0 copied, 1 downloaded, 3 failed"
check "no mirror: downloaded bytes" cmp -s "$WORK/upstream/three.bmp" "$WORK/dest4/three.bmp"
check "no mirror: derived file named" contains "$WORK/log6" "b/c/two.jpg: no public file has these bytes"
check "no mirror: failed download named" contains "$WORK/log6" "a/one.png: download failed"

# Usage errors.
bash "$GET" --mirror "$WORK/no-such-dir" --dest "$WORK/dest5" --list "$WORK/list.tsv" 2> /dev/null
check "missing mirror folder: exit 2" test $? -eq 2
bash "$GET" --frobnicate 2> /dev/null
check "unknown argument: exit 2" test $? -eq 2

# data/files.tsv: every line a SHA-256, a path and a source; no path twice; every collection there.
LIST="$ROOT/data/files.tsv"
bad=$(grep -v '^#' "$LIST" | awk -F'\t' 'NF != 3 || length($1) != 64 || $1 ~ /[^0-9a-f]/ || $2 == "" || $2 ~ /^\// || $2 ~ /\.\./ ||
                                         ($3 !~ /^https:\/\// && $3 !~ /^derived: /)' | head -3)
check "files.tsv: well-formed lines${bad:+ (not: $bad)}" test -z "$bad"
check "files.tsv: no path twice" test -z "$(grep -v '^#' "$LIST" | cut -f2 | sort | uniq -d)"
for c in kodak/ wikipedia/ live_refs_cilissa/ photos/bsds500/ photos/imagenet_samples/ photos/sun_hays80/; do
  check "files.tsv: has $c" test "$(grep -v '^#' "$LIST" | cut -f2 | grep -c "^$c")" -gt 0
done
check "files.tsv: 601 ImageNet samples" test "$(grep -c $'\tphotos/imagenet_samples/' "$LIST")" -eq 601
exit $status
