#!/usr/bin/env python3
"""Independent reference forward pass of a GGUF model (llama, qwen2, qwen3, gemma3) for the tests.

Dequantizes every tensor with the `gguf` package (PyPI; its NumPy dequantizers are the oracle
for the block formats) and runs the transformer in float64 NumPy, written from the published
formulas (Hugging Face / llama.cpp graphs), not from Tessera's code. The output projection over
the vocabulary runs in float32 (a 262144 x 640 float64 matrix would take 1.3 GB).

    gguf_reference_forward.py MODEL.gguf 2,651,6037,... [--top 10]

prints JSON: one entry per position with the `top` largest logits (ids and values) and the
argmax.
"""
import argparse
import json
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("tokens")
    ap.add_argument("--top", type=int, default=10)
    args = ap.parse_args()
    tokens = [int(t) for t in args.tokens.split(",")]

    r = GGUFReader(args.model)
    meta = {k: f.contents() for k, f in r.fields.items() if not k.startswith("tokenizer.")}
    arch = meta["general.architecture"]
    tensors = {t.name: t for t in r.tensors}

    def W(name, dtype=np.float64):
        t = tensors[name]
        a = dequantize(t.data, t.tensor_type)
        shape = [int(s) for s in reversed(list(t.shape))]
        return np.asarray(a, dtype=dtype).reshape(shape)

    def key(k, default=None):
        return meta.get(f"{arch}.{k}", default)

    n_layer = key("block_count")
    d = key("embedding_length")
    n_head = key("attention.head_count")
    n_kv = key("attention.head_count_kv", n_head)
    hd = key("attention.key_length", d // n_head)
    eps = key("attention.layer_norm_rms_epsilon", 1e-5)
    base = key("rope.freq_base", 10000.0)
    rd = key("rope.dimension_count", hd)
    gemma = arch == "gemma3"
    neox = arch in ("qwen2", "qwen3", "gemma3")
    qk_norm = arch in ("qwen3", "gemma3")
    window = key("attention.sliding_window") if gemma else None
    period = key("attention.sliding_window_pattern", 6) if gemma else None
    local_base = key("rope.freq_base_swa", 10000.0) if gemma else base

    def rms(x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w

    def rope(x, pos, b):
        # x: [T, heads, hd]; rotates the first rd dims
        inv = b ** (-np.arange(0, rd, 2, dtype=np.float64) / rd)
        ang = np.outer(pos, inv)  # [T, rd/2]
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        y = x.copy()
        if neox:
            a, bb = x[..., : rd // 2], x[..., rd // 2 : rd]
            y[..., : rd // 2] = a * c - bb * s
            y[..., rd // 2 : rd] = a * s + bb * c
        else:
            a, bb = x[..., 0:rd:2], x[..., 1:rd:2]
            y[..., 0:rd:2] = a * c - bb * s
            y[..., 1:rd:2] = a * s + bb * c
        return y

    T = len(tokens)
    pos = np.arange(T)
    emb = W("token_embd.weight", np.float32)
    x = emb[tokens].astype(np.float64)
    if gemma:
        x *= np.sqrt(d)
    for l in range(n_layer):
        p = f"blk.{l}."
        local = gemma and (l % period < period - 1)
        h = rms(x, W(p + "attn_norm.weight"))
        q = h @ W(p + "attn_q.weight").T
        k = h @ W(p + "attn_k.weight").T
        v = h @ W(p + "attn_v.weight").T
        if arch == "qwen2":
            q += W(p + "attn_q.bias"); k += W(p + "attn_k.bias"); v += W(p + "attn_v.bias")
        q = q.reshape(T, n_head, hd); k = k.reshape(T, n_kv, hd); v = v.reshape(T, n_kv, hd)
        if qk_norm:
            q = rms(q, W(p + "attn_q_norm.weight")); k = rms(k, W(p + "attn_k_norm.weight"))
        b = local_base if local else base
        q = rope(q, pos, b); k = rope(k, pos, b)
        group = n_head // n_kv
        att = np.zeros((T, n_head, hd))
        for hh in range(n_head):
            kv = hh // group
            s = q[:, hh, :] @ k[:, kv, :].T / np.sqrt(hd)  # [T, T]
            mask = np.tril(np.ones((T, T), dtype=bool))
            if local:
                mask &= (pos[:, None] - pos[None, :]) < window
            s = np.where(mask, s, -np.inf)
            s = np.exp(s - s.max(axis=1, keepdims=True))
            s /= s.sum(axis=1, keepdims=True)
            att[:, hh, :] = s @ v[:, kv, :]
        o = att.reshape(T, n_head * hd) @ W(p + "attn_output.weight").T
        if gemma:
            o = rms(o, W(p + "post_attention_norm.weight"))
        x = x + o
        h = rms(x, W(p + "ffn_norm.weight"))
        g = h @ W(p + "ffn_gate.weight").T
        u = h @ W(p + "ffn_up.weight").T
        if gemma:
            act = 0.5 * g * (1 + np.tanh(np.sqrt(2 / np.pi) * (g + 0.044715 * g ** 3)))
        else:
            act = g / (1 + np.exp(-g))
        f = (act * u) @ W(p + "ffn_down.weight").T
        if gemma:
            f = rms(f, W(p + "post_ffw_norm.weight"))
        x = x + f
    h = rms(x, W("output_norm.weight")).astype(np.float32)
    out = W("output.weight", np.float32) if "output.weight" in tensors else emb
    logits = h @ out.T
    res = []
    for t in range(T):
        top = np.argsort(-logits[t])[: args.top]
        res.append({"top_ids": [int(i) for i in top], "top_values": [float(logits[t][i]) for i in top],
                    "argmax": int(top[0])})
    json.dump(res, sys.stdout)


if __name__ == "__main__":
    main()
