#!/usr/bin/env python3
"""Prints the ablation table (Markdown) from data-work/ablation/*/ written by scripts/ablation.sh.

Columns per row and seed: SRCC, PLCC (logistic-fitted), KRCC and parse failures of greedy answers on the
held-out test split; the same SRCC with the mean of K = 8 samples; the mean per-image standard deviation of
the K = 8 scores; GRPO training time. Rows with several seeds also get a mean line.
"""
import glob
import json
import os
import sys

WORK = sys.argv[1] if len(sys.argv) > 1 else "data-work"
LABELS = {
    "sft": "SFT only (warm start)",
    "plain": "GRPO (no UADO, no perception)",
    "uado": "GRPO + UADO",
    "perception": "GRPO + perception",
    "full": "full Q-Hawkeye (UADO + perception)",
}


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError:
        return None


def f4(v):
    return "n/a" if v is None else f"{v:.4f}"


def minutes(s):
    return "—" if s is None else f"{s / 60:.1f} min"


rows = []
for key in LABELS:
    dirs = sorted(glob.glob(os.path.join(WORK, "ablation", key))) if key == "sft" else sorted(
        glob.glob(os.path.join(WORK, "ablation", key + "-s*")))
    for d in dirs:
        g = load(os.path.join(d, "greedy", "report.json"))
        k = load(os.path.join(d, "k8", "report.json"))
        if g is None:
            continue
        secs = None
        if os.path.exists(os.path.join(d, "train.seconds")):
            with open(os.path.join(d, "train.seconds"), encoding="utf-8") as f:
                secs = int(f.read().strip())
        seed = d.rsplit("-s", 1)[1] if key != "sft" else "0"
        rows.append((key, seed, g, k, secs))

print("| recipe | seed | SRCC | PLCC (fitted) | KRCC | parse failures | SRCC, mean of K = 8 | mean std over K = 8 | GRPO training time |")
print("|---|---|---|---|---|---|---|---|---|")
for key, seed, g, k, secs in rows:
    print(f"| {LABELS[key]} | {seed} | {f4(g.get('srcc'))} | {f4(g.get('plcc_fitted'))} | {f4(g.get('krcc'))} | "
          f"{g.get('parse_failures')} / {g.get('n', 0) + g.get('parse_failures', 0)} | {f4(k.get('srcc') if k else None)} | "
          f"{f4(k.get('mean_sample_std') if k else None)} | {minutes(secs)} |")
# mean over seeds where a row has several
for key in LABELS:
    mine = [r for r in rows if r[0] == key]
    if len(mine) < 2:
        continue
    def mean(get):
        vals = [get(r) for r in mine if get(r) is not None]
        return sum(vals) / len(vals) if vals else None
    print(f"| {LABELS[key]} | mean of {len(mine)} | {f4(mean(lambda r: r[2].get('srcc')))} | "
          f"{f4(mean(lambda r: r[2].get('plcc_fitted')))} | {f4(mean(lambda r: r[2].get('krcc')))} | "
          f"{mean(lambda r: r[2].get('parse_failures')):.1f} | {f4(mean(lambda r: r[3].get('srcc') if r[3] else None))} | "
          f"{f4(mean(lambda r: r[3].get('mean_sample_std') if r[3] else None))} | "
          f"{minutes(mean(lambda r: r[4]))} |")
