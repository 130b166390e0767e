#!/usr/bin/env python3
"""The global tone types (brighten, darken, mean shift, contrast change, colour saturation 1/2) against the rest:
where the SRCC gap is, and what histogram cues say about them (docs/results.md, fifteenth session).

  mix TRAIN_MANIFEST TONE_MANIFEST OUT [PER_REF]
      a training manifest of every row of TONE_MANIFEST (scripts/default-data.sh --sets train-tone) and PER_REF
      (default 2) rows per reference drawn from TRAIN_MANIFEST (seeded), shuffled; image paths relative to OUT
  gap PREDICTIONS...
      per predictions file of `hawkeye eval` on a synthetic set: SRCC, SRCC with the tone types' scores replaced
      by their labels (tone oracle), each type's SRCC, mean bias and mean score per level; then for the 8 types
      that cost the most, the SRCC gained by replacing that type's scores by the labels (oracle) or by shifting
      each (type, level)'s scores so their mean is the label's (level-calibrated: the ranking within a level kept)
  hist MANIFEST
      per (type, level) of a synthetic set: the mean over images of two histogram cues of R, G and B (8 bits):
      the fraction of empty values between the 1st and 99th percentile ("combing": a tone curve on 8-bit data
      leaves gaps) and the spikiness |h - smoothed h| / count over that range
  hist-probe FIT_PREDICTIONS:FIT_MANIFEST NAME=PREDICTIONS:MANIFEST...
      fitted on the first set, applied to the others: a type-agnostic ridge stack, label ~ score + cues +
      score * cues (the cues of `hist` plus each channel's 1st/99th percentiles and fractions at 0 and 255), and a
      softmax type classifier on [score, cues] (accuracy overall and on the tone types)

Needs numpy and Pillow (/usr/bin/python3 on Debian with python3-numpy, python3-pil).
"""
import collections, json, os, random, re, sys
import numpy as np
from PIL import Image

TONE = ["brighten", "darken", "mean_shift", "contrast_change", "color_saturation_1", "color_saturation_2"]


def read_jsonl(path):
    with open(path) as f:
        lines = [l for l in f.read().splitlines() if l.strip()]
    return lines[0], [json.loads(l) for l in lines[1:]]


def rank(x):
    x = np.asarray(x, float)
    order = x.argsort(kind="mergesort")
    r = np.empty(len(x))
    s = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and s[j + 1] == s[i]: j += 1
        r[order[i:j + 1]] = (i + j) / 2
        i = j + 1
    return r


def srcc(a, b): return float(np.corrcoef(rank(a), rank(b))[0, 1])


def predictions(path):
    _, rows = read_jsonl(path)
    rows = [r for r in rows if isinstance(r.get("score"), (int, float))]
    level = [int(re.search(r"_(\d)\.[a-z]+$", r["image"]).group(1)) for r in rows]
    return rows, np.array([r["score"] for r in rows]), np.array([r["label"] for r in rows]), np.array([r["type"] for r in rows]), np.array(level)


def mix(args):
    train, tone, out = args[:3]
    per_ref = int(args[3]) if len(args) > 3 else 2
    header, rows = read_jsonl(train)
    header2, tone_rows = read_jsonl(tone)
    if header != header2: sys.exit("the two manifests have different headers")
    out_dir = os.path.dirname(os.path.abspath(out))
    def moved(r, src):
        r = dict(r)
        for k in ("image", "reference"):
            if k in r: r[k] = os.path.relpath(os.path.join(os.path.dirname(os.path.abspath(src)), r[k]), out_dir)
        return r
    by_ref = collections.defaultdict(list)
    for r in rows: by_ref[r["reference"]].append(r)
    rng = random.Random(0)
    keep = [moved(r, train) for ref in sorted(by_ref) for r in rng.sample(by_ref[ref], min(per_ref, len(by_ref[ref])))]
    both = [moved(r, tone) for r in tone_rows] + keep
    rng.shuffle(both)
    with open(out, "w") as f:
        f.write(header + "\n")
        for r in both: f.write(json.dumps(r) + "\n")
    print(f"{out}: {len(tone_rows)} tone rows + {len(keep)} of {len(rows)} others = {len(both)}")


def gap(args):
    for path in args:
        _, s, l, t, lv = predictions(path)
        oracle = np.where(np.isin(t, TONE), l, s)
        print(f"{path}: SRCC {srcc(s, l):.4f}, tone oracle {srcc(oracle, l):.4f}")
        for tt in TONE:
            m = t == tt
            if not m.any(): continue
            means = " ".join(f"L{k} {l[m & (lv == k)].mean():.2f}/{s[m & (lv == k)].mean():.2f}" for k in range(1, 6) if (m & (lv == k)).any())
            print(f"  {tt:20s} SRCC {srcc(s[m], l[m]):.3f} bias {np.mean(s[m] - l[m]):+.3f}  label/score per level: {means}")
        base = srcc(s, l)
        gains = []
        for tt in sorted(set(t)):
            m = t == tt
            o = s.copy(); o[m] = l[m]
            c = s.copy()
            for k in range(1, 6):
                mm = m & (lv == k)
                if mm.any(): c[mm] = s[mm] - s[mm].mean() + l[mm].mean()
            gains.append((srcc(o, l) - base, srcc(c, l) - base, tt))
        for a, b, tt in sorted(gains, reverse=True)[:8]:
            print(f"  {tt:24s} oracle {a:+.4f}  level-calibrated {b:+.4f}")


CUE_CACHE = {}
def cues(path, full=True):
    if path in CUE_CACHE: return CUE_CACHE[path]
    a = np.asarray(Image.open(path).convert("RGB"))
    out = []
    for c in range(3):
        h = np.bincount(a[..., c].ravel(), minlength=256).astype(float)
        n = h.sum()
        cs = np.cumsum(h) / n
        lo, hi = int(np.searchsorted(cs, 0.01)), int(np.searchsorted(cs, 0.99))
        seg = h[lo:hi + 1]
        empty = float((seg == 0).mean()) if len(seg) > 2 else 1.0
        smooth = np.convolve(h, [0.25, 0.5, 0.25], "same")
        spike = float(np.abs(h - smooth)[lo:hi + 1].sum() / max(seg.sum(), 1))
        out += [empty, spike, lo / 255, hi / 255, h[0] / n, h[255] / n]
    CUE_CACHE[path] = np.array(out)
    return CUE_CACHE[path]


def hist(args):
    base = os.path.dirname(args[0])
    _, rows = read_jsonl(args[0])
    by = collections.defaultdict(list)
    for r in rows: by[(r["type_name"], r["level"])].append(cues(os.path.join(base, r["image"])))
    print("type                 level  empty  spike   (means over images and R, G, B)")
    for k in sorted(by):
        f = np.array(by[k])
        print(f"{k[0]:20s} L{k[1]}     {np.mean(f[:, [0, 6, 12]]):.3f}  {np.mean(f[:, [1, 7, 13]]):.3f}")


def probe_set(spec):
    pred, man = spec.split(":", 1)
    rows, s, l, t, _ = predictions(pred)
    base = os.path.dirname(man)
    X = np.array([np.concatenate([[r["score"]], cues(os.path.join(base, r["image"]))]) for r in rows])
    return X, l, t


def hist_probe(args):
    Xf, yf, tf = probe_set(args[0])
    mu, sd = Xf.mean(0), Xf.std(0) + 1e-6
    z = lambda X: (X - mu) / sd
    design = lambda X: np.hstack([z(X), z(X)[:, :1] * z(X)[:, 1:]])
    sets = [("fit", Xf, yf, tf)] + [(a.split("=", 1)[0],) + probe_set(a.split("=", 1)[1]) for a in args[1:]]
    print("head score alone: " + "  ".join(f"{n} {srcc(X[:, 0], y):.4f}" for n, X, y, _ in sets))
    A = design(Xf)
    am, ym = A.mean(0), yf.mean()
    for lam in (1, 10, 100):
        w = np.linalg.solve((A - am).T @ (A - am) + lam * np.eye(A.shape[1]), (A - am).T @ (yf - ym))
        print(f"ridge stack, lambda {lam:>3}: " + "  ".join(f"{n} {srcc((design(X) - am) @ w + ym, y):.4f}" for n, X, y, _ in sets))
    types = sorted(set(tf))
    index = {k: i for i, k in enumerate(types)}
    Y = np.eye(len(types))[[index[k] for k in tf]]
    W = np.zeros((A.shape[1] + 1, len(types)))
    Af = np.hstack([A, np.ones((len(A), 1))])
    for _ in range(2000):  # softmax regression, plain gradient descent with a little L2
        P = np.exp(Af @ W - (Af @ W).max(1, keepdims=True))
        P /= P.sum(1, keepdims=True)
        W -= 0.5 * (Af.T @ (P - Y) / len(Af) + 1e-3 * W)
    for n, X, y, t in sets:
        p = np.argmax(np.hstack([design(X), np.ones((len(X), 1))]) @ W, 1)
        known = np.array([k in index for k in t])
        truth = np.array([index.get(k, -1) for k in t])
        tone = known & np.isin(t, TONE)
        per = " ".join(f"{k[:8]} {np.mean(p[t == k] == index[k]):.2f}" for k in TONE if k in index and (t == k).any())
        print(f"type classifier on [score, cues], {n}: accuracy {np.mean(p[known] == truth[known]):.3f}, tone types {np.mean(p[tone] == truth[tone]):.3f} ({per})")


if __name__ == "__main__":
    commands = {"mix": mix, "gap": gap, "hist": hist, "hist-probe": hist_probe}
    if len(sys.argv) < 3 or sys.argv[1] not in commands: sys.exit(__doc__)
    commands[sys.argv[1]](sys.argv[2:])
