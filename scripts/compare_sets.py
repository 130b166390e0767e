#!/usr/bin/python3
"""Per-type SRCC of one model on two evaluations (e.g. our own distortions vs the independent implementation of
scripts/independent_set.py), restricted to the types both sets have, with the same for a classical metric.

  python3 scripts/compare_sets.py --a data-work/eval/test-old-greedy --b data-work/indep-eval/shipped \
      [--metric-a data-work/metric-baselines/test-old --metric-b data-work/indep-eval/metrics --metric gmsd]

--a/--b: folders of `hawkeye eval` (predictions.jsonl). --metric-a/--metric-b: folders of
`hawkeye metric NAME --data M --out DIR` (scores.jsonl; lower-is-better metrics are negated). Prints a Markdown
table: per type the SRCC on each set, and overall over the shared types; then, when the manifest rows carry a
"collection", the SRCC per collection of set b.
"""
import argparse
import json
import math
import os
import sys


def ranks(v):
    order = sorted(range(len(v)), key=lambda i: v[i])
    r = [0.0] * len(v)
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2.0 + 1
        i = j + 1
    return r


def srcc(x, y):
    if len(x) < 3:
        return float('nan')
    rx, ry = ranks(x), ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else float('nan')


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def predictions(folder):
    rows = read_jsonl(os.path.join(folder, 'predictions.jsonl'))[1:]
    return [(r['image'], r.get('type', ''), r['label'], r['score']) for r in rows
            if r.get('status') == 'ok' and r.get('score') is not None]


def metric_scores(folder, name):
    rows = read_jsonl(os.path.join(folder, 'scores.jsonl'))
    out = []
    for r in rows:
        v = r.get(name)
        if v is None or not isinstance(v, (int, float)) or not math.isfinite(v):
            continue
        out.append((r['image'], r.get('type', r.get('type_name', '')), r['label'], v))
    return out


def manifest_collections(folder):
    """image -> collection, from the manifest named in predictions.jsonl's header (if rows carry one)."""
    head = read_jsonl(os.path.join(folder, 'predictions.jsonl'))[0]
    data = head.get('data', '')
    if not os.path.isfile(data):
        return {}
    out = {}
    for r in read_jsonl(data)[1:]:
        if 'collection' in r:
            out[r['image']] = r['collection']
    return out


def per_type(rows, sign=1.0):
    by = {}
    for _, t, label, score in rows:
        by.setdefault(t, ([], []))
        by[t][0].append(label)
        by[t][1].append(sign * score)
    return {t: srcc(*v) for t, v in by.items()}


def overall(rows, types, sign=1.0):
    sel = [(label, sign * score) for _, t, label, score in rows if t in types]
    return srcc([a for a, _ in sel], [b for _, b in sel]), len(sel)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--a', required=True)
    ap.add_argument('--b', required=True)
    ap.add_argument('--metric-a')
    ap.add_argument('--metric-b')
    ap.add_argument('--metric', default='gmsd')
    ap.add_argument('--lower-better', action='store_true', help='negate the metric (default: on for gmsd, niqe, brisque_opencv)')
    args = ap.parse_args()
    a, b = predictions(args.a), predictions(args.b)
    types = sorted({t for _, t, _, _ in a} & {t for _, t, _, _ in b})
    if not types:
        sys.exit('compare_sets.py: the two evaluations share no distortion type')
    pa, pb = per_type(a), per_type(b)
    with_metric = args.metric_a and args.metric_b
    sign = -1.0 if (args.lower_better or args.metric in ('gmsd', 'niqe', 'brisque', 'brisque_opencv')) else 1.0
    if with_metric:
        ma, mb = metric_scores(args.metric_a, args.metric), metric_scores(args.metric_b, args.metric)
        qa, qb = per_type(ma, sign), per_type(mb, sign)
    head = '| type | model on a | model on b | b − a |'
    line = '|---|---|---|---|'
    if with_metric:
        head += f' {args.metric} on a | {args.metric} on b |'
        line += '---|---|'
    print(head)
    print(line)
    for t in types:
        row = f'| {t} | {pa[t]:.3f} | {pb[t]:.3f} | {pb[t] - pa[t]:+.3f} |'
        if with_metric:
            row += f' {qa.get(t, float("nan")):.3f} | {qb.get(t, float("nan")):.3f} |'
        print(row)
    (sa, na), (sb, nb) = overall(a, types), overall(b, types)
    row = f'| **all {len(types)} types** (n = {na} / {nb}) | **{sa:.4f}** | **{sb:.4f}** | {sb - sa:+.4f} |'
    if with_metric:
        row += f' {overall(ma, types, sign)[0]:.4f} | {overall(mb, types, sign)[0]:.4f} |'
    print(row)
    coll = manifest_collections(args.b)
    if coll:
        print()
        print('| collection of b | images | model SRCC |' + (f' {args.metric} SRCC |' if with_metric else ''))
        print('|---|---|---|' + ('---|' if with_metric else ''))
        for c in sorted(set(coll.values())):
            rows = [r for r in b if coll.get(r[0]) == c]
            s, n = overall(rows, types)
            out = f'| {c} | {n} | {s:.4f} |'
            if with_metric:
                mrows = [r for r in mb if coll.get(r[0]) == c]
                out += f' {overall(mrows, types, sign)[0]:.4f} |'
            print(out)


if __name__ == '__main__':
    main()
