#!/usr/bin/env bash
# Fetches the data that is too large for git (the reference photographs of the default model's data and of the
# full-data tests, two pretrained networks the tests read) into DEST, checking the SHA-256 of every file against
# data/files.tsv (docs/data.md; origin and terms of each collection: SOURCES.md).
#
#   --mirror DIR  copy from DIR, a folder with the same layout (default: ../shared/data when it exists);
#                 --mirror none downloads from the public sources instead
#   --dest DIR    where the files go (default: data-work/refs)
#   --list FILE   the list of files (default: data/files.tsv)
#
# Files already in DEST with the right checksum are left alone, so a second run only checks. A file that is
# missing from the mirror, fails to download, or whose checksum differs is an error naming the file (the wrong
# copy is not kept); every file is tried, then the script exits 1 if any failed.
#
# Usage: bash scripts/get-data.sh [--mirror DIR|none] [--dest DIR] [--list FILE]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MIRROR=
[[ -d $ROOT/../shared/data ]] && MIRROR=$ROOT/../shared/data
DEST=$ROOT/data-work/refs
LIST=$ROOT/data/files.tsv
while (($#)); do
  case $1 in
    --mirror) MIRROR=$2; shift 2;;
    --dest) DEST=$2; shift 2;;
    --list) LIST=$2; shift 2;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
    *) echo "get-data: unknown argument $1 (see --help)" >&2; exit 2;;
  esac
done
[[ $MIRROR == none ]] && MIRROR=
[[ -f $LIST ]] || { echo "get-data: $LIST: no such list" >&2; exit 2; }
[[ -z $MIRROR || -d $MIRROR ]] || { echo "get-data: --mirror $MIRROR: no such folder" >&2; exit 2; }

sha() { sha256sum "$1" | cut -c1-64; }
failed=0 present=0 copied=0 downloaded=0
fail() { echo "get-data: $1" >&2; failed=$((failed + 1)); }

while IFS=$'\t' read -r want path source; do
  [[ -z $want || $want == \#* ]] && continue
  if [[ ${#want} -ne 64 || -z $path || -z $source ]]; then
    fail "$LIST: malformed line for '${path:-$want}'"
    continue
  fi
  out=$DEST/$path
  if [[ -f $out && $(sha "$out") == "$want" ]]; then
    present=$((present + 1))
    continue
  fi
  mkdir -p "$(dirname "$out")"
  tmp=$out.tmp-$$
  if [[ -n $MIRROR ]]; then
    if [[ ! -f $MIRROR/$path ]]; then
      fail "$path: missing from the mirror $MIRROR"
      continue
    fi
    cp "$MIRROR/$path" "$tmp"
    how=copied
  elif [[ $source == derived:* ]]; then
    fail "$path: no public file has these bytes (${source#derived: }); copy it from a mirror: --mirror DIR"
    continue
  else
    if ! curl -fsSL --retry 2 --connect-timeout 20 -o "$tmp" "$source"; then
      rm -f "$tmp"
      fail "$path: download failed: $source"
      continue
    fi
    how=downloaded
  fi
  got=$(sha "$tmp")
  if [[ $got != "$want" ]]; then
    rm -f "$tmp"
    fail "$path: checksum mismatch (SHA-256 $got, expected $want) in the copy from ${MIRROR:-$source}"
    continue
  fi
  chmod 644 "$tmp"
  mv -f "$tmp" "$out"
  if [[ $how == copied ]]; then copied=$((copied + 1)); else downloaded=$((downloaded + 1)); fi
done < "$LIST"

echo "get-data: $DEST: $present already there, $copied copied, $downloaded downloaded, $failed failed" >&2
((failed == 0)) || exit 1
