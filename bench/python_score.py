#!/usr/bin/python3
"""Python `m.score()` vs `hawkeye score` on the same images (issue 20: "within 5 %, same engine").

Makes N images (default 100: the 8 examples/ images, each re-encoded with 12 small brightness offsets plus the
originals, all 512x384 PNGs) in a temporary folder, then times, interleaved, ROUNDS times each:
  cli     `build/hawkeye score DIR --format jsonl --batch 16` (wall time of the process, model load included,
          and the "scored N images in S s" line of its log: scoring only)
  python  `m.score(DIR, batch_size=16)` in one process with the model loaded once (scoring only), and the same
          with the load (load_model + score, for the CLI's wall-time comparison); and m.score() in a new Python
          process per round ("fresh"), which pays the first batch's one-off costs as every CLI run does.
Both use all cores (the default) and greedy decoding with reasoning; the scores must agree record for record.

Usage (from the repository root, after `bash scripts/setup.sh`):
  OMP_WAIT_POLICY=PASSIVE PYTHONPATH=build/python python3 bench/python_score.py [--images 100] [--rounds 3]
Results: docs/python.md, "Speed".
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def make_images(folder, count):
    sources = sorted((ROOT / "examples").glob("*.png"))
    made = []
    offset = 0
    while len(made) < count:
        for src in sources:
            if len(made) == count:
                break
            a = np.asarray(Image.open(src).convert("RGB")).astype(np.int16)
            out = folder / f"{src.stem}-{offset:+03d}.png"
            Image.fromarray(np.clip(a + offset, 0, 255).astype(np.uint8)).save(out)
            made.append(out)
        offset = -offset + (3 if offset <= 0 else 0)  # 0, +3, -3, +6, -6, ...
    return made


def run_cli(folder):
    t0 = time.perf_counter()
    proc = subprocess.run([str(ROOT / "build" / "hawkeye"), "score", str(folder), "--format", "jsonl", "--batch", "16"],
                          capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    scored = float(re.search(r"scored \d+ images in ([0-9.]+) s", proc.stderr).group(1))
    records = [json.loads(line) for line in proc.stdout.splitlines()][1:]
    return wall, scored, records


def run_python_fresh(folder):
    """m.score() in a new Python process, as the CLI is one: model load and first-batch costs in every round."""
    proc = subprocess.run([sys.executable, __file__, "--child", str(folder)], capture_output=True, text=True, check=True)
    out = json.loads(proc.stdout.splitlines()[-1])
    return out["scored"], out["scores"]


def child(folder):
    sys.path.insert(0, str(ROOT / "build" / "python"))
    import hawkeye
    m = hawkeye.load_model("hawkeye-tiny")
    t0 = time.perf_counter()
    records = m.score(folder, batch_size=16)
    scored = time.perf_counter() - t0
    print(json.dumps({"scored": scored, "scores": [x["score"] for x in records]}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child)
    sys.path.insert(0, str(ROOT / "build" / "python"))
    import hawkeye

    with tempfile.TemporaryDirectory(prefix="hawkeye-bench-") as tmp:
        folder = Path(tmp)
        make_images(folder, args.images)
        t0 = time.perf_counter()
        m = hawkeye.load_model("hawkeye-tiny")
        load = time.perf_counter() - t0
        rows = []
        for r in range(args.rounds):
            cli_wall, cli_scored, cli_records = run_cli(folder)
            t0 = time.perf_counter()
            py_records = m.score(str(folder), batch_size=16)
            py_scored = time.perf_counter() - t0
            assert [x["score"] for x in py_records] == [x["score"] for x in cli_records], "scores differ"
            fresh_scored, fresh_scores = run_python_fresh(folder)
            assert fresh_scores == [x["score"] for x in cli_records], "scores differ (fresh process)"
            rows.append((cli_wall, cli_scored, py_scored, fresh_scored))
            print(f"round {r + 1}: cli {cli_wall:.2f} s wall, {cli_scored:.2f} s scoring; "
                  f"python {py_scored:.2f} s scoring (+ {load:.2f} s model load once); "
                  f"python in a fresh process {fresh_scored:.2f} s; "
                  f"python/cli scoring {py_scored / cli_scored:.3f} (warm), {fresh_scored / cli_scored:.3f} (fresh)",
                  flush=True)
        cli_scored = sum(r[1] for r in rows) / len(rows)
        py_scored = sum(r[2] for r in rows) / len(rows)
        cli_wall = sum(r[0] for r in rows) / len(rows)
        print(f"mean over {args.rounds} rounds, {args.images} images: cli {cli_scored:.2f} s scoring "
              f"({args.images / cli_scored:.2f} images/s), {cli_wall:.2f} s wall; python {py_scored:.2f} s "
              f"({args.images / py_scored:.2f} images/s), {py_scored + load:.2f} s with the load; "
              f"ratio python/cli {py_scored / cli_scored:.3f}")
        fresh = sum(r[3] for r in rows) / len(rows)
        print(f"python in a fresh process each round (as the CLI): {fresh:.2f} s scoring, ratio python/cli {fresh / cli_scored:.3f}")
        ratios = sorted(r[2] / r[1] for r in rows)
        print(f"per-round ratios python/cli: {', '.join(f'{x:.3f}' for x in ratios)}; median {ratios[len(ratios) // 2]:.3f}, "
              f"best python {min(r[2] for r in rows):.2f} s vs best cli {min(r[1] for r in rows):.2f} s")
        print(f"load average {os.getloadavg()[0]:.2f} (1 min) at the end")


if __name__ == "__main__":
    main()
