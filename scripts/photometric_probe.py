#!/usr/bin/env python3
"""How far can global photometric statistics rank the photometric KADID types? (docs/results.md, fourteenth session)

  per-type TRAIN_MANIFEST NAME=TEST_MANIFEST...
      per type (brighten, darken, mean shift, contrast change, colour saturation 1, colour shift): a ridge fit on
      the train set's images of that type from global statistics of the distorted image (NR: 16-bin luma
      histogram, luma quantiles and moments, chroma, blown/crushed fractions, RGB means and spreads), or of the
      image and its difference to its reference (FR oracle); SRCC within the type on each test set.
      The type is given to the probe: this is an upper bound for a no-reference reading of these statistics.
  stack FIT=PREDICTIONS NAME=PREDICTIONS...
      a type-agnostic ridge stack, label ~ score + stats + score*stats, fitted on the first predictions file
      (e.g. `hawkeye eval --readout head --max-new-tokens 1` on the val set) and applied to the others.

Needs numpy and Pillow (/usr/bin/python3 on Debian with python3-numpy, python3-pil).
"""
import json, sys
import numpy as np
from PIL import Image

TYPES = ["brighten", "darken", "mean_shift", "contrast_change", "color_saturation_1", "color_shift"]
def rows(path, types):
    base = path.rsplit('/', 1)[0]
    out = []
    with open(path) as f:
        next(f)
        for line in f:
            r = json.loads(line)
            if r["type_name"] in types: out.append((base + '/' + r["image"], base + '/' + r["reference"], r["label"], r["type_name"]))
    return out
cache = {}
def stats(p):
    if p in cache: return cache[p]
    a = np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) / 255.0
    y = a @ np.array([0.299, 0.587, 0.114], np.float32)
    ch = a.max(2) - a.min(2)
    h = np.histogram(y, bins=16, range=(0, 1))[0] / y.size
    q = np.quantile(y, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])
    v = np.concatenate([[y.mean(), y.std(), ch.mean(), ch.std(), (y > 0.98).mean(), (y < 0.02).mean()], q, h, a.mean((0, 1)), a.std((0, 1))])
    cache[p] = v
    return v
def rank(x):
    o = np.argsort(x, kind="stable"); r = np.empty(len(x)); r[o] = np.arange(len(x))
    # average ties
    xs = np.asarray(x)[o]; i = 0
    while i < len(xs):
        j = i
        while j + 1 < len(xs) and xs[j + 1] == xs[i]: j += 1
        r[o[i:j + 1]] = (i + j) / 2.0; i = j + 1
    return r
def srcc(a, b): return float(np.corrcoef(rank(a), rank(b))[0, 1])
def feats(rs, fr):
    X = []
    for img, ref, _, _ in rs:
        s = stats(img)
        X.append(np.concatenate([s, s - stats(ref)]) if fr else s)
    return np.array(X)
def ridge(X, y, lam=1e-2):
    mu, sd = X.mean(0), X.std(0) + 1e-6
    Z = np.c_[(X - mu) / sd, np.ones(len(X))]
    w = np.linalg.solve(Z.T @ Z + lam * np.eye(Z.shape[1]), Z.T @ y)
    return lambda X2: np.c_[(X2 - mu) / sd, np.ones(len(X2))] @ w
def load(pred):
    out = []
    with open(pred) as f:
        next(f)
        for line in f:
            r = json.loads(line)
            out.append((r["path"], r["label"], r["score"], r["type"]))
    return out
def design(rs):
    S = np.array([stats(r[0]) for r in rs]); h = np.array([r[2] for r in rs])[:, None]
    return np.c_[h, S, h * S]

def per_type(args):
    train = rows(args[0], TYPES)
    tests = {n: rows(p, TYPES) for n, p in (a.split('=') for a in args[1:])}
    print("type".ljust(22) + "".join(f"{n + ' NR':>14}{n + ' FR':>14}" for n in tests))
    for t in TYPES:
        tr = [r for r in train if r[3] == t]
        line = t.ljust(22)
        for n, rs in tests.items():
            te = [r for r in rs if r[3] == t]
            for fr in (False, True):
                f = ridge(feats(tr, fr), np.array([r[2] for r in tr]))
                line += f"{srcc(f(feats(te, fr)), [r[2] for r in te]):14.3f}"
        print(line + f"   (train n={len(tr)})")


def stack(args):
    sets = {n: load(p) for n, p in (a.split('=') for a in args)}
    X = {n: design(rs) for n, rs in sets.items()}
    y = {n: np.array([r[1] for r in rs]) for n, rs in sets.items()}
    fit = list(sets)[0]
    mu, sd = X[fit].mean(0), X[fit].std(0) + 1e-6
    Z = lambda M: np.c_[(M - mu) / sd, np.ones(len(M))]
    for lam in (1.0, 10.0, 100.0):
        w = np.linalg.solve(Z(X[fit]).T @ Z(X[fit]) + lam * np.eye(Z(X[fit]).shape[1]), Z(X[fit]).T @ y[fit])
        line = f"lambda {lam:6.1f}:"
        for n in sets:
            p = Z(X[n]) @ w
            line += f"  {n} head {srcc([r[2] for r in sets[n]], y[n]):.4f} -> stack {srcc(p, y[n]):.4f}"
        print(line)
        if lam == 10.0:
            for n in list(sets)[1:]:
                p = Z(X[n]) @ w
                types = sorted(set(r[3] for r in sets[n]))
                for t in ["brighten", "darken", "mean_shift", "contrast_change", "color_saturation_1", "color_shift"]:
                    idx = [i for i, r in enumerate(sets[n]) if r[3] == t]
                    print(f"   {n} {t:22s} head {srcc([sets[n][i][2] for i in idx], y[n][idx]):.3f} -> stack {srcc(p[idx], y[n][idx]):.3f}")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("per-type", "stack"):
        sys.exit(__doc__)
    (per_type if sys.argv[1] == "per-type" else stack)(sys.argv[2:])
