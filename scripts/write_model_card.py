#!/usr/bin/env python3
"""Writes the shipped model directory (last step of scripts/train-default.sh).

Copies the trained model directory (config.json, hawkeye.json, tokenizer.json, model.safetensors), the data
split file, the training configs and the evaluation reports into OUT, and writes OUT/MODEL_CARD.md from the
measured figures (evaluation reports, stage timings, training logs). Nothing in the card is typed by hand:
every number comes from a file the pipeline wrote.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tomllib


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_seconds(work, name):
    p = os.path.join(work, "timing", name + ".seconds")
    try:
        with open(p, encoding="utf-8") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def fmt_time(s):
    if s is None:
        return "n/a"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min" if s >= 3600 else f"{s // 60} min {s % 60:02d} s"


def fmt(v, digits=4):
    return "n/a" if v is None else f"{v:.{digits}f}"


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


def recipe_steps(work, stages):
    """One numbered line per stage; the vision continuation rounds quote their measured schedule."""
    lines = []
    for s in stages:
        t = run_config(work, s).get("train", {})
        lr = t.get("lr")
        lr = f"{lr:g}" if isinstance(lr, (int, float)) else "?"
        sched = f"{t.get('epochs', '?')} epochs, peak learning rate {lr}" if t else "schedule not recorded"
        if s == "vision":
            text = ("`vision`: supervised grounding of the vision encoder alone (auxiliary head: score regression + "
                    f"KADID type and level classification on the visual tokens; no language-model pass), {sched}.")
        elif s.startswith("vision-"):
            text = (f"`{s}`: the same stage continued from the previous round's weights with a fresh cosine "
                    f"schedule ({sched}, warm-up {t.get('warmup_steps', '?')} steps; overrides of "
                    "`hawkeye-tiny-vision.toml` in `scripts/train-default.sh`).")
        elif s == "sft":
            text = ("`sft`: supervised warm start of the language model on the frozen encoder (teacher-forced "
                    f"cross-entropy on `<think>description</think><answer>label</answer>`), {sched}.")
        elif s == "grpo":
            text = ("`grpo`: Q-Hawkeye GRPO (K rollouts per image, uncertainty-aware advantage reweighting, reference "
                    "KL, implicit perception loss against the degraded twin), hyper-parameters in "
                    "`recipe/hawkeye-tiny-grpo.toml`.")
        else:
            text = f"`{s}`: {sched}."
        lines.append(f"{len(lines) + 1}. {text}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--final", required=True, help="the trained model directory (the GRPO run's final/)")
    ap.add_argument("--out", required=True, help="the shipped model directory to write")
    ap.add_argument("--work", required=True, help="the pipeline's work directory (data-work)")
    ap.add_argument("--stages", default="vision,vision-2,vision-3,sft,grpo", help="run names under WORK/runs/hawkeye-tiny-*")
    a = ap.parse_args()

    required = ["config.json", "hawkeye.json", "tokenizer.json", "model.safetensors"]
    for name in required:
        if not os.path.exists(os.path.join(a.final, name)):
            sys.exit(f"write_model_card: {a.final}/{name} is missing")
    greedy = load_json(os.path.join(a.work, "eval", "test-greedy", "report.json"))
    k8 = load_json(os.path.join(a.work, "eval", "test-k8", "report.json"))
    synth = load_json(os.path.join(a.work, "synth", "synth.json"))

    tmp = a.out.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "eval"))
    for name in required:
        shutil.copy2(os.path.join(a.final, name), tmp)
    shutil.copy2(os.path.join(a.work, "synth", "splits.json"), os.path.join(tmp, "data-splits.json"))
    shutil.copy2(os.path.join(a.work, "synth", "synth.json"), os.path.join(tmp, "data-synth.json"))
    for which in ("test-greedy", "test-k8"):
        os.makedirs(os.path.join(tmp, "eval", which))
        for f in ("report.json", "scatter.png"):
            src = os.path.join(a.work, "eval", which, f)
            if os.path.exists(src):
                shutil.copy2(src, os.path.join(tmp, "eval", which, f))
    os.makedirs(os.path.join(tmp, "recipe"))
    stages = [s for s in a.stages.split(",") if s]
    recipe_files = [c for c in (os.path.join("configs", f"hawkeye-tiny-{s}.toml") for s in stages) if os.path.exists(c)]
    for c in recipe_files:
        shutil.copy2(c, os.path.join(tmp, "recipe"))

    cfg = load_json(os.path.join(a.final, "config.json"))
    params = greedy.get("model", {}).get("parameters")
    size_mb = os.path.getsize(os.path.join(a.final, "model.safetensors")) / 1e6
    try:
        rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                             check=False).stdout.strip()
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

    timing_rows = []
    for name in ["synth", "pairs"] + stages + ["eval", "eval_k8"]:
        s = read_seconds(a.work, name)
        if s is not None:
            timing_rows.append(f"| {name} | {fmt_time(s)} ({s} s) |")
    total = read_seconds(a.work, "total")

    per_type = greedy.get("per_type") or []
    type_rows = "\n".join(
        f"| {t.get('type')} | {t.get('n')} | {fmt(t.get('srcc'), 3)} | {fmt(t.get('plcc_fitted'), 3)} |" for t in per_type)

    val_lines = []
    for s in stages:
        v = last_validation(os.path.join(a.work, "runs", f"hawkeye-tiny-{s}", "metrics.jsonl"))
        if v:
            val_lines.append(f"| {s} | {v.get('step')} | {v.get('source', 'greedy_answers')} | {fmt(v.get('srcc'), 4)} | "
                             f"{v.get('parse_failures')} |")

    notes = ""
    notes_path = os.path.join(a.work, "NOTES.md")  # deviations of this particular run, written by whoever ran it
    if os.path.exists(notes_path):
        with open(notes_path, encoding="utf-8") as f:
            notes = "## Notes on this run\n\n" + f.read().strip() + "\n\n"
    card = f"""# hawkeye-tiny — model card

hawkeye's default model: a {params:,}-parameter vision-language policy trained from scratch on CPU by
`scripts/train-default.sh` with hawkeye's own commands, ending with the Q-Hawkeye GRPO recipe. Given an image it
writes a short account of the distortion it sees inside `<think>…</think>` and a quality score on 1–5 (higher =
better) inside `<answer>…</answer>`. `hawkeye score --samples K` gives the spread of its K sampled scores as an
uncertainty.

Everything below was written by `scripts/write_model_card.py` from the files the pipeline produced
(hawkeye revision `{rev}`).

## Architecture

- vision: convolutional stem at half resolution (2×2 pixel unshuffle, {cfg['vision_config']['stem_channels']} channels),
  stages {cfg['vision_config']['stage_channels']}, BatchNorm, mean + standard-deviation pooling to a
  {cfg['vision_config']['grid'][0]}×{cfg['vision_config']['grid'][1]} grid of visual tokens,
  MSCN luma channel as input: {cfg['vision_config'].get('mscn_input', False)}; images up to
  {cfg['vision_config']['max_pixels']:,} pixels are seen at native resolution
- language model: Qwen-style decoder, {cfg['text_config']['num_hidden_layers']} layers, width
  {cfg['text_config']['hidden_size']}, {cfg['text_config']['num_attention_heads']} heads, SwiGLU
  {cfg['text_config']['intermediate_size']}, RMSNorm, rotary positions, byte-level tokenizer
  (vocabulary {cfg['text_config']['vocab_size']})
- weights: `model.safetensors`, F32, {size_mb:.1f} MB

## Data

A KADID-style synthetic set built by `hawkeye synth` from {synth.get('references')} pristine photos
(`../shared/data/kodak`, `../shared/data/wikipedia`), resized/cropped to {synth['size'][0]}×{synth['size'][1]}, the
{len(synth.get('types', []))} reproducible KADID-10k distortion types (type 15, DnCNN denoising, is left out) at 5
levels: {synth.get('images')} images. Labels are KADID-10k's mean human score of each (type, level) over its 81
references (`resources/kadid_type_level_dmos.csv`). Split **by reference** with seed {synth.get('seed')}
(rows: {json.dumps(synth.get('rows_per_split'))}); the split is in `data-splits.json`. Training rows carry a
degraded twin built by `hawkeye pairs` (perception loss).

## Recipe

The configs are in `recipe/`: {', '.join(f'`{os.path.basename(c)}`' for c in recipe_files)}.

{recipe_steps(a.work, stages)}

Last validation record of each stage (validation split, references unseen in training):

| stage | step | source | SRCC | parse failures |
|---|---|---|---|---|
{chr(10).join(val_lines)}

## Results on the held-out test split ({greedy.get('n', 0) + greedy.get('parse_failures', 0)} images of references never seen in training; statistics over the answers that parsed)

| decoding | SRCC | PLCC (raw) | PLCC (fitted) | KRCC | RMSE (fitted) | parse failures | mean std over K |
|---|---|---|---|---|---|---|---|
| greedy | {fmt(greedy.get('srcc'))} | {fmt(greedy.get('plcc'))} | {fmt(greedy.get('plcc_fitted'))} | {fmt(greedy.get('krcc'))} | {fmt(greedy.get('rmse_fitted'))} | {greedy.get('parse_failures')} | — |
| K = 8 samples (mean) | {fmt(k8.get('srcc'))} | {fmt(k8.get('plcc'))} | {fmt(k8.get('plcc_fitted'))} | {fmt(k8.get('krcc'))} | {fmt(k8.get('rmse_fitted'))} | {k8.get('parse_failures')} | {fmt(k8.get('mean_sample_std'))} |

Reproduce: `./build/hawkeye eval --model models/hawkeye-tiny --data data-work/synth/test.jsonl --out DIR`
(after `scripts/train-default.sh` has rebuilt the set; the test `ModelCardSlow` checks it within 0.01).
Baselines on the same kind of data (`../shared/docs/baselines.md`): PSNR ≈ 0.67, SSIM ≈ 0.83 (both need the
reference), BRISQUE ≈ 0.60, a plain CNN regressor ≈ 0.80.

Per distortion type (greedy):

| type | n | SRCC | PLCC (fitted) |
|---|---|---|---|
{type_rows}

Scatter plots: `eval/test-greedy/scatter.png`, `eval/test-k8/scatter.png`.

## Training time

On {ncpu} cores ({cpu}); total {fmt_time(total)}.

| stage | wall time |
|---|---|
{chr(10).join(timing_rows)}

{notes}## Limits

- Trained on synthetic KADID-style distortions of 73 photos; its scores are calibrated to KADID's per-(type, level)
  human means, not to authentic (in-the-wild) distortions, which it has never seen.
- The reasoning names the distortion the model believes it sees; it is learned from the data builder's
  descriptions and is as reliable as the type accuracy, not a free-form critique.
- Licence: Apache-2.0 (the weights were trained by hawkeye; the training photos' sources are in SOURCES.md).
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
