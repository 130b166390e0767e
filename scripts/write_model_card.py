#!/usr/bin/env python3
"""Writes the shipped model directory (last step of scripts/train-default.sh).

Copies the trained model directory (config.json, hawkeye.json, tokenizer.json, model.safetensors), the data
files, the training configs and the evaluation reports into OUT, and writes OUT/MODEL_CARD.md from the measured
figures (synth.json/splits.json of each set, evaluation reports, stage timings, saved run configs, training
logs, the weights file). Nothing in the card is typed by hand: every number comes from a file the pipeline
wrote. A missing report, set or timing is printed as "n/a", so the script also runs on partial outputs.

Layout of WORK (scripts/default-data.sh and scripts/train-default.sh):
  train/ val/ test-old/ test-new/   synth.json + splits.json of each set
  eval/test-old-greedy/ eval/test-old-k8/ eval/test-new-greedy/   report.json (+ scatter.png)
  timing/<stage>.seconds, timing/total.seconds (training stages only: synth..grpo)
  runs/hawkeye-tiny-<stage>/config.toml, metrics.jsonl
  NOTES.md (optional: deviations of this particular run, written by whoever ran it)

Written into OUT besides the model files:
  data-splits.json  {"by": "reference", "seeds": {set: seed}, "splits": {"train": [ids], "val": [...],
                     "test-old": [...], "test-new": [...]}}  (the reference ids of each set)
  data-synth.json   {"train": synth.json, "val": ..., "test-old": ..., "test-new": ...}
  eval/<name>/report.json (+ scatter.png), recipe/*.toml, pretrained/ (NOTICE + LICENSE of a pretrained backbone)
"""
import argparse
import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import tomllib

SETS = ["train", "val", "test-old", "test-new"]
# name, set, decoding label, timing file
EVALS = [("test-old-greedy", "test-old", "greedy", "eval"),
         ("test-old-k8", "test-old", "K = 8 samples (mean)", "eval_k8"),
         ("test-new-greedy", "test-new", "greedy", "eval_new")]
# The photo collections of the training data (scripts/get-data.sh, data/files.tsv): folder, name, origin, terms
# (SOURCES.md, and the shared data folder's SOURCES.md), restricted to research use.
COLLECTIONS = [
    ("kodak", "Kodak", "Kodak Lossless True Colour suite (Eastman Kodak), via Zelex/images",
     "none recorded in SOURCES.md (no licence file came with the copy)", False),
    ("wikipedia", "Wikipedia", "photographs from Wikimedia Commons, via Zelex/images (downscaled)",
     "per-photo licences, mostly Creative Commons, many requiring attribution: see wikipedia/ATTRIBUTION.md", False),
    ("photos/bsds500", "BSDS500", "Berkeley Segmentation Data Set 500 (Corel photographs), BIDS/BSDS500",
     "**research use only** (the BSDS terms)", True),
    ("photos/imagenet_samples", "ImageNet samples", "one ImageNet photograph per class, EliSchwartz/imagenet-sample-images",
     "**ImageNet terms: non-commercial research only**", True),
    ("photos/sun_hays80", "Sun & Hays 80", "Sun & Hays super-resolution set (Flickr photographs), via jbhuang0604/SelfExSR",
     "**research use only**", True),
]
IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp")


def load_json(path):
    """The parsed JSON file, or None when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


def read_seconds(work, name):
    p = os.path.join(work, "timing", name + ".seconds")
    try:
        with open(p, encoding="utf-8") as f:
            return int(float(f.read().strip()))
    except (OSError, ValueError):
        return None


def fmt_time(s):
    if s is None:
        return "n/a"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min" if s >= 3600 else f"{s // 60} min {s % 60:02d} s"


def fmt(v, digits=4):
    return f"{v:.{digits}f}" if isinstance(v, (int, float)) and not isinstance(v, bool) else "n/a"


def fmt_int(v):
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else "n/a"


def fmt_rate(d):
    """'84.1 % (180 of 214)' from a {rows, right, rate} record."""
    if not isinstance(d, dict) or not isinstance(d.get("rate"), (int, float)):
        return "n/a"
    right = d.get("right", d.get("right_family"))  # the overall record says right_family, the others right
    return f"{100 * d['rate']:.1f} % ({right} of {d.get('rows')})"


def last_validation(metrics_path):
    last = None
    if not os.path.exists(metrics_path):
        return None
    with open(metrics_path, encoding="utf-8") as f:
        for line in f:
            try:
                j = json.loads(line)
            except json.JSONDecodeError:
                continue
            if j.get("kind") == "validation":
                last = j
    return last


def run_config(work, stage):
    """The resolved config a stage ran with (config file + command-line overrides), as the trainer saved it."""
    try:
        with open(os.path.join(work, "runs", f"hawkeye-tiny-{stage}", "config.toml"), "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def safetensors_summary(path):
    """Parameter count (BatchNorm running statistics left out), backbone parameters, dtypes and tensor shapes."""
    try:
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
    except (OSError, struct.error, json.JSONDecodeError):
        return None
    params = backbone = 0
    dtypes, shapes = set(), {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        count = 1
        for s in t.get("shape", []):
            count *= s
        shapes[name] = t.get("shape")
        if name.endswith(("running_mean", "running_var", "num_batches_tracked")):
            continue
        dtypes.add(t.get("dtype"))
        params += count
        if name.startswith("visual.backbone."):
            backbone += count
    return {"params": params, "backbone": backbone, "dtypes": sorted(d for d in dtypes if d), "shapes": shapes}


def stage_text(work, s):
    """One numbered recipe line; everything quoted comes from the stage's saved config."""
    c = run_config(work, s)
    t = c.get("train", {})
    lr = t.get("lr")
    lr = f"{lr:g}" if isinstance(lr, (int, float)) else "?"
    # train.steps > 0 overrides train.epochs (the saved config holds both, one of them a default).
    length = (f"{t['steps']} steps" if t.get("steps") else f"{t['epochs']:g} epochs" if "epochs" in t else "? epochs")
    sched = f"{length}, peak learning rate {lr}" if t else "schedule not recorded"
    freeze = t.get("freeze") or []
    frozen = f"frozen: {', '.join(f'`{p}`' for p in freeze)}" if freeze else "nothing frozen"
    train_data = c.get("data", {}).get("train")
    on = f" on `{train_data}`" if train_data else ""
    if s == "vision":
        init = c.get("model", {}).get("vision_init")
        what = (f"the pretrained backbone (`{init}`) fine-tuned under a new projector and an auxiliary head"
                if init else "the vision encoder alone")
        return (f"`vision`: supervised grounding of {what} (auxiliary head: score regression + KADID type and level "
                f"classification on the visual tokens; no language-model pass){on}, {sched}; {frozen}.")
    if s == "vision-full":
        return (f"`vision-full`: the vision stage continued for one epoch on whole 512 × 384 images (the resolution "
                f"scoring sees; stage `vision` trains on 256 × 192 crops){on}, {sched}, warm-up "
                f"{t.get('warmup_steps', '?')} steps; {frozen}.")
    if s.startswith("vision-"):
        return (f"`{s}`: the same stage continued from the previous round's weights with a fresh cosine "
                f"schedule ({sched}, warm-up {t.get('warmup_steps', '?')} steps; overrides of "
                "`hawkeye-tiny-vision.toml` in `scripts/train-default.sh`).")
    if s == "sft":
        sft = c.get("sft", {})
        from_head = sft.get("answer_target") == "auxiliary_head"
        target = "the auxiliary head's score of the image" if from_head else "label"
        noise = sft.get("think_noise") or 0
        extra = ""
        if from_head:
            extra += ("; the answer is the vision tower's own auxiliary-head score of each image "
                      "(`sft.answer_target = \"auxiliary_head\"`), which the language model reads through the quality "
                      "embedding")
        if noise:
            extra += (f"; in {noise:.0%} of the rows the reasoning is a confusable (type, level)'s and only the answer "
                      "trains (`sft.think_noise`)")
        return ("`sft`: supervised warm start of the language model (teacher-forced cross-entropy on "
                f"`<think>description</think><answer>{target}</answer>`){on}, {sched}; {frozen}{extra}.")
    if s == "grpo":
        k = c.get("rollout", {}).get("k")
        kk = f"K = {k}" if k else "K"
        return (f"`grpo`: Q-Hawkeye GRPO ({kk} rollouts per image, uncertainty-aware advantage reweighting, reference "
                f"KL, implicit perception loss against the degraded twin){on}, {sched}; {frozen}; all "
                "hyper-parameters in `recipe/hawkeye-tiny-grpo.toml`.")
    return f"`{s}`: {sched}."


def split_ids(splits):
    """Every reference id of a splits.json (all its splits: each set folder holds one)."""
    ids = []
    for lst in (splits or {}).get("splits", {}).values():
        ids.extend(lst)
    return ids


def collection_index(root):
    """Reference id -> collection folder, for the photo files of the data folder (synth's id rule: the
    file stem, or parent_stem where stems collide; '/', '\\\\', ' ', '|' become '_')."""
    index = {}
    if not root or not os.path.isdir(root):
        return index
    for folder, *_ in COLLECTIONS:
        d = os.path.join(root, folder)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            stem, ext = os.path.splitext(f)
            if ext.lower() not in IMAGE_EXT:
                continue
            for key in (stem, os.path.basename(d) + "_" + stem):
                key = "".join("_" if c in "/\\ |" else c for c in key)
                index.setdefault(key, folder)
    return index


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--final", required=True, help="the trained model directory (the GRPO run's final/)")
    ap.add_argument("--out", required=True, help="the shipped model directory to write")
    ap.add_argument("--work", required=True, help="the pipeline's work directory (data-work)")
    ap.add_argument("--stages", default="vision,vision-full,sft,grpo", help="run names under WORK/runs/hawkeye-tiny-*")
    ap.add_argument("--data", "--shared", dest="data", default=os.environ.get("HAWKEYE_SHARED_DATA") or "data-work/refs",
                    help="the folder of the training photographs, scripts/get-data.sh's destination (to tell which "
                         "collection each reference comes from); default $HAWKEYE_SHARED_DATA, else data-work/refs")
    a = ap.parse_args()

    required = ["config.json", "hawkeye.json", "tokenizer.json", "model.safetensors"]
    for name in required:
        if not os.path.exists(os.path.join(a.final, name)):
            sys.exit(f"write_model_card: {a.final}/{name} is missing")
    synth = {s: load_json(os.path.join(a.work, s, "synth.json")) for s in SETS}
    splits = {s: load_json(os.path.join(a.work, s, "splits.json")) for s in SETS}
    reports = {name: load_json(os.path.join(a.work, "eval", name, "report.json")) for name, *_ in EVALS}
    for s in SETS:
        if synth[s] is None:
            print(f"write_model_card: warning: {a.work}/{s}/synth.json is missing", file=sys.stderr)
    for name, *_ in EVALS:
        if reports[name] is None:
            print(f"write_model_card: warning: {a.work}/eval/{name}/report.json is missing", file=sys.stderr)
    stages = [s for s in a.stages.split(",") if s]
    cfg = load_json(os.path.join(a.final, "config.json")) or {}
    vc, tc = cfg.get("vision_config", {}), cfg.get("text_config", {})
    vision_run = run_config(a.work, "vision")
    vision_init = vision_run.get("model", {}).get("vision_init")

    # --- the model directory ---
    tmp = a.out.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "eval"))
    for name in required:
        shutil.copy2(os.path.join(a.final, name), tmp)
    combined_splits = {"by": "reference",
                       "seeds": {s: (splits[s] or {}).get("seed") for s in SETS if splits[s] is not None},
                       "splits": {s: split_ids(splits[s]) for s in SETS if splits[s] is not None}}
    with open(os.path.join(tmp, "data-splits.json"), "w", encoding="utf-8") as f:
        json.dump(combined_splits, f, indent=2)
        f.write("\n")
    with open(os.path.join(tmp, "data-synth.json"), "w", encoding="utf-8") as f:
        json.dump({s: synth[s] for s in SETS if synth[s] is not None}, f, indent=2)
        f.write("\n")
    for name, *_ in EVALS:
        for fname in ("report.json", "scatter.png"):
            src = os.path.join(a.work, "eval", name, fname)
            if os.path.exists(src):
                os.makedirs(os.path.join(tmp, "eval", name), exist_ok=True)
                shutil.copy2(src, os.path.join(tmp, "eval", name, fname))
    os.makedirs(os.path.join(tmp, "recipe"))
    recipe_files = [c for c in (os.path.join("configs", f"hawkeye-tiny-{s}.toml") for s in stages) if os.path.exists(c)]
    for c in recipe_files:
        shutil.copy2(c, os.path.join(tmp, "recipe"))
    pretrained_files = []
    if vc.get("backbone") and vision_init:
        # The backbone's weights are a derivative of a third-party file: keep its notice and licence beside them.
        for fname in ("NOTICE", "LICENSE"):
            src = os.path.join(os.path.dirname(vision_init), fname)
            if os.path.exists(src):
                os.makedirs(os.path.join(tmp, "pretrained"), exist_ok=True)
                shutil.copy2(src, os.path.join(tmp, "pretrained", fname))
                pretrained_files.append(f"pretrained/{fname}")

    # --- measured facts ---
    st = safetensors_summary(os.path.join(a.final, "model.safetensors")) or {"params": None, "backbone": 0, "dtypes": [], "shapes": {}}
    params = st["params"]  # the shipped weights file; an evaluation report's count when it cannot be read
    if params is None:
        params = next((r["model"]["parameters"] for r in reports.values()
                       if r and isinstance(r.get("model", {}).get("parameters"), int)), None)
    size_mb = os.path.getsize(os.path.join(a.final, "model.safetensors")) / 1e6
    try:
        rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                             check=False).stdout.strip() or "unknown"
    except OSError:
        rev = "unknown"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ncpu = os.cpu_count()

    # --- architecture ---
    grid = vc.get("grid", ["?", "?"])
    if vc.get("backbone"):
        taps = vc.get("backbone_taps", [])
        feat = (st["shapes"].get("visual.feat_norm.weight") or ["?"])[0]
        width = (st["shapes"].get("visual.proj2.weight") or ["?"])[0]
        name = "MobileNetV2 1.0" if vc["backbone"] == "mobilenet_v2" else vc["backbone"]
        src = f"\n  (weights from `{vision_init}`)" if vision_init else ""
        freeze = vision_run.get("train", {}).get("freeze")
        if freeze is None:
            tuned = ""
        elif any("visual.backbone.".startswith(p) for p in freeze):
            tuned = ", frozen in the vision stage"
        else:
            tuned = ", fine-tuned in the vision stage"
        vision_lines = (
            f"- vision: ImageNet-pretrained {name} backbone{src}{tuned};\n"
            f"  the output of blocks {taps} is pooled per cell of a {grid[0]}×{grid[1]} grid with mean and standard deviation\n  ({feat} features per visual "
            f"token, LayerNorm); projector: two linear layers with GELU to width {width}, plus a learned position "
            f"per cell;\n  images up to {fmt_int(vc.get('max_pixels'))} pixels are seen at native resolution "
            f"(not resized to 224)")
    else:
        vision_lines = (
            f"- vision: convolutional stem at half resolution (2×2 pixel unshuffle, {vc.get('stem_channels')} channels),\n"
            f"  stages {vc.get('stage_channels')}, BatchNorm, mean + standard-deviation pooling to a\n"
            f"  {grid[0]}×{grid[1]} grid of visual tokens, MSCN luma channel as input: {vc.get('mscn_input', False)};\n"
            f"  images up to {fmt_int(vc.get('max_pixels'))} pixels are seen at native resolution")
    param_line = f"{fmt_int(params)} parameters"
    if st["backbone"]:
        param_line += f", of which {st['backbone']:,} in the pretrained backbone"
    if vc.get("photometric_stats"):
        vision_lines += ("\n- photometric values: per cell the mean and spread of R, G and B, the mean chroma, the fractions of "
                         f"blown (luma > 0.98) and crushed (< 0.02) pixels and each tapped block's log RMS ({9 + len(taps)} values) "
                         "join the features after the LayerNorm, which would otherwise normalise global contrast and brightness away")
    if vc.get("quality_embedding"):
        vision_lines += ("\n- quality embedding: the auxiliary head's outputs (score, spread over 17 anchors, KADID type and "
                         "level probabilities) enter the language model as a linear embedding added to every visual token")
    arch = f"""{vision_lines}
- language model: Qwen-style decoder, {tc.get('num_hidden_layers')} layers, width
  {tc.get('hidden_size')}, {tc.get('num_attention_heads')} heads, SwiGLU
  {tc.get('intermediate_size')}, RMSNorm, rotary positions, byte-level tokenizer
  (vocabulary {tc.get('vocab_size')})
- {param_line} (counted in `model.safetensors`, BatchNorm running statistics left out)
- weights: `model.safetensors`, {'/'.join(st['dtypes']) or 'n/a'}, {size_mb:.1f} MB"""

    # --- data ---
    index = collection_index(a.data)
    names = {folder: n for folder, n, *_ in COLLECTIONS}
    in_sets = {}  # collection folder -> {set: references}
    set_rows = []
    for s in SETS:
        j = synth[s]
        ids = split_ids(splits[s])
        counts = {}
        for i in ids:
            c = index.get(i, "other")
            counts[c] = counts.get(c, 0) + 1
            in_sets.setdefault(c, {})
            in_sets[c][s] = in_sets[c].get(s, 0) + 1
        if not index:
            coll = "n/a (photo folder not found)"
        else:
            coll = ", ".join(f"{names.get(c, c)} {n}" for c, n in
                             sorted(counts.items(), key=lambda kv: [f for f, *_ in COLLECTIONS].index(kv[0])
                                    if kv[0] in names else 99)) or "n/a"
        if j is None:
            set_rows.append(f"| {s} | n/a | n/a | {coll} | n/a |")
            continue
        ntypes, nlevels = len(j.get("types", [])), len(j.get("levels", []))
        ts = j.get("train_sample") or 0
        if ts and ts < ntypes * nlevels and any(k.startswith("train") for k in (j.get("rows_per_split") or {})):
            how = (f"{ts} of the {ntypes}×{nlevels} type×level combinations per reference (seeded, spread over the "
                   f"types)")
        else:
            how = f"every type×level ({ntypes}×{nlevels})"
        coder = j.get("jpeg2000", "opencv53")  # hawkeye synth --jpeg2000 (absent: sets made before the option)
        if 9 in (j.get("types") or []) and coder != "opencv53":
            how += {"wavelet97": "; JPEG 2000 with the 9/7 wavelet (as MATLAB)",
                    "both": "; JPEG 2000 with the 5/3 or the 9/7 wavelet, drawn per image"}.get(coder, f"; JPEG 2000 coder {coder}")
        set_rows.append(f"| {s} | {fmt_int(j.get('references'))} | {fmt_int(j.get('images'))} | {coll} | {how} |")
    any_synth = next((synth[s] for s in SETS if synth[s] is not None), {}) or {}
    size = any_synth.get("size") or ["n/a", "n/a"]
    ntypes = len(any_synth.get("types", [])) or "n/a"
    seeds = sorted({j.get("seed") for j in synth.values() if j is not None}, key=str)
    held_out = [n for c, n, *_ in COLLECTIONS
                if index and c in in_sets and not any(k in in_sets[c] for k in ("train", "val"))]
    used = [c for c, *_ in COLLECTIONS if c in in_sets]
    terms_rows = []
    for folder, n, origin, terms, _ in COLLECTIONS:
        if index and folder not in used:
            continue
        where = ", ".join(f"{s} {in_sets[folder][s]}" for s in SETS if s in in_sets.get(folder, {})) or "n/a"
        terms_rows.append(f"| {n} (`{folder}`) | {origin} | {where} | {terms} |")
    if vc.get("backbone"):
        terms_rows.append(f"| pretrained backbone (`{vision_init or 'models/pretrained'}`) | MobileNetV2 1.0 trained "
                          "on ImageNet by Google (google-coral/test_data) | initial vision weights | **Apache-2.0** "
                          f"(`models/pretrained/NOTICE`{', copied to `pretrained/`' if pretrained_files else ''}) |")
    research_only = [n for folder, n, _, _, restricted in COLLECTIONS if restricted and (not index or folder in used)]
    # research-only collections among the training photographs (train and val sets), and those only in test sets
    research_train = [n for folder, n, _, _, restricted in COLLECTIONS
                      if restricted and index and any(k in in_sets.get(folder, {}) for k in ("train", "val"))]
    research_test = [n for n in research_only if n not in research_train]
    held = (f" Held out as whole collections (no reference in train or val): {', '.join(held_out)}." if held_out else "")
    data = f"""KADID-style synthetic sets built by `hawkeye synth` (`scripts/default-data.sh`) from pristine photographs,
resized/cropped to {size[0]}×{size[1]}, with the {ntypes} reproducible KADID-10k distortion types (type 15, DnCNN
denoising, is left out) at 5 levels. Labels are KADID-10k's mean human score of each (type, level) over its 81
references (`resources/kadid_type_level_dmos.csv`). Split **by reference** (seed {', '.join(map(str, seeds)) or 'n/a'}):
no reference is in two sets.{held} Training rows carry a degraded twin built by `hawkeye pairs`
(perception loss). The reference ids of each set are in `data-splits.json`, each set's `synth.json` in
`data-synth.json`.

| set | references | images | collections (references) | distortions per reference |
|---|---|---|---|---|
{chr(10).join(set_rows)}

`test-old` is the test split of the earlier default models (same references, same images), so their numbers
compare; `test-new` is new content.

Terms of the photographs (fetched by `scripts/get-data.sh`; origins in `SOURCES.md` and `data/files.tsv`) and
the pretrained weights (`models/pretrained/NOTICE`):

| collection | origin | references per set | terms |
|---|---|---|---|
{chr(10).join(terms_rows)}"""
    if research_train or research_test or (research_only and not index):
        said = []
        if research_train:
            said.append(f"The model was trained on photographs licensed for (non-commercial) research use only "
                        f"({', '.join(research_train)}).")
        if research_test:
            said.append(f"The test sets also use research-only photographs ({', '.join(research_test)}).")
        if not index:
            said.append(f"The collections could not be told apart (no photo folder); the pipeline draws on "
                        f"research-only ones ({', '.join(research_only)}).")
        data += ("\n\n" + " ".join(said) + " Those terms apply to the photographs; whether they also restrict the "
                 "use of weights trained on them is not settled here: treat this model as a research model.")

    # --- results ---
    res_rows = []
    for name, s, dec, _ in EVALS:
        r = reports[name]
        if r is None:
            res_rows.append(f"| {s} | {dec} | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a |")
            continue
        images = r.get("data", {}).get("evaluated_rows")
        if not isinstance(images, int):
            images = (r.get("n") or 0) + (r.get("parse_failures") or 0) + (r.get("load_failures") or 0)
        std = fmt(r.get("mean_sample_std")) if r.get("sampling", {}).get("mode") == "sampled" or \
            r.get("mean_sample_std") is not None else "—"
        res_rows.append(f"| {s} | {dec} | {fmt_int(images)} | {fmt(r.get('srcc'))} | {fmt(r.get('plcc'))} | "
                        f"{fmt(r.get('plcc_fitted'))} | {fmt(r.get('krcc'))} | {fmt(r.get('rmse_fitted'))} | "
                        f"{r.get('parse_failures', 'n/a')} | {std} |")

    old_t = {t.get("type"): t for t in (reports["test-old-greedy"] or {}).get("per_type") or []}
    new_t = {t.get("type"): t for t in (reports["test-new-greedy"] or {}).get("per_type") or []}
    order = list(old_t) + [t for t in new_t if t not in old_t]

    def cells(t):
        return (f"{t.get('n')} | {fmt(t.get('srcc'), 3)} | {fmt(t.get('plcc_fitted'), 3)}" if t else "n/a | n/a | n/a")
    type_rows = "\n".join(f"| {t} | {cells(old_t.get(t))} | {cells(new_t.get(t))} |" for t in order)
    if not type_rows:
        type_rows = "| n/a | n/a | n/a | n/a | n/a | n/a | n/a |"

    reasoning = {name: (reports[name] or {}).get("reasoning") for name, *_ in EVALS}
    reasoning = {k: v for k, v in reasoning.items() if isinstance(v, dict)}
    if reasoning:
        cols = [(name, f"{s} {dec}") for name, s, dec, _ in EVALS if name in reasoning]
        fams = []
        for v in reasoning.values():
            fams += [f for f in (v.get("per_family") or {}) if f not in fams]
        rows = [f"| **all visible rows** | {' | '.join(fmt_rate(reasoning[n]) for n, _ in cols)} |"]
        for fam in fams:
            rows.append(f"| {fam} | {' | '.join(fmt_rate((reasoning[n].get('per_family') or {}).get(fam)) for n, _ in cols)} |")
        excluded = ", ".join(f"{label}: {reasoning[n].get('excluded_invisible', 'n/a')}" for n, label in cols)
        reasoning_md = f"""Does the reasoning name the right distortion family? (`reasoning` in the reports; the first family keyword
in the `<think>` text against the KADID family of the row's type — the greedy answer, or the first of the K
samples; rows whose distortion is barely visible are left out — {excluded}; docs/evaluation.md)

| family | {' | '.join(label for _, label in cols)} |
|---|{'---|' * len(cols)}
{chr(10).join(rows)}"""
    else:
        reasoning_md = ("Does the reasoning name the right distortion family? n/a (no `reasoning` section in the "
                        "evaluation reports).")

    scatters = [f"`eval/{name}/scatter.png`" for name, *_ in EVALS if os.path.exists(os.path.join(tmp, "eval", name, "scatter.png"))]

    # --- recipe, validation, time ---
    recipe = "\n".join(f"{i + 1}. {stage_text(a.work, s)}" for i, s in enumerate(stages))
    val_lines = []
    for s in stages:
        v = last_validation(os.path.join(a.work, "runs", f"hawkeye-tiny-{s}", "metrics.jsonl"))
        if v:
            val_lines.append(f"| {s} | {v.get('step')} | {v.get('source', 'greedy_answers')} | {fmt(v.get('srcc'), 4)} | "
                             f"{v.get('parse_failures')} |")
        else:
            val_lines.append(f"| {s} | n/a | n/a | n/a | n/a |")
    timing_rows = []
    for name in ["synth", "pairs"] + stages:
        s = read_seconds(a.work, name)
        timing_rows.append(f"| {name} | {fmt_time(s)}{f' ({s} s)' if s is not None else ''} |")
    total = read_seconds(a.work, "total")
    timing_rows.append(f"| **training total** (synth … {stages[-1] if stages else 'n/a'}) | {fmt_time(total)}"
                       f"{f' ({total} s)' if total is not None else ''} |")
    for name, _, _, tname in EVALS:
        s = read_seconds(a.work, tname)
        timing_rows.append(f"| {tname} (`eval/{name}`, not in the total) | {fmt_time(s)}{f' ({s} s)' if s is not None else ''} |")

    notes = ""
    notes_path = os.path.join(a.work, "NOTES.md")
    if os.path.exists(notes_path):
        with open(notes_path, encoding="utf-8") as f:
            notes = "## Notes on this run\n\n" + f.read().strip() + "\n\n"

    train_refs = (synth["train"] or {}).get("references")
    train_imgs = (synth["train"] or {}).get("images")
    if vc.get("backbone"):
        what = ("vision-language policy\n(an ImageNet-pretrained MobileNetV2 backbone; the projector and a small language "
                "model trained from scratch on CPU)")
    else:
        what = "vision-language policy trained from scratch on CPU"
    backbone_licence = (", and so are the pretrained backbone's weights (Google, `models/pretrained/NOTICE`)"
                        if vc.get("backbone") else "")
    licence = ("- Licence: hawkeye's code is Apache-2.0" + backbone_licence +
               ". The training photographs keep their own terms (table above)"
               + (f", including research-only collections ({', '.join(research_only)})" if research_only else "")
               + "; the licence of the code does not lift them.")
    card = f"""# hawkeye-tiny — model card

hawkeye's default model: a {fmt_int(params)}-parameter {what}
by `scripts/train-default.sh` with hawkeye's own commands, ending with the Q-Hawkeye GRPO recipe. Given an image it writes a short account of the distortion it
sees inside `<think>…</think>` and a quality score on 1–5 (higher = better) inside `<answer>…</answer>`.
`hawkeye score --samples K` gives the spread of its K sampled scores as an uncertainty.

Everything below was written by `scripts/write_model_card.py` from the files the pipeline produced
(hawkeye revision `{rev}`); "n/a" marks a file that was missing when it ran.

## Architecture

{arch}

## Data

{data}

## Recipe

The configs are in `recipe/`: {', '.join(f'`{os.path.basename(c)}`' for c in recipe_files) or 'n/a'}; each stage
below is described from the config it saved when it ran (`data-work/runs/hawkeye-tiny-<stage>/config.toml`).

{recipe}

Last validation record of each stage (the `val` set, references unseen in training):

| stage | step | source | SRCC | parse failures |
|---|---|---|---|---|
{chr(10).join(val_lines)}

## Results on the held-out test sets (references never seen in training; statistics over the answers that parsed)

| set | decoding | images | SRCC | PLCC (raw) | PLCC (fitted) | KRCC | RMSE (fitted) | parse failures | mean std over K |
|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(res_rows)}

Reproduce: `./build/hawkeye eval --model models/hawkeye-tiny --data data-work/test-old/test.jsonl --out DIR`
(`test-new/test.jsonl` likewise; add `--samples 8` for K = 8) after `scripts/default-data.sh` has rebuilt the
sets; the test `ModelCardSlow` rebuilds test-old and checks the greedy SRCC and fitted PLCC within 0.01.
Baselines on the same kind of data: `docs/baselines.md`.

Per distortion type (greedy):

| type | test-old n | test-old SRCC | test-old PLCC (fitted) | test-new n | test-new SRCC | test-new PLCC (fitted) |
|---|---|---|---|---|---|---|
{type_rows}

{reasoning_md}

Scatter plots: {', '.join(scatters) or 'n/a'}.

## Training time

On {ncpu} cores ({cpu}).

| stage | wall time |
|---|---|
{chr(10).join(timing_rows)}

{notes}## Limits

- Trained on synthetic KADID-style distortions of {fmt_int(train_refs)} photographs ({fmt_int(train_imgs)} training
  images); its scores are calibrated to KADID's per-(type, level) human means, not to authentic (in-the-wild)
  distortions, which it has never seen.
- The test sets use the same distortion generator as training; only their photographs are new (test-new: new
  collections). Results on real IQA datasets may be lower. A check on 12 of the types made by another
  implementation (`scripts/independent_set.py`) is in docs/results.md, "Distortions made by another implementation".
- The reasoning names the distortion the model believes it sees; it is learned from the data builder's
  descriptions and is as reliable as the family rate above, not a free-form critique.
{licence}
"""
    with open(os.path.join(tmp, "MODEL_CARD.md"), "w", encoding="utf-8") as f:
        f.write(card)
    if os.path.exists(a.out):
        old = a.out.rstrip("/") + ".old"
        shutil.rmtree(old, ignore_errors=True)
        os.rename(a.out, old)
        os.rename(tmp, a.out)
        shutil.rmtree(old)
    else:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        os.rename(tmp, a.out)
    print(f"write_model_card: wrote {a.out}")


if __name__ == "__main__":
    main()
