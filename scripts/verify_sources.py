#!/usr/bin/env python3
"""Checks the public sources of data/files.tsv without a network: every row whose source is a GitHub raw URL
(https://raw.githubusercontent.com/OWNER/NAME/COMMIT/PATH) is read from a local clone of that repository at
that commit (`git cat-file blob COMMIT:PATH`) and its SHA-256 compared with the list's. Rows with a `derived:`
source have no public file with their bytes and are only counted.

Usage: python3 scripts/verify_sources.py --repos DIR [--list data/files.tsv]
  DIR holds the clones as DIR/OWNER/NAME, DIR/OWNER+NAME or DIR/NAME (a bare clone, or a .git inside, or a
  `repo` folder inside, all work), e.g. `git clone https://github.com/BIDS/BSDS500 DIR/BIDS/BSDS500`.
Exit status: 0 when every URL row matches; 1 when a blob differs or cannot be read (each named); 2 on bad usage.
"""
import argparse
import collections
import hashlib
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

PREFIX = "https://raw.githubusercontent.com/"


def clone_of(repos, owner, name):
    for candidate in (repos / owner / name, repos / f"{owner}+{name}", repos / name):
        for git_dir in (candidate, candidate / ".git", candidate / "repo"):
            if (git_dir / "HEAD").is_file() and (git_dir / "objects").is_dir():
                return git_dir
    return None


def main():
    here = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repos", required=True, type=Path, help="folder of the repositories' clones")
    ap.add_argument("--list", type=Path, default=here / "data" / "files.tsv")
    args = ap.parse_args()
    if not args.repos.is_dir():
        ap.error(f"{args.repos}: no such folder")
    counts = collections.Counter()
    problems = []
    for number, line in enumerate(args.list.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            problems.append(f"{args.list}:{number}: expected SHA-256, path and source separated by tabs")
            continue
        sha, path, source = fields[0], fields[1], fields[2]
        if source.startswith("derived:"):
            counts["derived (no public file: not checked)"] += 1
            continue
        if not source.startswith(PREFIX):
            counts["other source (not checked)"] += 1
            continue
        parts = source[len(PREFIX):].split("/", 3)
        if len(parts) < 4:
            problems.append(f"{path}: cannot read the URL {source}")
            continue
        owner, name, commit, rel = parts[0], parts[1], parts[2], unquote(parts[3])
        git_dir = clone_of(args.repos, owner, name)
        if git_dir is None:
            problems.append(f"{path}: no clone of {owner}/{name} in {args.repos}")
            continue
        blob = subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "blob", f"{commit}:{rel}"], capture_output=True)
        if blob.returncode != 0:
            problems.append(f"{path}: {owner}/{name} has no {rel} at {commit[:12]} "
                            f"({blob.stderr.decode(errors='replace').strip()[:100]})")
            continue
        if blob.stdout.startswith(b"version https://git-lfs"):
            problems.append(f"{path}: {owner}/{name}:{rel} is a Git LFS pointer in this clone")
            continue
        if hashlib.sha256(blob.stdout).hexdigest() != sha:
            problems.append(f"{path}: the SHA-256 of {owner}/{name}@{commit[:12]}:{rel} differs from the list's")
            continue
        counts["URL rows whose bytes match"] += 1
    for what, n in sorted(counts.items()):
        print(f"{n:6d}  {what}")
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
