#!/usr/bin/env python3
"""Prints the ablation table (Markdown) from data-work/ablation/*/ (or the folder given) written by scripts/ablation.sh.

Columns per row and seed: SRCC, PLCC (logistic-fitted), KRCC and parse failures of greedy answers on the
held-out test split; the same SRCC with the mean of K = 8 samples (when evaluated); the mean per-image standard
deviation of the K = 8 scores; greedy SRCC on the cross-collection LIVE-references set; GRPO training time.
Rows with several seeds also get a "mean ± sd" line, and a second table compares each GRPO row with the warm
start it started from ("SFT only", one deterministic model): the mean difference of SRCC over the seeds, its
standard deviation, and a two-sided one-sample t-test of the differences (n - 1 degrees of freedom).
"""
import glob
import json
import math
import os
import sys

# The argument: a work folder holding ablation/ (default data-work) or the rows' folder itself
# (scripts/ablation.sh --out DIR).
_ARG = sys.argv[1] if len(sys.argv) > 1 else "data-work"
ABLATION = os.path.join(_ARG, "ablation") if os.path.isdir(os.path.join(_ARG, "ablation")) else _ARG
LABELS = {
    "sft": "SFT only (warm start)",
    "plain": "GRPO (no UADO, no perception)",
    "uado": "GRPO + UADO",
    "perception": "GRPO + perception",
    "full": "full Q-Hawkeye (UADO + perception)",
    "reference": "full, reference hyper-parameters (lr 5e-6, γ0 1e-4)",
    "unfrozen": "full, vision tower trained too (train.freeze = [])",
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


def betacf(a, b, x):
    """Continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-14:
            break
    return h


def betainc(a, b, x):
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1 - x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(lbeta) * betacf(a, b, x) / a
    return 1.0 - math.exp(lbeta) * betacf(b, a, 1 - x) / b


def t_test(diffs):
    """Two-sided one-sample t-test of mean(diffs) = 0: (mean, sd, t, p)."""
    n = len(diffs)
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    if sd == 0:
        return mean, sd, math.inf if mean else 0.0, 0.0 if mean else 1.0
    t = mean / (sd / math.sqrt(n))
    v = n - 1
    return mean, sd, t, betainc(v / 2, 0.5, v / (v + t * t))


rows = []
for key in LABELS:
    dirs = sorted(glob.glob(os.path.join(ABLATION, key))) if key == "sft" else sorted(
        glob.glob(os.path.join(ABLATION, key + "-s*")))
    for d in dirs:
        g = load(os.path.join(d, "greedy", "report.json"))
        k = load(os.path.join(d, "k8", "report.json"))
        live = load(os.path.join(d, "live", "report.json"))
        if g is None:
            continue
        secs = None
        if os.path.exists(os.path.join(d, "train.seconds")):
            with open(os.path.join(d, "train.seconds"), encoding="utf-8") as f:
                secs = int(f.read().strip())
        seed = d.rsplit("-s", 1)[1] if key != "sft" else "—"
        rows.append((key, seed, g, k, secs, live))

print("| recipe | seed | SRCC | PLCC (fitted) | KRCC | parse failures | SRCC, mean of K = 8 | mean std over K = 8 | "
      "LIVE set SRCC | GRPO training time |")
print("|---|---|---|---|---|---|---|---|---|---|")
for key, seed, g, k, secs, live in rows:
    print(f"| {LABELS[key]} | {seed} | {f4(g.get('srcc'))} | {f4(g.get('plcc_fitted'))} | {f4(g.get('krcc'))} | "
          f"{g.get('parse_failures')} / {g.get('n', 0) + g.get('parse_failures', 0)} | {f4(k.get('srcc') if k else None)} | "
          f"{f4(k.get('mean_sample_std') if k else None)} | {f4(live.get('srcc') if live else None)} | {minutes(secs)} |")


def stats(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "n/a"
    m = sum(vals) / len(vals)
    if len(vals) < 2:
        return f"{m:.4f}"
    sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1))
    return f"{m:.4f} ± {sd:.4f}"


# mean ± standard deviation over seeds where a row has several
for key in LABELS:
    mine = [r for r in rows if r[0] == key]
    if len(mine) < 2:
        continue
    secs = [r[4] for r in mine if r[4] is not None]
    print(f"| {LABELS[key]} | mean ± sd of {len(mine)} | {stats([r[2].get('srcc') for r in mine])} | "
          f"{stats([r[2].get('plcc_fitted') for r in mine])} | {stats([r[2].get('krcc') for r in mine])} | "
          f"{sum(r[2].get('parse_failures', 0) for r in mine) / len(mine):.1f} | "
          f"{stats([r[3].get('srcc') if r[3] else None for r in mine])} | "
          f"{stats([r[3].get('mean_sample_std') if r[3] else None for r in mine])} | "
          f"{stats([r[5].get('srcc') if r[5] else None for r in mine])} | "
          f"{minutes(sum(secs) / len(secs) if secs else None)} |")

# Paired comparison with the warm start (same test images; the warm start is one deterministic model).
sft = [r for r in rows if r[0] == "sft"]
if sft:
    base_old, base_live = sft[0][2].get("srcc"), (sft[0][5] or {}).get("srcc")
    print()
    print("| recipe | seeds | test-old: SRCC − SFT only (mean ± sd) | t | p (two-sided) | LIVE set: SRCC − SFT only | t | p |")
    print("|---|---|---|---|---|---|---|---|")
    for key in LABELS:
        mine = [r for r in rows if r[0] == key and key != "sft"]
        if len(mine) < 2:
            continue
        cells = []
        for get, base in ((lambda r: r[2].get("srcc"), base_old), (lambda r: (r[5] or {}).get("srcc"), base_live)):
            diffs = [get(r) - base for r in mine if get(r) is not None and base is not None]
            if len(diffs) < 2:
                cells += ["n/a", "", ""]
                continue
            mean, sd, t, p = t_test(diffs)
            cells += [f"{mean:+.4f} ± {sd:.4f}", f"{t:.2f}", f"{p:.3f}"]
        print(f"| {LABELS[key]} | {len(mine)} | " + " | ".join(cells) + " |")


# What GRPO did in each row, from the runs' metrics.jsonl (training records every train.log_every steps, and the
# validation records): the fraction of groups whose K rewards are all equal (zero advantage: they teach nothing),
# the UADO weights (1 = no reweighting), the clip fraction, the reference KL at the end, the mean reward over the
# first and last logged steps, and the validation SRCC at the end.
def run_log(d):
    path = os.path.join(d, "run", "metrics.jsonl")
    train, val = [], []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("kind") == "validation":
                    val.append(rec)
                elif "step" in rec and "loss" in rec:
                    train.append(rec)
    except OSError:
        return None
    return train, val


def mean_of(recs, key):
    vals = [r[key] for r in recs if isinstance(r.get(key), (int, float))]
    return sum(vals) / len(vals) if vals else None


diag = []
for key in LABELS:
    if key == "sft":
        continue
    for d in sorted(glob.glob(os.path.join(ABLATION, key + "-s*"))):
        log = run_log(d)
        if not log or not log[0]:
            continue
        train, val = log
        diag.append((key, d.rsplit("-s", 1)[1], mean_of(train, "zero_advantage_groups"), mean_of(train, "uado_weight_mean"),
                     min((r["uado_weight_min"] for r in train if isinstance(r.get("uado_weight_min"), (int, float))), default=None),
                     mean_of(train, "clip_fraction"), train[-1].get("kl_ref"), mean_of(train[:2], "reward_mean"),
                     mean_of(train[-2:], "reward_mean"), val[-1].get("srcc") if val else None))
if diag:
    print()
    print("| recipe | seed | zero-advantage groups (mean) | UADO weight: mean / smallest | clip fraction | reference KL at the end | "
          "mean reward: first → last 20 steps | validation SRCC at the end |")
    print("|---|---|---|---|---|---|---|---|")
    for key, seed, zero, wmean, wmin, clip, kl, r0, r1, v in diag:
        print(f"| {LABELS[key]} | {seed} | {f4(zero)} | {f4(wmean)} / {f4(wmin)} | {f4(clip)} | {f4(kl)} | "
              f"{f4(r0)} → {f4(r1)} | {f4(v)} |")
