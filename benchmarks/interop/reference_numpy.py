#!/usr/bin/env python3
"""The Llama, GPT-2 and T5 (v1.1) forward passes in plain numpy, checked against the fixtures' expected logits.

    reference_numpy.py [FIXTURE_DIR ...] [--tolerance 1e-5] [--float32]

With no folder, checks every folder under Tests/Fixtures/hf/. Needs numpy only: no torch, no
transformers, not even the safetensors package (the file format is read by hand below), so it is an
independent statement of the maths and of the file layout that the Swift side implements. Prints one
line per folder and exits 1 if a max absolute error exceeds the tolerance (default 1e-5).

The computation runs in float64 from the float32 weights (--float32 runs it in float32 instead).

safetensors: 8 bytes little-endian u64 N, then N bytes of JSON {name: {"dtype", "shape",
"data_offsets": [begin, end]}, "__metadata__": {...}}, then the data; offsets count from the first
byte after the JSON; tensors are row-major (C order), little-endian. A sharded folder has
model.safetensors.index.json whose "weight_map" names the shard file of every tensor.

Llama (LlamaForCausalLM), for ids x[0..T):
  h = embed_tokens[x]                                   embed_tokens [V, D]
  per layer:
    a = rmsnorm(h, input_layernorm)                     rmsnorm(x, w) = x / sqrt(mean(x^2) + eps) * w
    q = a @ q_proj.T   [T, H*d]    k = a @ k_proj.T, v = a @ v_proj.T   [T, Hkv*d]   (Linear: [out, in])
    split into heads: q[:, h*d:(h+1)*d] is head h (same for k, v)
    RoPE on q and k (rotate_half convention, NOT interleaved pairs):
      inv_freq[i] = theta^(-2i/d), i = 0..d/2-1;  ang[t, i] = t * inv_freq[i]
      cos = [cos(ang), cos(ang)], sin = [sin(ang), sin(ang)]         (length d: the halves repeat)
      rotate_half(u) = [-u[d/2:], u[:d/2]];  u' = u * cos + rotate_half(u) * sin
      i.e. dims i and i + d/2 form a rotated pair
    GQA: query head h uses key/value head h // (H / Hkv)
    s = q_h k_g^T / sqrt(d), causal (key position <= query position), softmax over keys, o_h = p v_g
    h = h + concat_h(o_h) @ o_proj.T
    m = rmsnorm(h, post_attention_layernorm)
    h = h + (silu(m @ gate_proj.T) * (m @ up_proj.T)) @ down_proj.T     silu(z) = z / (1 + e^-z)
  logits = rmsnorm(h, norm) @ lm_head.T     (lm_head = embed_tokens when tie_word_embeddings)

GPT-2 (GPT2LMHeadModel): Conv1D weights are [in, out] (y = x @ W + b, no transpose):
  h = wte[x] + wpe[t]
  per layer:
    a = layernorm(h, ln_1)                              layernorm: (x - mean) / sqrt(var + eps) * w + b (biased var)
    qkv = a @ c_attn.weight + c_attn.bias   [T, 3D];  q, k, v = qkv[:, :D], qkv[:, D:2D], qkv[:, 2D:]
    heads: q[:, h*d:(h+1)*d]; causal softmax(q k^T / sqrt(d)) v; h = h + concat @ attn.c_proj.weight + bias
    m = layernorm(h, ln_2); h = h + gelu_new(m @ c_fc.weight + b) @ mlp.c_proj.weight + b
      gelu_new(z) = 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))
  logits = layernorm(h, ln_f) @ wte.T       (tied: the file has transformer.wte.weight, no lm_head.weight)

T5 (T5ForConditionalGeneration, v1.1: feed_forward_proj "gated-gelu"), encoder ids x[0..S), decoder ids y[0..T)
(y[0] = decoder_start_token_id = 0); every Linear is [out, in] without bias; inner = num_heads * d_kv:
  rmsnorm is T5LayerNorm: x / sqrt(mean(x^2) + eps) * w, no mean subtraction, no bias (transformers computes
    the mean square in fp32 whatever the weights' dtype)
  attention(x, kv, bias, causal): q = x @ q.T, k = kv @ k.T, v = kv @ v.T, heads q[:, h*d_kv:(h+1)*d_kv];
    s = q_h k_h^T + bias[h]           NO 1/sqrt(d_kv) (T5 folds it into the initialisation)
    causal: key j > query i masked; softmax over keys; o = concat_h(p v_h) @ o.T
  bucket(r = key position - query position), N = relative_attention_num_buckets, M = relative_attention_max_distance:
    bidirectional (encoder): n = N/2; base = n if r > 0 else 0; a = |r|
    unidirectional (decoder): n = N;   base = 0;                a = max(-r, 0)
    e = n/2 (max_exact); bucket = base + (a if a < e else min(n-1, e + trunc(log(a/e) / log(M/e) * (n-e))))
  bias[h, i, j] = relative_attention_bias[bucket(j - i), h]   table [N, num_heads], ONLY in block 0 of each stack
    (encoder.block.0.layer.0.SelfAttention / decoder.block.0.layer.0.SelfAttention); every block of the stack
    adds the same bias; cross-attention has no position bias
  encoder: h = shared[x]; per block: h += attention(rmsnorm(h, layer.0.layer_norm), same, enc_bias, non-causal)
           h += ff(rmsnorm(h, layer.1.layer_norm)); ff(m) = (gelu_new(m @ wi_0.T) * (m @ wi_1.T)) @ wo.T
           e = rmsnorm(h, encoder.final_layer_norm)
  decoder: g = shared[y]; per block: g += attention(rmsnorm(g, layer.0.layer_norm), same, dec_bias, causal)
           g += attention(rmsnorm(g, layer.1.layer_norm), e, 0, non-causal)     (EncDecAttention: keys/values from e)
           g += ff(rmsnorm(g, layer.2.layer_norm))
           g = rmsnorm(g, decoder.final_layer_norm)
  logits = g @ lm_head.T when the file has lm_head.weight (v1.1), else g * d_model^-0.5 @ shared.T (original T5)
    the d_model^-0.5 factor: transformers 5 applies it iff config.scale_decoder_outputs, which T5Config sets to
    (tie_word_embeddings is not False) from the config it is given (absent -> true), then forces
    tie_word_embeddings = True; a saved config.json holds "scale_decoder_outputs" (false for these fixtures)
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4"}  # BF16 is not needed here


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    header.pop("__metadata__", None)
    base = 8 + n
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        arr = np.frombuffer(raw, dtype=DTYPES[info["dtype"]], count=(end - begin) // np.dtype(DTYPES[info["dtype"]]).itemsize, offset=base + begin)
        out[name] = arr.reshape(info["shape"]).copy()
    return out


def read_weights(folder: Path) -> dict[str, np.ndarray]:
    index = folder / "model.safetensors.index.json"
    if index.exists():
        weight_map = json.loads(index.read_text())["weight_map"]
        weights: dict[str, np.ndarray] = {}
        for shard in sorted(set(weight_map.values())):
            weights.update(read_safetensors(folder / shard))
        missing = set(weight_map) - set(weights)
        assert not missing, f"index names tensors that no shard holds: {sorted(missing)}"
        return weights
    return read_safetensors(folder / "model.safetensors")


def softmax_causal(scores: np.ndarray) -> np.ndarray:
    """scores [..., T, T]; masks key > query, softmax over the last axis."""
    t = scores.shape[-1]
    mask = np.triu(np.ones((t, t), dtype=bool), k=1)
    s = np.where(mask, -np.inf, scores)
    s = s - s.max(axis=-1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=-1, keepdims=True)


def rmsnorm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def layernorm(x, w, b, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def rotate_half(u):
    half = u.shape[-1] // 2
    return np.concatenate([-u[..., half:], u[..., :half]], axis=-1)


def rope_theta(cfg: dict) -> float:
    # transformers 5 writes rope_parameters: {"rope_theta", "rope_type"}; 4.x wrote rope_theta at the top.
    params = cfg.get("rope_parameters") or {}
    assert params.get("rope_type", "default") == "default" and not cfg.get("rope_scaling"), "only plain RoPE"
    return float(params.get("rope_theta", cfg.get("rope_theta", 10000.0)))


def llama_forward(cfg: dict, w: dict, ids: np.ndarray, dt) -> np.ndarray:
    D, H = cfg["hidden_size"], cfg["num_attention_heads"]
    Hkv = cfg.get("num_key_value_heads") or H
    d = cfg.get("head_dim") or D // H
    eps = cfg["rms_norm_eps"]
    assert cfg["hidden_act"] == "silu" and not cfg.get("attention_bias") and not cfg.get("mlp_bias")
    W = {k: v.astype(dt) for k, v in w.items()}
    lm_head = W["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else W["lm_head.weight"]
    T = ids.shape[-1]
    inv_freq = rope_theta(cfg) ** (-np.arange(0, d, 2, dtype=dt) / d)  # [d/2]
    ang = np.arange(T, dtype=dt)[:, None] * inv_freq[None, :]          # [T, d/2]
    cos = np.cos(np.concatenate([ang, ang], axis=-1))                   # [T, d]
    sin = np.sin(np.concatenate([ang, ang], axis=-1))
    out = []
    for row in ids:
        h = W["model.embed_tokens.weight"][row]  # [T, D]
        for i in range(cfg["num_hidden_layers"]):
            p = f"model.layers.{i}."
            a = rmsnorm(h, W[p + "input_layernorm.weight"], eps)
            q = (a @ W[p + "self_attn.q_proj.weight"].T).reshape(T, H, d).transpose(1, 0, 2)    # [H, T, d]
            k = (a @ W[p + "self_attn.k_proj.weight"].T).reshape(T, Hkv, d).transpose(1, 0, 2)  # [Hkv, T, d]
            v = (a @ W[p + "self_attn.v_proj.weight"].T).reshape(T, Hkv, d).transpose(1, 0, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            group = np.arange(H) // (H // Hkv)  # kv head of each query head
            k, v = k[group], v[group]
            prob = softmax_causal(q @ k.transpose(0, 2, 1) / np.sqrt(d))
            o = (prob @ v).transpose(1, 0, 2).reshape(T, H * d)
            h = h + o @ W[p + "self_attn.o_proj.weight"].T
            m = rmsnorm(h, W[p + "post_attention_layernorm.weight"], eps)
            gate = m @ W[p + "mlp.gate_proj.weight"].T
            up = m @ W[p + "mlp.up_proj.weight"].T
            h = h + (gate / (1 + np.exp(-gate)) * up) @ W[p + "mlp.down_proj.weight"].T
        out.append(rmsnorm(h, W["model.norm.weight"], eps) @ lm_head.T)
    return np.stack(out)


def gpt2_forward(cfg: dict, w: dict, ids: np.ndarray, dt) -> np.ndarray:
    D, H = cfg["n_embd"], cfg["n_head"]
    d, eps = D // H, cfg["layer_norm_epsilon"]
    assert cfg["activation_function"] == "gelu_new" and cfg.get("scale_attn_weights", True)
    assert not cfg.get("scale_attn_by_inverse_layer_idx")
    W = {k: v.astype(dt) for k, v in w.items()}
    T = ids.shape[-1]
    g = lambda z: 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3)))  # noqa: E731
    out = []
    for row in ids:
        h = W["transformer.wte.weight"][row] + W["transformer.wpe.weight"][:T]
        for i in range(cfg["n_layer"]):
            p = f"transformer.h.{i}."
            a = layernorm(h, W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
            qkv = a @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]  # Conv1D: [in, out]
            q, k, v = (qkv[:, j * D : (j + 1) * D].reshape(T, H, d).transpose(1, 0, 2) for j in range(3))
            prob = softmax_causal(q @ k.transpose(0, 2, 1) / np.sqrt(d))
            o = (prob @ v).transpose(1, 0, 2).reshape(T, D)
            h = h + o @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
            m = layernorm(h, W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
            f = g(m @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"])
            h = h + f @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
        hf = layernorm(h, W["transformer.ln_f.weight"], W["transformer.ln_f.bias"], eps)
        out.append(hf @ W["transformer.wte.weight"].T)
    return np.stack(out)


def t5_bucket(rel: np.ndarray, bidirectional: bool, num_buckets: int, max_distance: int) -> np.ndarray:
    """T5's relative-position bucket (transformers T5Attention._relative_position_bucket); rel = key - query."""
    base = np.zeros_like(rel)
    if bidirectional:
        num_buckets //= 2
        base = base + (rel > 0) * num_buckets
        a = np.abs(rel)
    else:
        a = np.maximum(-rel, 0)
    max_exact = num_buckets // 2
    # log(a / max_exact) with a >= max_exact only where it is used (a = 0 would give log 0)
    large = max_exact + (
        np.log(np.maximum(a, max_exact) / max_exact) / np.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).astype(np.int64)  # truncation toward zero, as torch's .to(torch.long); the value is >= 0
    large = np.minimum(large, num_buckets - 1)
    return base + np.where(a < max_exact, a, large)


def t5_position_bias(table: np.ndarray, q_len: int, k_len: int, bidirectional: bool, cfg: dict) -> np.ndarray:
    """[H, q_len, k_len]: table[bucket(j - i), h]; table is relative_attention_bias.weight [num_buckets, H]."""
    rel = np.arange(k_len)[None, :] - np.arange(q_len)[:, None]
    b = t5_bucket(rel, bidirectional, cfg["relative_attention_num_buckets"], cfg["relative_attention_max_distance"])
    return table[b].transpose(2, 0, 1)


def softmax(scores: np.ndarray) -> np.ndarray:
    s = scores - scores.max(axis=-1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=-1, keepdims=True)


def t5_forward(cfg: dict, w: dict, ids: np.ndarray, dec_ids: np.ndarray, dt) -> np.ndarray:
    D, H, d = cfg["d_model"], cfg["num_heads"], cfg["d_kv"]
    eps = cfg["layer_norm_epsilon"]
    assert cfg.get("feed_forward_proj") == "gated-gelu", "v1.1 gated-gelu only (original T5's relu is not done here)"
    W = {k: v.astype(dt) for k, v in w.items()}
    # transformers 5 writes scale_decoder_outputs; a 4.x config has only tie_word_embeddings (absent means tied).
    scale = cfg.get("scale_decoder_outputs", cfg.get("tie_word_embeddings", True) is not False)
    lm_head = W.get("lm_head.weight", W["shared.weight"])
    g = lambda z: 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3)))  # noqa: E731  gelu_new

    def attention(p, x, kv, bias, causal):
        tq, tk = x.shape[0], kv.shape[0]
        q = (x @ W[p + "q.weight"].T).reshape(tq, H, d).transpose(1, 0, 2)  # [H, tq, d]
        k = (kv @ W[p + "k.weight"].T).reshape(tk, H, d).transpose(1, 0, 2)
        v = (kv @ W[p + "v.weight"].T).reshape(tk, H, d).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) + bias  # no 1/sqrt(d)
        prob = softmax_causal(s) if causal else softmax(s)
        return (prob @ v).transpose(1, 0, 2).reshape(tq, H * d) @ W[p + "o.weight"].T

    def ff(p, m):
        return (g(m @ W[p + "wi_0.weight"].T) * (m @ W[p + "wi_1.weight"].T)) @ W[p + "wo.weight"].T

    S, T = ids.shape[-1], dec_ids.shape[-1]
    # One bias per stack, from block 0's table, added in every block of that stack.
    table = "{}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"
    enc_bias = t5_position_bias(W[table.format("encoder")], S, S, True, cfg)  # [H, S, S]
    dec_bias = t5_position_bias(W[table.format("decoder")], T, T, False, cfg)  # [H, T, T]
    out = []
    for x, y in zip(ids, dec_ids):
        h = W["shared.weight"][x]
        for i in range(cfg["num_layers"]):
            p = f"encoder.block.{i}.layer."
            a = rmsnorm(h, W[p + "0.layer_norm.weight"], eps)
            h = h + attention(p + "0.SelfAttention.", a, a, enc_bias, False)  # bidirectional
            h = h + ff(p + "1.DenseReluDense.", rmsnorm(h, W[p + "1.layer_norm.weight"], eps))
        e = rmsnorm(h, W["encoder.final_layer_norm.weight"], eps)
        h = W["shared.weight"][y]
        for i in range(cfg["num_decoder_layers"]):
            p = f"decoder.block.{i}.layer."
            a = rmsnorm(h, W[p + "0.layer_norm.weight"], eps)
            h = h + attention(p + "0.SelfAttention.", a, a, dec_bias, True)  # causal
            c = rmsnorm(h, W[p + "1.layer_norm.weight"], eps)
            h = h + attention(p + "1.EncDecAttention.", c, e, 0.0, False)  # keys/values from the encoder, no bias
            h = h + ff(p + "2.DenseReluDense.", rmsnorm(h, W[p + "2.layer_norm.weight"], eps))
        h = rmsnorm(h, W["decoder.final_layer_norm.weight"], eps)
        if scale:
            h = h * D**-0.5
        out.append(h @ lm_head.T)
    return np.stack(out)


def check(folder: Path, tolerance: float, dt) -> bool:
    cfg = json.loads((folder / "config.json").read_text())
    expected = read_safetensors(folder / "expected.safetensors")
    ids, want = expected["input_ids"], expected["logits"].astype(np.float64)
    if cfg["model_type"] == "t5":
        got = t5_forward(cfg, read_weights(folder), ids, expected["decoder_input_ids"], dt).astype(np.float64)
    else:
        forward = {"llama": llama_forward, "gpt2": gpt2_forward}[cfg["model_type"]]
        got = forward(cfg, read_weights(folder), ids, dt).astype(np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    abs_err = float(np.abs(got - want).max())
    rel_err = abs_err / float(np.abs(want).max())
    ok = abs_err <= tolerance
    print(f"{folder}: {cfg['model_type']} {np.dtype(dt).name} max_abs_err {abs_err:.3e} "
          f"max_rel_err {rel_err:.3e} {'ok' if ok else 'FAIL'} (tolerance {tolerance:g})")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description="numpy reference forward passes against the hf fixtures")
    ap.add_argument("folders", nargs="*")
    ap.add_argument("--tolerance", type=float, default=1e-5, help="largest max absolute error that passes")
    ap.add_argument("--float32", action="store_true", help="compute in float32 instead of float64")
    args = ap.parse_args()
    folders = [Path(f) for f in args.folders] or sorted(
        p for p in (REPO / "Tests" / "Fixtures" / "hf").iterdir() if (p / "config.json").exists()
    )
    dt = np.float32 if args.float32 else np.float64
    results = [check(f, args.tolerance, dt) for f in folders]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
