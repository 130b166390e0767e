#!/usr/bin/python3
"""The "what users run today" baseline for bench/torch_rollout.cpp and a GRPO step: hawkeye-tiny written in plain
PyTorch (Debian's python3-torch 1.13), the way a Hugging Face / TRL user would run it.

Same sizes and math as hawkeye (configs/hawkeye-tiny.json, random weights):
  vision  2x2 pixel-unshuffle of RGB + the MSCN luma channel (7x7 Gaussian, sigma 7/6), 3x3 stem conv (16 ch),
          stages [stride-2 conv, residual conv] 32/64/128, BatchNorm (running statistics) + GELU, mean+std
          pooling to a 4x6 grid = 24 visual tokens, two linear projections + a position embedding;
  text    Qwen2-style decoder (hidden 192, 3 layers, 3 heads, SwiGLU 512, RMSNorm, rotary, vocab 266, tied),
          HF's eager attention, a KV cache kept as per-layer tensors concatenated at every step (what
          transformers 4.x's DynamicCache does), logits of the last position only (num_logits_to_keep=1);
  sample  HF's logits warpers: temperature 1 (no-op), top-k 50 (mask below the k-th value), softmax,
          torch.multinomial; no stop token: every row runs to exactly --new-tokens tokens.

Two ways to batch the K rollouts of an image (--mode):
  trl     (default) as TRL's GRPOTrainer does: every prompt (with its image) repeated K times in the batch, so the
          vision tower and the prefill run on B*K rows; the teacher-forced passes also encode B*K images;
  shared  each image encoded once and its prompt prefilled once, the cache repeat_interleave'd x K (what hawkeye
          does); the teacher-forced passes encode B images and repeat the visual embeddings.

--grpo adds full Q-Hawkeye GRPO steps (TRL-style): rollout (no grad), rewards (answer parsing) and group
advantages, the teacher-forced log-probs of the B*K completions under the reference model (no grad), under the
policy on the degraded twins (no grad, perception KL; --no-perception drops it), and under the policy with
autograd; the PPO-clipped token loss (old log-probs = detached current ones, TRL's num_iterations = 1) + beta*k3 KL
- gamma*perception KL, sequence-mean; backward; grad-norm clipping (0.1); torch.optim.AdamW (lr 5e-5).

Run (1 thread, as bench/README.md):
  nice -n 10 /usr/bin/python3 bench/python_rollout.py --threads 1 --iters 4
  nice -n 10 /usr/bin/python3 bench/python_rollout.py --threads 1 --iters 0 --grpo 4
Output: a table on stdout and one JSON line per measurement (prefix "JSON ").
"""
import argparse
import json
import math
import os
import re
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# ----------------------------------------------------------------------------------------------- model ----
class TinyVision(nn.Module):
    def __init__(self, vc, out_dim):
        super().__init__()
        self.mscn_input = vc.get("mscn_input", False)
        self.grid = tuple(vc["grid"])
        stem = vc["stem_channels"]
        in_ch = (4 if self.mscn_input else 3) * 4
        self.stem = nn.Conv2d(in_ch, stem, 3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(stem)
        self.down, self.refine = nn.ModuleList(), nn.ModuleList()
        self.down_bn, self.refine_bn = nn.ModuleList(), nn.ModuleList()
        ch = stem
        for out in vc["stage_channels"]:
            self.down.append(nn.Conv2d(ch, out, 3, stride=2, padding=1, bias=False))
            self.refine.append(nn.Conv2d(out, out, 3, padding=1, bias=False))
            self.down_bn.append(nn.BatchNorm2d(out))
            self.refine_bn.append(nn.BatchNorm2d(out))
            ch = out
        self.proj1 = nn.Linear(2 * ch, out_dim)
        self.proj2 = nn.Linear(out_dim, out_dim)
        self.pos_embed = nn.Parameter(torch.randn(self.grid[0] * self.grid[1], out_dim) * 0.02)
        x = torch.arange(-3, 4, dtype=torch.float32)
        g = torch.exp(-(x * x) / (2 * (7 / 6) ** 2))
        self.register_buffer("gauss", (g / g.sum()).view(1, 1, 1, 7).repeat(2, 1, 1, 1), persistent=False)
        self.register_buffer("mean", torch.tensor(vc["image_mean"]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(vc["image_std"]).view(1, 3, 1, 1), persistent=False)

    def mscn(self, pixels):
        with torch.no_grad():
            rgb = pixels * self.std + self.mean
            y = (0.299 * rgb[:, 0:1] + 0.587 * rgb[:, 1:2] + 0.114 * rgb[:, 2:3]) * 255.0
            both = F.pad(torch.cat([y, y * y], 1), (3, 3, 3, 3), mode="replicate")
            smooth = F.conv2d(F.conv2d(both, self.gauss, groups=2), self.gauss.transpose(2, 3), groups=2)
            mu = smooth[:, 0:1]
            var = smooth[:, 1:2] - mu * mu
            return (y - mu) / (var.abs().sqrt() + 1.0)

    def forward(self, pixels):  # [N, 3, H, W] normalised -> [N, cells, D]
        x = torch.cat([pixels, self.mscn(pixels)], 1) if self.mscn_input else pixels
        x = F.pixel_unshuffle(x, 2)
        x = F.gelu(self.stem_bn(self.stem(x)))
        for down, dbn, refine, rbn in zip(self.down, self.down_bn, self.refine, self.refine_bn):
            x = F.gelu(dbn(down(x)))
            x = x + F.gelu(rbn(refine(x)))
        mean = F.adaptive_avg_pool2d(x, self.grid)
        sq = F.adaptive_avg_pool2d(x * x, self.grid)
        feats = torch.cat([mean, torch.sqrt((sq - mean * mean).clamp_min(1e-6))], 1)
        feats = feats.flatten(2).transpose(1, 2)
        return self.proj2(F.gelu(self.proj1(feats))) + self.pos_embed


class RMSNorm(nn.Module):  # Qwen2RMSNorm
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        x = x.to(torch.float32)
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps)).to(dtype)


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Attention(nn.Module):  # Qwen2Attention, eager
    def __init__(self, tc):
        super().__init__()
        D = tc["hidden_size"]
        self.h = tc["num_attention_heads"]
        self.hkv = tc.get("num_key_value_heads", self.h)
        self.dh = D // self.h
        self.q_proj = nn.Linear(D, self.h * self.dh, bias=True)
        self.k_proj = nn.Linear(D, self.hkv * self.dh, bias=True)
        self.v_proj = nn.Linear(D, self.hkv * self.dh, bias=True)
        self.o_proj = nn.Linear(self.h * self.dh, D, bias=False)

    def forward(self, x, cos, sin, mask, past):
        B, L, _ = x.shape
        q = self.q_proj(x).view(B, L, self.h, self.dh).transpose(1, 2)
        k = self.k_proj(x).view(B, L, self.hkv, self.dh).transpose(1, 2)
        v = self.v_proj(x).view(B, L, self.hkv, self.dh).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past is not None:  # DynamicCache.update: concatenate along the sequence
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        present = (k, v)
        if self.hkv != self.h:  # repeat_kv
            k = k.repeat_interleave(self.h // self.hkv, dim=1)
            v = v.repeat_interleave(self.h // self.hkv, dim=1)
        w = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.dh)
        if mask is not None:
            w = w + mask
        w = F.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
        o = torch.matmul(w, v).transpose(1, 2).reshape(B, L, -1)
        return self.o_proj(o), present


class Mlp(nn.Module):
    def __init__(self, D, I):
        super().__init__()
        self.gate_proj = nn.Linear(D, I, bias=False)
        self.up_proj = nn.Linear(D, I, bias=False)
        self.down_proj = nn.Linear(I, D, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, tc):
        super().__init__()
        self.self_attn = Attention(tc)
        self.mlp = Mlp(tc["hidden_size"], tc["intermediate_size"])
        self.input_layernorm = RMSNorm(tc["hidden_size"], tc.get("rms_norm_eps", 1e-6))
        self.post_attention_layernorm = RMSNorm(tc["hidden_size"], tc.get("rms_norm_eps", 1e-6))

    def forward(self, x, cos, sin, mask, past):
        a, present = self.self_attn(self.input_layernorm(x), cos, sin, mask, past)
        x = x + a
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, present


class TinyVLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        tc = cfg["text_config"]
        self.image_token_id = cfg["image_token_id"]
        self.visual = TinyVision(cfg["vision_config"], tc["hidden_size"])
        self.embed_tokens = nn.Embedding(tc["vocab_size"], tc["hidden_size"])
        self.layers = nn.ModuleList(DecoderLayer(tc) for _ in range(tc["num_hidden_layers"]))
        self.norm = RMSNorm(tc["hidden_size"], tc.get("rms_norm_eps", 1e-6))
        dh = tc["hidden_size"] // tc["num_attention_heads"]
        theta = tc.get("rope_theta", 10000.0)
        self.register_buffer("inv_freq", 1.0 / (theta ** (torch.arange(0, dh, 2, dtype=torch.float32) / dh)), persistent=False)
        for name, p in self.named_parameters():  # HF Qwen2 init for the language model
            if name.startswith("visual"):
                continue
            if "norm" in name:
                continue
            if p.dim() >= 2:
                nn.init.normal_(p, 0.0, 0.02)
            else:
                nn.init.zeros_(p)

    def freeze_norm_statistics(self):  # BatchNorm keeps its running statistics (hawkeye's loss.freeze_norm)
        for m in self.visual.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()

    def rope(self, position_ids):  # Qwen2RotaryEmbedding
        freqs = position_ids[:, :, None].float() * self.inv_freq[None, None, :]
        emb = torch.cat((freqs, freqs), dim=-1)[:, None]  # [B, 1, L, Dh]
        return emb.cos(), emb.sin()

    def forward(self, input_ids, image_embeds=None, past_key_values=None, position_ids=None, logits_to_keep=0,
                prompt_len=None):
        """input_ids [B, L]; image_embeds [B * cells, D] spliced at the image tokens of the first `prompt_len`
        positions (default all; a sampled completion may contain the image token id); returns the logits of the
        last `logits_to_keep` positions (0 = all) and the new cache (a list of (k, v) per layer)."""
        x = self.embed_tokens(input_ids)
        if image_embeds is not None:
            m = input_ids == self.image_token_id
            if prompt_len is not None:
                m[:, prompt_len:] = False
            m = m.unsqueeze(-1).expand_as(x)
            x = x.masked_scatter(m, image_embeds.to(x.dtype))
        B, L = input_ids.shape
        past_len = 0 if past_key_values is None else past_key_values[0][0].shape[2]
        if position_ids is None:
            position_ids = torch.arange(past_len, past_len + L).unsqueeze(0).expand(B, L)
        cos, sin = self.rope(position_ids)
        mask = None
        if L > 1:  # causal mask (all rows have the same length here: no padding)
            mask = torch.full((L, L + past_len), float("-inf")).triu_(1 + past_len)[None, None]
        present = []
        for i, layer in enumerate(self.layers):
            x, kv = layer(x, cos, sin, mask, None if past_key_values is None else past_key_values[i])
            present.append(kv)
        x = self.norm(x)
        if logits_to_keep:
            x = x[:, -logits_to_keep:]
        return F.linear(x, self.embed_tokens.weight), present  # tied lm_head


# ------------------------------------------------------------------------------------------- inputs ----
def load_images(n, width, height, kodak):
    """uint8 [n, H, W, 3]: Kodak references scaled to cover WxH and centre-cropped (random pixels without PIL/data)."""
    out = []
    try:
        from PIL import Image
    except ImportError:
        Image = None
    for i in range(n):
        path = os.path.join(kodak, "kodim%02d.png" % (i + 1))
        if Image is not None and os.path.exists(path):
            im = Image.open(path).convert("RGB")
            s = max(width / im.width, height / im.height)
            w, h = max(width, round(im.width * s)), max(height, round(im.height * s))
            im = im.resize((w, h), Image.BICUBIC)
            l, t = (w - width) // 2, (h - height) // 2
            im = im.crop((l, t, l + width, t + height))
            out.append(torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).view(height, width, 3))
        else:
            g = torch.Generator().manual_seed(i)
            out.append(torch.randint(0, 256, (height, width, 3), dtype=torch.uint8, generator=g))
    return torch.stack(out)


def to_pixels(images_u8, vc):
    x = images_u8.permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(vc["image_mean"]).view(1, 3, 1, 1)
    std = torch.tensor(vc["image_std"]).view(1, 3, 1, 1)
    return (x - mean) / std


def render_prompt(tokenizer_json, hawkeye_json, image_tokens):
    """The qwen2.5-vl chat prompt hawkeye renders for hawkeye-tiny (IqaModel::prompt_ids: the default system text,
    image after the user text), encoded with hawkeye's byte tokenizer (bytes = ids 0..255, added tokens by name)."""
    with open(tokenizer_json) as f:
        added = {t["content"]: t["id"] for t in json.load(f)["added_tokens"]}
    with open(hawkeye_json) as f:
        user = json.load(f)["prompt"]["user"]
    parts = ["<|im_start|>", "system\nYou are a helpful assistant.", "<|im_end|>", "\n", "<|im_start|>", "user\n", user,
             "<|vision_start|>"] + ["<|image_pad|>"] * image_tokens + ["<|vision_end|>", "<|im_end|>", "\n",
                                                                        "<|im_start|>", "assistant\n"]
    ids = []
    for p in parts:
        if p in added:
            ids.append(added[p])
            continue
        for piece in re.split("(" + "|".join(re.escape(t) for t in added) + ")", p):
            if piece in added:
                ids.append(added[piece])
            else:
                ids.extend(piece.encode("utf-8"))
    return ids


# ------------------------------------------------------------------------------------------- rollout ----
def top_k_sample(logits, top_k, temperature):
    """HF: TemperatureLogitsWarper (skipped at 1.0), TopKLogitsWarper, softmax, multinomial."""
    if temperature != 1.0:
        logits = logits / temperature
    if top_k:
        kth = torch.topk(logits, min(top_k, logits.size(-1)))[0][..., -1, None]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = F.softmax(logits, dim=-1)
    return torch.multinomial(probs, num_samples=1).squeeze(1)


@torch.no_grad()
def rollout(model, images_u8, prompt, k, new_tokens, vc, mode, top_k=50, temperature=1.0, times=None):
    """B images x k samples x new_tokens. Returns completions [B*k, new_tokens] (row = image*k + sample)."""
    t = times if times is not None else {}
    t0 = time.perf_counter()
    B = images_u8.shape[0]
    pixels = to_pixels(images_u8, vc)
    if mode == "trl":
        pixels = pixels.repeat_interleave(k, 0)
    image_embeds = model.visual(pixels).flatten(0, 1)
    t1 = time.perf_counter()
    t["vision"] = t.get("vision", 0) + t1 - t0
    rows = B * k if mode == "trl" else B
    input_ids = torch.tensor(prompt).unsqueeze(0).repeat(rows, 1)
    logits, cache = model(input_ids, image_embeds=image_embeds, logits_to_keep=1)
    logits = logits[:, -1]
    if mode == "shared":  # expand after prefill
        cache = [(kk.repeat_interleave(k, 0), vv.repeat_interleave(k, 0)) for kk, vv in cache]
        logits = logits.repeat_interleave(k, 0)
    t2 = time.perf_counter()
    t["prefill"] = t.get("prefill", 0) + t2 - t1
    generated = []
    pos = len(prompt)
    for step in range(new_tokens):
        ts = time.perf_counter()
        nxt = top_k_sample(logits, top_k, temperature)
        generated.append(nxt)
        td = time.perf_counter()
        t["sample"] = t.get("sample", 0) + td - ts
        if step + 1 == new_tokens:
            break
        position_ids = torch.full((nxt.shape[0], 1), pos, dtype=torch.long)
        logits, cache = model(nxt[:, None], past_key_values=cache, position_ids=position_ids, logits_to_keep=1)
        logits = logits[:, -1]
        pos += 1
        t["decode"] = t.get("decode", 0) + time.perf_counter() - td
    return torch.stack(generated, 1)


# ---------------------------------------------------------------------------------------------- GRPO ----
ANSWER = re.compile(r"<answer>\s*([0-9]+(?:\.[0-9]+)?)\s*</answer>")


def rewards_for(completions, labels, k):
    """Format (a parsable <answer>) + accuracy (1 - |s - label| / 4, clamped at 0); decoded as bytes."""
    r = []
    for i, row in enumerate(completions.tolist()):
        text = bytes(t for t in row if t < 256).decode("utf-8", "replace")
        m = ANSWER.search(text)
        if m is None:
            r.append(0.0)
        else:
            s = float(m.group(1))
            r.append(1.0 + max(0.0, 1.0 - abs(s - labels[i // k]) / 4.0))
    return torch.tensor(r).view(-1, k)


def token_logprobs(model, images_u8, prompt, completions, k, vc, mode):
    """TRL's _get_per_token_logps: one forward over prompt + completion, logits of the completion positions."""
    pixels = to_pixels(images_u8, vc)
    if mode == "trl":
        image_embeds = model.visual(pixels.repeat_interleave(k, 0)).flatten(0, 1)
    else:
        emb = model.visual(pixels)  # [B, cells, D]
        image_embeds = emb.repeat_interleave(k, 0).flatten(0, 1)
    N, T = completions.shape
    input_ids = torch.cat([torch.tensor(prompt).unsqueeze(0).expand(N, -1), completions], 1)
    logits, _ = model(input_ids, image_embeds=image_embeds, logits_to_keep=T + 1, prompt_len=len(prompt))
    logits = logits[:, :-1]
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, completions.unsqueeze(-1)).squeeze(-1)


def grpo_step(policy, ref, opt, images_u8, twins_u8, labels, prompt, args, vc):
    t = {}
    c0 = time.process_time()
    t0 = time.perf_counter()
    policy.train()
    policy.freeze_norm_statistics()
    rt = {}
    completions = rollout(policy, images_u8, prompt, args.k, args.new_tokens, vc, args.mode, times=rt)
    t["rollout"] = time.perf_counter() - t0
    k = args.k
    rewards = rewards_for(completions, labels, k)
    adv = (rewards - rewards.mean(1, keepdim=True)) / (rewards.std(1, keepdim=True) + 1e-4)
    adv = adv.flatten()
    mask = torch.ones_like(completions, dtype=torch.float32)  # no stop token: every token counts
    tf = time.perf_counter()
    with torch.no_grad():
        ref_logp = token_logprobs(ref, images_u8, prompt, completions, k, vc, args.mode)
        deg_logp = token_logprobs(policy, twins_u8, prompt, completions, k, vc, args.mode) if args.perception else None
    logp = token_logprobs(policy, images_u8, prompt, completions, k, vc, args.mode)
    old = logp.detach()  # TRL with num_iterations = 1
    coef1 = torch.exp(logp - old)
    coef2 = torch.clamp(coef1, 1 - 0.2, 1 + 0.28)
    per_token = -torch.min(coef1 * adv.unsqueeze(1), coef2 * adv.unsqueeze(1))
    kl = torch.exp(ref_logp - logp) - (ref_logp - logp) - 1
    per_token = per_token + args.beta * kl
    loss = ((per_token * mask).sum(1) / mask.sum(1).clamp(min=1.0)).mean()
    if deg_logp is not None:
        d = (deg_logp - logp).clamp(-20, 20)
        kp = (torch.exp(d) - d - 1).clamp(max=10)
        loss = loss - args.gamma * (kp * mask).sum() / mask.sum().clamp(min=1.0)
    t["logprob_forward"] = time.perf_counter() - tf
    tb = time.perf_counter()
    loss.backward()
    t["backward"] = time.perf_counter() - tb
    to = time.perf_counter()
    torch.nn.utils.clip_grad_norm_(policy.parameters(), 0.1)
    opt.step()
    opt.zero_grad(set_to_none=True)
    t["optimizer"] = time.perf_counter() - to
    t["step"] = time.perf_counter() - t0
    t["step_cpu"] = time.process_time() - c0
    t["loss"] = float(loss)
    return t


# -------------------------------------------------------------------------------------------- parity ----
def load_safetensors(path):
    """A float32/int64 safetensors file as {name: tensor} (8-byte little-endian header length, JSON header, data)."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = bytearray(f.read())
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": torch.float32, "I64": torch.int64}.get(info["dtype"])
        if dtype is None:
            raise SystemExit(f"{path}: {name}: dtype {info['dtype']} (only F32 and I64 are read here)")
        a, b = info["data_offsets"]
        out[name] = torch.frombuffer(data[a:b], dtype=dtype).view(info["shape"]).clone()
    return out


def parity(dirname, cfg, args):
    """Loads hawkeye's random model (written by HAWKEYE_BENCH_PARITY=DIR bench_torch_rollout) and compares this
    script's visual tokens, next-token logits and teacher-forced log-probs with hawkeye's."""
    ref = json.load(open(os.path.join(dirname, "parity.json")))
    weights = load_safetensors(os.path.join(dirname, "model", "model.safetensors"))
    renamed = {k[len("lm.model."):] if k.startswith("lm.model.") else k: v for k, v in weights.items()}
    model = TinyVLM(cfg).eval()
    missing, unexpected = model.load_state_dict(renamed, strict=False)
    missing = [m for m in missing if not m.endswith("num_batches_tracked")]
    print(f"parity: weights loaded; missing {missing}, unused {unexpected}")
    from PIL import Image
    im = Image.open(os.path.join(dirname, "image0.png")).convert("RGB")
    images = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).view(1, im.height, im.width, 3)
    prompt = ref["prompt"]
    with torch.no_grad():
        vis = model.visual(to_pixels(images, cfg["vision_config"])).flatten(0, 1)
        logits, _ = model(torch.tensor(prompt).unsqueeze(0), image_embeds=vis, logits_to_keep=1)
        comp = torch.tensor(ref["completion"]).unsqueeze(0)
        lp = token_logprobs(model, images, prompt, comp, 1, cfg["vision_config"], "shared")
    def diff(a, b):
        return (a.flatten() - torch.tensor(b)).abs().max().item()
    res = {"bench": "parity", "python_parameters": sum(p.numel() for p in model.parameters()),
           "hawkeye_parameters": ref["parameters"],
           "visual_max_abs_diff": diff(vis, ref["visual"]),
           "visual_abs_max": vis.abs().max().item(),
           "prefill_logits_max_abs_diff": diff(logits[0, -1], ref["prefill_logits"]),
           "token_logprobs_max_abs_diff": diff(lp[0], ref["token_logprobs"]),
           "generate_vs_teacher_forced_logprobs_max_abs_diff": diff(lp[0], ref["generate_logprobs"])}
    print("parity: " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in res.items() if k != "bench"))
    print("JSON " + json.dumps(res))


# ---------------------------------------------------------------------------------------------- main ----
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "hawkeye-tiny.json"))
    ap.add_argument("--hawkeye-json", default=os.path.join(ROOT, "configs", "hawkeye-tiny.hawkeye.json"))
    ap.add_argument("--tokenizer", default=os.path.join(ROOT, "resources", "tokenizers", "hawkeye-byte", "tokenizer.json"))
    ap.add_argument("--kodak", default=os.path.join(ROOT, "..", "shared", "data", "kodak"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--mode", choices=["trl", "shared"], default="trl")
    ap.add_argument("--iters", type=int, default=4, help="timed rollout batches (after one warm-up)")
    ap.add_argument("--grpo", type=int, default=0, help="timed GRPO steps (after one warm-up step)")
    ap.add_argument("--beta", type=float, default=0.04)
    ap.add_argument("--gamma", type=float, default=1e-2)
    ap.add_argument("--no-perception", dest="perception", action="store_false")
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--parity", metavar="DIR", help="compare with hawkeye's outputs (HAWKEYE_BENCH_PARITY=DIR bench_torch_rollout)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(1)
    with open(args.config) as f:
        cfg = json.load(f)
    vc = cfg["vision_config"]
    cells = vc["grid"][0] * vc["grid"][1]
    if args.parity:
        parity(args.parity, cfg, args)
        return
    model = TinyVLM(cfg).eval()
    prompt = render_prompt(args.tokenizer, args.hawkeye_json, cells)
    images = load_images(args.images, 512, 384, args.kodak)
    params = sum(p.numel() for p in model.parameters())
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, mode {args.mode}, parameters {params}, "
          f"prompt {len(prompt)} tokens, {args.images} images x K={args.k} x {args.new_tokens} tokens, "
          f"loadavg {os.getloadavg()[0]:.2f}", flush=True)

    if args.iters > 0:
        rollout(model, images, prompt, args.k, args.new_tokens, vc, args.mode)  # warm-up
        tot = {"vision": 0.0, "prefill": 0.0, "decode": 0.0, "sample": 0.0}
        wall = cpu = 0.0
        tokens = 0
        for _ in range(args.iters):
            c0, w0 = time.process_time(), time.perf_counter()
            out = rollout(model, images, prompt, args.k, args.new_tokens, vc, args.mode, times=tot)
            wall += time.perf_counter() - w0
            cpu += time.process_time() - c0
            tokens += out.numel()
        n = args.iters
        rec = {"bench": "rollout", "mode": args.mode, "threads": args.threads, "iters": n,
               "batch_s": wall / n, "batch_cpu_s": cpu / n, "tokens_per_batch": tokens // n,
               "tokens_per_s": tokens / wall, "tokens_per_cpu_s": tokens / cpu,
               **{k + "_s": v / n for k, v in tot.items()},
               "loadavg_1m": os.getloadavg()[0],
               "peak_rss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        print(f"rollout ({args.mode}): {rec['batch_s']:.3f} s/batch wall, {rec['batch_cpu_s']:.3f} s CPU, "
              f"{rec['tokens_per_s']:.1f} tokens/s ({rec['tokens_per_cpu_s']:.1f} per CPU-s); vision {rec['vision_s']:.3f} "
              f"prefill {rec['prefill_s']:.3f} decode {rec['decode_s']:.3f} sample {rec['sample_s']:.3f}", flush=True)
        print("JSON " + json.dumps(rec), flush=True)

    if args.grpo > 0:
        torch.manual_seed(2)
        ref = TinyVLM(cfg).eval()
        ref.load_state_dict(model.state_dict())
        for p in ref.parameters():
            p.requires_grad_(False)
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
        g = torch.Generator().manual_seed(3)
        noise = torch.randn(images.shape, generator=g) * 45
        twins = (images.float() + noise).clamp(0, 255).to(torch.uint8)  # stand-in for the noise-sigma-45 twin
        labels = [1.0 + 4.0 * i / max(1, args.images - 1) for i in range(args.images)]
        grpo_step(model, ref, opt, images, twins, labels, prompt, args, vc)  # warm-up
        steps = [grpo_step(model, ref, opt, images, twins, labels, prompt, args, vc) for _ in range(args.grpo)]
        keys = ["step", "step_cpu", "rollout", "logprob_forward", "backward", "optimizer"]
        rec = {"bench": "grpo_step", "mode": args.mode, "threads": args.threads, "steps": len(steps),
               "perception": args.perception,
               **{k + "_s": sum(s[k] for s in steps) / len(steps) for k in keys},
               "loss_last": steps[-1]["loss"], "loadavg_1m": os.getloadavg()[0],
               "peak_rss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        rec["rollout_share"] = rec["rollout_s"] / rec["step_s"]
        print(f"GRPO step ({args.mode}): {rec['step_s']:.3f} s wall, {rec['step_cpu_s']:.3f} s CPU; rollout "
              f"{rec['rollout_s']:.3f}, log-prob forwards {rec['logprob_forward_s']:.3f}, backward {rec['backward_s']:.3f}, "
              f"optimizer {rec['optimizer_s']:.3f}; peak RSS {rec['peak_rss_MB']:.0f} MB", flush=True)
        print("JSON " + json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
