#!/usr/bin/env python3
"""Builds the Qwen2.5-VL parity fixture for tests/model/test_qwen_parity.cpp.

A tiny random Qwen2.5-VL (hidden size 64, 2 layers in each tower, fixed seed) is built with Hugging Face
transformers, saved as a model directory (safetensors in bf16, config.json, preprocessor_config.json,
tokenizer.json, hawkeye.json) and run on a fixed prompt with a fixed synthetic picture; the logits of every
prompt position (float32) and 16 greedy tokens (with the logits of every generation step) are saved in
reference.safetensors, the picture in image.png, the versions and cross-checks in meta.json.

    python3 tests/parity/make_qwen_fixture.py --out OUT_DIR [--perf-7b PERF.json]

writes OUT_DIR/qwen2_5_vl_tiny/ and OUT_DIR/qwen2_5_vl_tiny.tar.gz (the same folder, for copying into
tests/parity/fixtures/). Without transformers (e.g. Debian's python3-torch) the model steps are skipped
and only the inputs are written, so the script's plumbing can be checked anywhere.

--perf-7b times a random Qwen2.5-VL-7B-shaped model in bf16 with transformers on a CUDA GPU
(images/s for the vision tower, tokens/s for prefill and decoding) and writes the numbers to PERF.json.
"""
import argparse
import copy
import inspect
import json
import math
import os
import platform
import struct
import sys
import tarfile
import time

import numpy as np
import torch
from PIL import Image

SEED = 20260522
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BYTE_TOKENIZER = os.path.join(REPO, "resources", "tokenizers", "hawkeye-byte", "tokenizer.json")
NAME = "qwen2_5_vl_tiny"

# Token ids of hawkeye's byte tokenizer (resources/tokenizers/hawkeye-byte) plus <|video_pad|>, which the
# fixture's tokenizer adds so that transformers' processor finds every token it looks up.
ENDOFTEXT, IM_START, IM_END, VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD = 256, 257, 258, 259, 260, 261, 266
VOCAB = 272  # larger than the tokenizer (267 ids), as Qwen's 152064 is larger than its 151665

SYSTEM = "You are doing the image quality assessment task."
USER = "What is your overall rating on the quality of this picture?"
MIN_PIXELS, MAX_PIXELS = 56 * 56, 28 * 28 * 64
IMAGE_SIZE = (200, 150)  # width, height: smart_resize -> 196x140, 10x14 patches, 5x7 visual tokens
GREEDY_TOKENS = 16

# Qwen2.5-VL-7B-Instruct's chat_template.json.
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}"
    "<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def log(*args):
    print("[make_qwen_fixture]", *args, flush=True)


# ---- inputs that need no transformers --------------------------------------------------------------------


def smart_resize(height, width, factor=28, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS):
    """transformers' smart_resize (models/qwen2_vl/image_processing_qwen2_vl.py)."""
    if max(height, width) / min(height, width) > 200:
        raise ValueError("aspect ratio above 200")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def fixture_tokenizer():
    with open(BYTE_TOKENIZER, encoding="utf-8") as f:
        tok = json.load(f)
    tok["added_tokens"].append({"id": VIDEO_PAD, "content": "<|video_pad|>", "single_word": False, "lstrip": False,
                                "rstrip": False, "normalized": False, "special": True})
    return tok


def synthetic_image():
    """A picture with smooth gradients, hard edges, a fine texture and noise (deterministic)."""
    w, h = IMAGE_SIZE
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / (w - 1)
    g = 255 * y / (h - 1)
    b = 128 + 100 * np.sin(x / 7.0) * np.cos(y / 5.0)
    disc = (x - 120) ** 2 + (y - 70) ** 2 < 40 ** 2
    r[disc], g[disc], b[disc] = 230, 40, 60
    checker = ((x // 8 + y // 8) % 2 == 0) & (x < 60) & (y > 90)
    r[checker], g[checker], b[checker] = 250, 250, 250
    noise = np.random.RandomState(SEED).normal(0, 12, size=(h, w, 3))
    img = np.stack([r, g, b], axis=-1) + noise
    return Image.fromarray(np.clip(np.round(img), 0, 255).astype(np.uint8), "RGB")


def render_prompt(n_image_tokens):
    """The chat text of CHAT_TEMPLATE for [system, user: text then image] with the pads expanded."""
    return ("<|im_start|>system\n" + SYSTEM + "<|im_end|>\n<|im_start|>user\n" + USER + "<|vision_start|>" +
            "<|image_pad|>" * n_image_tokens + "<|vision_end|><|im_end|>\n<|im_start|>assistant\n")


def byte_level_ids(text, tok):
    """Encodes with the byte tokenizer by hand: added tokens split off, every other byte one token."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    byte_char = {b: chr(c) for b, c in zip(bs, cs)}
    vocab = tok["model"]["vocab"]
    added = sorted(((t["content"], t["id"]) for t in tok["added_tokens"]), key=lambda t: -len(t[0]))
    ids, i = [], 0
    while i < len(text):
        for content, tid in added:
            if text.startswith(content, i):
                ids.append(tid)
                i += len(content)
                break
        else:
            for b in text[i].encode("utf-8"):
                ids.append(vocab[byte_char[b]])
            i += 1
    return ids


def reference_pixels(img):
    """Qwen2VLImageProcessor's steps with Pillow and numpy: bicubic resize, x/255, CLIP mean/std, patches."""
    mean = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
    std = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
    h, w = smart_resize(img.height, img.width)
    arr = np.asarray(img.resize((w, h), Image.BICUBIC))
    x = (arr.astype(np.float64) * (1 / 255)).astype(np.float32)
    x = ((x - mean) / std).transpose(2, 0, 1)  # C, H, W
    patches = np.stack([x, x])  # two identical frames
    gh, gw = h // 14, w // 14
    p = patches.reshape(1, 2, 3, gh // 2, 2, 14, gw // 2, 2, 14).transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return np.ascontiguousarray(p.reshape(gh * gw, 3 * 2 * 14 * 14)), (1, gh, gw)


def write_safetensors(path, tensors, metadata=None):
    """A minimal safetensors writer (numpy arrays), so that the package is not required."""
    names = {np.dtype("float32"): "F32", np.dtype("int64"): "I64", np.dtype("uint8"): "U8"}
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        data = arr.tobytes()
        header[name] = {"dtype": names[arr.dtype], "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * ((8 - len(head) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def model_config():
    text = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, hidden_act="silu", max_position_embeddings=4096, rms_norm_eps=1e-6,
                rope_theta=1000000.0, tie_word_embeddings=False, use_sliding_window=False,
                rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]},  # head_dim 16 -> 8 frequencies
                bos_token_id=None, eos_token_id=IM_END, pad_token_id=ENDOFTEXT)
    vision = dict(depth=2, hidden_size=64, hidden_act="silu", intermediate_size=128, num_heads=4, in_channels=3,
                  in_chans=3, patch_size=14, spatial_merge_size=2, temporal_patch_size=2, tokens_per_second=2,
                  window_size=56,  # windows of 2x2 visual tokens: 12 windows on the 5x7 grid, some partial
                  out_hidden_size=64, fullatt_block_indexes=[1])
    return text, vision


def write_inputs(fixture):
    os.makedirs(fixture, exist_ok=True)
    tok = fixture_tokenizer()
    with open(os.path.join(fixture, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
    with open(os.path.join(fixture, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
                   "bos_token": None, "chat_template": CHAT_TEMPLATE, "model_max_length": 4096}, f, indent=1)
    with open(os.path.join(fixture, "chat_template.json"), "w") as f:
        json.dump({"chat_template": CHAT_TEMPLATE}, f, indent=1)
    with open(os.path.join(fixture, "preprocessor_config.json"), "w") as f:
        json.dump({"image_processor_type": "Qwen2VLImageProcessor", "processor_class": "Qwen2_5_VLProcessor",
                   "min_pixels": MIN_PIXELS, "max_pixels": MAX_PIXELS,
                   "size": {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS},
                   "patch_size": 14, "merge_size": 2, "temporal_patch_size": 2, "resample": 3, "rescale_factor": 1 / 255,
                   "do_resize": True, "do_rescale": True, "do_normalize": True, "do_convert_rgb": True,
                   "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711]},
                  f, indent=1)
    with open(os.path.join(fixture, "hawkeye.json"), "w") as f:
        json.dump({"format_version": 1, "model_id": "qwen2_5_vl_tiny-random",
                   "prompt": {"preset": "qhawkeye-infer", "system": SYSTEM, "user": USER},
                   "score": {"range": [1, 5], "direction": "higher_is_better"},
                   "sampling": {"temperature": 1.0, "top_k": 50, "top_p": 1.0, "max_new_tokens": GREEDY_TOKENS},
                   "stop_tokens": ["<|im_end|>", "<|endoftext|>"]}, f, indent=1)
    img = synthetic_image()
    img.save(os.path.join(fixture, "image.png"))
    pixels, grid = reference_pixels(img)
    n_tokens = grid[0] * (grid[1] // 2) * (grid[2] // 2)
    ids = byte_level_ids(render_prompt(n_tokens), tok)
    meta = {"seed": SEED, "image": "image.png", "image_size": list(IMAGE_SIZE), "grid_thw": list(grid),
            "visual_tokens": n_tokens, "prompt_tokens": len(ids), "system": SYSTEM, "user": USER,
            "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "pillow": Image.__version__}
    try:
        import tokenizers
        enc = tokenizers.Tokenizer.from_file(os.path.join(fixture, "tokenizer.json")).encode(render_prompt(n_tokens), add_special_tokens=False)
        meta["tokenizers"] = tokenizers.__version__
        meta["hf_tokenizers_ids_equal_hand_encoding"] = enc.ids == ids
    except ImportError:
        meta["tokenizers"] = None
    return img, pixels, grid, ids, meta


# ---- transformers ----------------------------------------------------------------------------------------


def randomise(model):
    """Fixed-seed weights, rounded to bf16 so that the bf16 checkpoint holds exactly what float32 runs."""
    g = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            if "norm" in name or "ln_q" in name:
                v = 1.0 + 0.1 * torch.randn(p.shape, generator=g)
            else:
                v = 0.05 * torch.randn(p.shape, generator=g)
            p.copy_(v.to(torch.bfloat16).to(torch.float32))


def build_model(transformers):
    text, vision = model_config()
    cfg = transformers.Qwen2_5_VLConfig(text_config=text, vision_config=vision, image_token_id=IMAGE_PAD,
                                        video_token_id=VIDEO_PAD, vision_start_token_id=VISION_START,
                                        vision_end_token_id=VISION_END, tie_word_embeddings=False,
                                        eos_token_id=IM_END, pad_token_id=ENDOFTEXT)
    try:
        cfg._attn_implementation = "eager"
    except Exception as e:  # noqa: BLE001
        log("could not select eager attention:", e)
    torch.manual_seed(SEED)
    model = transformers.Qwen2_5_VLForConditionalGeneration(cfg).float().eval()
    randomise(model)
    return model


def pil_image_processor(transformers):
    kwargs = dict(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS, patch_size=14, merge_size=2, temporal_patch_size=2)
    try:  # transformers 5: the Pillow backend has its own class
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
        return Qwen2VLImageProcessorPil(**kwargs)
    except ImportError:
        return transformers.Qwen2VLImageProcessor(**kwargs)  # transformers 4: the slow (Pillow) processor


def torchvision_image_processor(transformers):
    kwargs = dict(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS, patch_size=14, merge_size=2, temporal_patch_size=2)
    for name in ("Qwen2VLImageProcessorFast", "Qwen2VLImageProcessor"):
        cls = getattr(transformers, name, None)
        if cls is None:
            continue
        proc = cls(**kwargs)
        if "Pil" not in type(proc).__name__ and ("Fast" in type(proc).__name__ or "Torchvision" in str(type(proc).__mro__)):
            return proc
    return None


def mm_token_types(input_ids):
    """transformers 5's mm_token_type_ids: 0 text, 1 image, 2 video."""
    return (input_ids == IMAGE_PAD).to(torch.int32)


def accepts(fn, name):
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def image_features(model, pixel_values, grid):
    out = model.model.get_image_features(pixel_values=pixel_values, image_grid_thw=grid)
    if hasattr(out, "pooler_output") and out.pooler_output is not None:
        out = out.pooler_output
    if isinstance(out, (list, tuple)):
        out = torch.cat(list(out), 0)
    return out


def run_transformers(fixture, img, ref_pixels, grid, ids, meta):
    import transformers
    meta["transformers"] = transformers.__version__
    model = build_model(transformers)
    # The checkpoint as transformers writes it, in bf16 (exactly the float32 values the reference runs).
    # A copy is converted: converting the model itself would also round its rotary inv_freq buffers to
    # bf16, and they would stay rounded after converting back.
    snapshot = copy.deepcopy(model).to(torch.bfloat16)
    try:
        snapshot.save_pretrained(fixture, safe_serialization=True)
    except TypeError:  # transformers versions that always write safetensors
        snapshot.save_pretrained(fixture)
    del snapshot
    for extra in ("generation_config.json",):
        if os.path.exists(os.path.join(fixture, extra)):
            os.remove(os.path.join(fixture, extra))

    pil = pil_image_processor(transformers)
    meta["image_processor"] = type(pil).__module__ + "." + type(pil).__name__
    pp = pil(images=[img], return_tensors="pt")
    pixel_values, grid_thw = pp["pixel_values"].float(), pp["image_grid_thw"]
    meta["pixels_max_abs_diff_processor_vs_numpy_pillow"] = float(np.abs(pixel_values.numpy() - ref_pixels).max())
    meta["processor_grid_thw"] = grid_thw.tolist()
    try:
        fast = torchvision_image_processor(transformers)
        if fast is not None:
            fv = fast(images=[img], return_tensors="pt")["pixel_values"].float()
            meta["torchvision_processor"] = type(fast).__name__
            meta["pixels_max_abs_diff_torchvision_vs_pillow"] = float((fv - pixel_values).abs().max())
            meta["pixels_mean_abs_diff_torchvision_vs_pillow"] = float((fv - pixel_values).abs().mean())
    except Exception as e:  # noqa: BLE001
        meta["torchvision_processor_error"] = repr(e)

    # transformers' own text pipeline (processor + chat template), compared with the hand-made ids.
    input_ids = torch.tensor([ids], dtype=torch.long)
    try:
        tok = transformers.PreTrainedTokenizerFast(tokenizer_file=os.path.join(fixture, "tokenizer.json"),
                                                   eos_token="<|im_end|>", pad_token="<|endoftext|>")
        video = getattr(transformers, "Qwen2VLVideoProcessor", None)
        extra = {"video_processor": video()} if video is not None else {}
        proc = transformers.Qwen2_5_VLProcessor(image_processor=pil, tokenizer=tok, chat_template=CHAT_TEMPLATE, **extra)
        messages = [{"role": "system", "content": [{"type": "text", "text": SYSTEM}]},
                    {"role": "user", "content": [{"type": "text", "text": USER}, {"type": "image"}]}]
        text = proc.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        inputs = proc(text=[text], images=[img], return_tensors="pt")
        meta["processor_ids_equal_hand_ids"] = inputs["input_ids"][0].tolist() == ids
        meta["processor_pixels_equal"] = bool(torch.equal(inputs["pixel_values"].float(), pixel_values))
        if "mm_token_type_ids" in inputs:
            meta["processor_mm_token_type_ids_equal"] = inputs["mm_token_type_ids"][0].tolist() == mm_token_types(torch.tensor([ids]))[0].tolist()
        if not meta["processor_ids_equal_hand_ids"]:
            log("WARNING: processor ids differ from the hand-made ids; using the processor's")
            input_ids = inputs["input_ids"]
    except Exception as e:  # noqa: BLE001
        meta["processor_error"] = repr(e)
        log("processor path failed (hand-made ids are used):", repr(e))

    attention_mask = torch.ones_like(input_ids)
    # transformers 5 computes the multimodal positions only when told which tokens are image tokens
    # (without mm_token_type_ids it silently falls back to 1-D positions); its processor makes them.
    wants_mm = accepts(model.forward, "mm_token_type_ids") or accepts(model.model.get_rope_index, "mm_token_type_ids")
    mm = {"mm_token_type_ids": mm_token_types(input_ids)} if wants_mm else {}
    meta["mm_token_type_ids_passed"] = bool(mm)
    tensors = {"input_ids": input_ids[0].numpy().astype(np.int64), "pixel_values": pixel_values.numpy(),
               "image_grid_thw": grid_thw.numpy().astype(np.int64)}
    with torch.no_grad():
        out = model(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values, image_grid_thw=grid_thw, **mm)
        tensors["logits"] = out.logits[0].float().numpy()
        try:
            tensors["image_embeds"] = image_features(model, pixel_values, grid_thw).float().numpy()
        except Exception as e:  # noqa: BLE001
            meta["image_embeds_error"] = repr(e)
        try:
            params = inspect.signature(model.model.get_rope_index).parameters
            given = {"input_ids": input_ids, "image_grid_thw": grid_thw, "attention_mask": attention_mask, **mm}
            pos = model.model.get_rope_index(**{k: v for k, v in given.items() if k in params})[0]
            tensors["position_ids"] = pos[:, 0, :].numpy().astype(np.int64)
            # The forward pass must have used these positions (not a 1-D fallback).
            explicit = model(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values,
                             image_grid_thw=grid_thw, position_ids=pos, **mm).logits[0].float().numpy()
            meta["logits_max_abs_diff_explicit_position_ids"] = float(np.abs(explicit - tensors["logits"]).max())
        except Exception as e:  # noqa: BLE001
            meta["position_ids_error"] = repr(e)
        gen = model.generate(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values,
                             image_grid_thw=grid_thw, max_new_tokens=GREEDY_TOKENS, do_sample=False,
                             output_logits=True, return_dict_in_generate=True, eos_token_id=IM_END,
                             pad_token_id=ENDOFTEXT, **mm)
    new_ids = gen.sequences[0, input_ids.shape[1]:]
    tensors["greedy_ids"] = new_ids.numpy().astype(np.int64)
    tensors["step_logits"] = torch.stack([l[0] for l in gen.logits]).float().numpy()
    meta["greedy_ids"] = new_ids.tolist()
    top2 = torch.topk(torch.from_numpy(tensors["step_logits"]), 2, -1).values
    meta["greedy_min_top2_gap"] = float((top2[:, 0] - top2[:, 1]).min())
    meta["checkpoint_tensors"] = sorted(_safetensors_names(os.path.join(fixture, "model.safetensors")))[:6]
    write_safetensors(os.path.join(fixture, "reference.safetensors"), tensors,
                      {"producer": "tests/parity/make_qwen_fixture.py", "transformers": transformers.__version__})


def _safetensors_names(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return [k for k in json.loads(f.read(n)) if k != "__metadata__"]


# ---- 7B-shaped timing -------------------------------------------------------------------------------------


def perf_7b(path):
    import transformers
    dev = torch.device("cuda")
    text = dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                num_key_value_heads=4, hidden_act="silu", max_position_embeddings=128000, rms_norm_eps=1e-6,
                rope_theta=1000000.0, tie_word_embeddings=False, rope_scaling={"type": "mrope", "mrope_section": [16, 24, 24]})
    vision = dict(depth=32, hidden_size=1280, hidden_act="silu", intermediate_size=3420, num_heads=16, in_channels=3,
                  patch_size=14, spatial_merge_size=2, temporal_patch_size=2, tokens_per_second=2, window_size=112,
                  out_hidden_size=3584, fullatt_block_indexes=[7, 15, 23, 31])
    cfg = transformers.Qwen2_5_VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=False)
    try:
        cfg._attn_implementation = "sdpa"
    except Exception:  # noqa: BLE001
        pass
    t0 = time.time()
    torch.manual_seed(0)
    with torch.device(dev):
        prev = torch.get_default_dtype()
        try:
            torch.set_default_dtype(torch.bfloat16)
            model = transformers.Qwen2_5_VLForConditionalGeneration(cfg).eval()
        except Exception as e:  # noqa: BLE001  (a torch that refuses bf16 as the default dtype)
            log("building in float32 first:", repr(e))
            torch.set_default_dtype(prev)
            model = transformers.Qwen2_5_VLForConditionalGeneration(cfg).eval()
        finally:
            torch.set_default_dtype(prev)
        model = model.to(torch.bfloat16)
    params = sum(p.numel() for p in model.parameters())
    res = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "transformers": transformers.__version__,
           "parameters": params, "build_seconds": round(time.time() - t0, 1), "dtype": "bfloat16", "attention": "sdpa"}
    log("7B-shaped model built:", res)
    # 1024x768 pictures -> 1036x756 -> 74x54 patches -> 999 visual tokens each.
    gh, gw = 54, 74
    n_vis = gh * gw // 4
    grid1 = torch.tensor([[1, gh, gw]], device=dev)

    def sync():
        torch.cuda.synchronize()

    def timed(fn, reps=3):
        fn()
        sync()
        t = time.time()
        for _ in range(reps):
            fn()
        sync()
        return (time.time() - t) / reps

    g = torch.Generator(device=dev).manual_seed(0)
    with torch.no_grad():
        for b in (1, 8):
            pv = torch.randn(b * gh * gw, 1176, device=dev, dtype=torch.bfloat16, generator=g)
            grid = grid1.repeat(b, 1)
            s = timed(lambda: image_features(model, pv, grid))
            res[f"vision_images_per_s_batch{b}"] = round(b / s, 2)
        prompt = [1000 + i for i in range(150)] + [151652] + [151655] * n_vis + [151653] + [2000 + i for i in range(50)]
        for b in (1, 8):
            ids = torch.tensor([prompt] * b, device=dev)
            pv = torch.randn(b * gh * gw, 1176, device=dev, dtype=torch.bfloat16, generator=g)
            grid = grid1.repeat(b, 1)
            mask = torch.ones_like(ids)
            wants_mm = accepts(model.forward, "mm_token_type_ids") or accepts(model.model.get_rope_index, "mm_token_type_ids")
            mm = {"mm_token_type_ids": (ids == 151655).to(torch.int32)} if wants_mm else {}
            def prefill():
                try:
                    return model(input_ids=ids, attention_mask=mask, pixel_values=pv, image_grid_thw=grid, logits_to_keep=1, **mm)
                except TypeError:
                    return model(input_ids=ids, attention_mask=mask, pixel_values=pv, image_grid_thw=grid, **mm)
            s_prefill = timed(prefill, reps=2)
            res[f"prefill_tokens_per_s_batch{b}"] = round(b * len(prompt) / s_prefill, 1)
            res[f"prefill_seconds_batch{b}"] = round(s_prefill, 4)
            new = 128
            s_gen = timed(lambda: model.generate(input_ids=ids, attention_mask=mask, pixel_values=pv, image_grid_thw=grid,
                                                 max_new_tokens=new, min_new_tokens=new, do_sample=False,
                                                 eos_token_id=None, pad_token_id=0, **mm), reps=1)
            res[f"generate{new}_seconds_batch{b}"] = round(s_gen, 3)
            res[f"decode_tokens_per_s_batch{b}"] = round(b * (new - 1) / max(1e-9, s_gen - s_prefill), 1)
            res[f"images_per_s_score{new}_batch{b}"] = round(b / s_gen, 3)
            log(res)
    res["peak_gpu_memory_gb"] = round(torch.cuda.max_memory_allocated() / 2 ** 30, 2)
    res["prompt_tokens"] = len(prompt)
    res["visual_tokens_per_image"] = n_vis
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    log("perf:", res)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output folder (created)")
    ap.add_argument("--perf-7b", help="also time a random 7B-shaped model on CUDA and write the numbers here")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(8, os.cpu_count() or 1)))
    fixture = os.path.join(args.out, NAME)
    t0 = time.time()
    img, pixels, grid, ids, meta = write_inputs(fixture)
    log("inputs written:", {k: meta[k] for k in ("grid_thw", "visual_tokens", "prompt_tokens")})
    try:
        import transformers  # noqa: F401
        have_transformers = True
    except ImportError:
        have_transformers = False
        meta["transformers"] = None
        log("transformers is not installed: model steps skipped (inputs only)")
    if have_transformers:
        run_transformers(fixture, img, pixels, grid, ids, meta)
        log("greedy ids:", meta["greedy_ids"], "min top-2 gap", meta["greedy_min_top2_gap"])
    meta["seconds"] = round(time.time() - t0, 2)
    with open(os.path.join(fixture, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    with tarfile.open(os.path.join(args.out, NAME + ".tar.gz"), "w:gz") as tar:
        tar.add(fixture, arcname=NAME)
    sizes = {n: os.path.getsize(os.path.join(fixture, n)) for n in sorted(os.listdir(fixture))}
    log("fixture files (bytes):", sizes, "total", sum(sizes.values()))
    if args.perf_7b:
        if not (have_transformers and torch.cuda.is_available()):
            log("--perf-7b needs transformers and a CUDA GPU: skipped")
        else:
            perf_7b(args.perf_7b)
    return 0


if __name__ == "__main__":
    sys.exit(main())
