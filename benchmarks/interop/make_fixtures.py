#!/usr/bin/env python3
"""Writes the Hugging Face interop fixtures under Tests/Fixtures/hf/.

Tiny random GPT-2, Llama and T5 (v1.1 style, encoder-decoder) models are built in `transformers` with a
fixed seed, saved with `save_pretrained` (config.json + safetensors), and run once in fp32 eval mode on
fixed token ids (for T5: encoder ids and decoder ids); the ids and the logits go to
expected.safetensors beside each model. The Swift tests load these files and need no Python.

    benchmarks/interop/setup.sh
    benchmarks/interop/.venv/bin/python benchmarks/interop/make_fixtures.py [--out Tests/Fixtures/hf]

Weights: transformers' own initialisation (std 0.02, zero biases, norm weights 1) would make every
position's logits nearly the same, so a loader that mixed up positions, heads or a transpose could
still match. Every parameter is therefore drawn again from one seeded generator, in the order of
the sorted parameter names: LayerNorm / RMSNorm / T5LayerNorm weights 1 + 0.2*N(0,1), every other
weight and bias (embeddings, projections, LayerNorm biases, T5's relative attention bias tables)
0.2*N(0,1). A tied output embedding is the same tensor as the input embedding and is drawn once.

T5: transformers 5 forces `T5Config.tie_word_embeddings` to True (the `tie_word_embeddings=False` passed
in only sets `scale_decoder_outputs = False`) and ties `lm_head` to `shared`; T5 v1.1 has its own
lm_head, so the script gives `lm_head` a parameter of its own before drawing the weights. Saved, the
file then holds both `shared.weight` and `lm_head.weight`, and `from_pretrained` leaves them untied
because their values differ (it warns about the config; the script checks the reload bit for bit).
"""

from __future__ import annotations

import argparse
import inspect
import json
import platform
import shutil
import sys
from pathlib import Path

import numpy as np
import safetensors
import torch
import transformers
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, T5Config, T5ForConditionalGeneration

SEED = 1234
IDS_SEED = 4321
VOCAB = 96
BATCH, SEQ = 2, 12
DEC_SEQ = 7  # T5's decoder_input_ids: [BATCH, DEC_SEQ]; the encoder reads the same [BATCH, SEQ] ids as the others
STD = 0.2
SHARD_SIZE = "50KB"  # llama's ~117 kB of weights -> 3 shards
REPO = Path(__file__).resolve().parents[2]


def gpt2_config() -> GPT2Config:
    return GPT2Config(
        vocab_size=VOCAB,
        n_positions=32,
        n_embd=32,
        n_layer=2,
        n_head=4,
        activation_function="gelu_new",
        layer_norm_epsilon=1e-5,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        # GPT-2's defaults (50256) lie outside a 96-token vocabulary; like GPT-2's <|endoftext|>,
        # the last id stands for both.
        bos_token_id=VOCAB - 1,
        eos_token_id=VOCAB - 1,
        tie_word_embeddings=True,
    )


def llama_config(num_key_value_heads: int, tie: bool) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=88,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=num_key_value_heads,
        max_position_embeddings=64,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=tie,
        attention_bias=False,
        mlp_bias=False,
        hidden_act="silu",
        rope_scaling=None,
        attention_dropout=0.0,
    )


def t5_config() -> T5Config:
    return T5Config(
        vocab_size=VOCAB,
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=16,
        dropout_rate=0.0,
        layer_norm_epsilon=1e-6,
        feed_forward_proj="gated-gelu",  # T5 v1.1: wo(gelu_new(wi_0 x) * wi_1 x)
        tie_word_embeddings=False,  # transformers 5: sets scale_decoder_outputs = False (no d_model^-0.5 on the decoder output)
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )


def t5_model() -> T5ForConditionalGeneration:
    model = T5ForConditionalGeneration(t5_config())
    # transformers 5 ties lm_head to shared whatever the config says (T5Config forces tie_word_embeddings = True);
    # T5 v1.1 has an lm_head of its own, so give it its own parameter (drawn by reinitialise like every other).
    model.lm_head.weight = torch.nn.Parameter(torch.empty_like(model.shared.weight))
    assert model.encoder.embed_tokens.weight is model.shared.weight is model.decoder.embed_tokens.weight
    assert not model.config.scale_decoder_outputs
    return model


def is_norm(module: torch.nn.Module) -> bool:
    return (
        isinstance(module, torch.nn.LayerNorm)
        or type(module).__name__.endswith("RMSNorm")
        or type(module).__name__ == "T5LayerNorm"
    )


@torch.no_grad()
def reinitialise(model: torch.nn.Module, seed: int) -> None:
    """Norm weights 1 + STD*N(0,1); every other parameter STD*N(0,1); one generator, sorted names."""
    norm_weights = set()
    for _, module in model.named_modules():
        if is_norm(module) and getattr(module, "weight", None) is not None:
            norm_weights.add(id(module.weight))
    gen = torch.Generator().manual_seed(seed)
    params = dict(model.named_parameters())  # a tied parameter appears once
    for name in sorted(params):
        p = params[name]
        noise = torch.randn(p.shape, generator=gen, dtype=torch.float32) * STD
        p.copy_(noise + 1.0 if id(p) in norm_weights else noise)


def fixed_ids() -> torch.Tensor:
    gen = torch.Generator().manual_seed(IDS_SEED)
    ids = torch.randint(0, VOCAB, (BATCH, SEQ), generator=gen, dtype=torch.int64)
    assert not torch.equal(ids[0], ids[1])
    return ids


def fixed_decoder_ids() -> torch.Tensor:
    """T5 decoder inputs as `_shift_right(labels)` makes them: decoder_start_token_id (0) first, then ids 2..95."""
    gen = torch.Generator().manual_seed(IDS_SEED + 1)
    ids = torch.randint(2, VOCAB, (BATCH, DEC_SEQ), generator=gen, dtype=torch.int64)
    ids[:, 0] = 0
    assert not torch.equal(ids[0], ids[1])
    return ids


def use_eager(model) -> None:
    # T5's encoder and decoder stacks hold deep copies of the config, so setting model.config's attribute alone
    # would leave them on sdpa; set_attn_implementation sets every sub-config.
    model.config._attn_implementation = "eager"
    if model.config.is_encoder_decoder:
        model.set_attn_implementation("eager")
    for _, module in model.named_modules():
        cfg = getattr(module, "config", None)
        assert cfg is None or cfg._attn_implementation == "eager", f"{type(module).__name__} not on eager attention"


def save_model(model, folder: Path, **kwargs) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    params = inspect.signature(model.save_pretrained).parameters
    if "safe_serialization" in params:  # transformers 4.x; 5.x writes safetensors only
        kwargs["safe_serialization"] = True
    model.save_pretrained(folder, **kwargs)
    gen_cfg = folder / "generation_config.json"
    if gen_cfg.exists():
        gen_cfg.unlink()
    for f in folder.iterdir():
        if f.name not in {"config.json", "model.safetensors", "model.safetensors.index.json"} and not (
            f.name.startswith("model-") and f.name.endswith(".safetensors")
        ):
            raise SystemExit(f"unexpected file written by save_pretrained: {f}")


@torch.no_grad()
def logits_of(model, ids: torch.Tensor, decoder_ids: torch.Tensor | None = None) -> torch.Tensor:
    model.eval()
    if decoder_ids is None:
        out = model(input_ids=ids, use_cache=False)  # no attention_mask: plain causal
    else:  # encoder-decoder, no masks: encoder bidirectional, decoder causal, cross-attention over every encoder position
        out = model(input_ids=ids, decoder_input_ids=decoder_ids, use_cache=False)
    return out.logits.to(torch.float32).contiguous()


def write_expected(
    folder: Path, ids: torch.Tensor, logits: torch.Tensor, model_class: str, decoder_ids: torch.Tensor | None = None
) -> None:
    tensors = {"input_ids": ids.contiguous(), "logits": logits}
    masks = "no attention mask (causal)"
    if decoder_ids is not None:
        tensors["decoder_input_ids"] = decoder_ids.contiguous()
        masks = "no attention masks (encoder bidirectional, decoder causal, cross-attention unmasked)"
    save_file(
        tensors,
        str(folder / "expected.safetensors"),
        # One key: safetensors writes metadata in hash order, so several keys would change the bytes per run.
        metadata={
            "made_by": f"benchmarks/interop/make_fixtures.py; {model_class}; torch {torch.__version__}; "
            f"transformers {transformers.__version__}; fp32, eval, {masks}",
        },
    )


def reload_and_check(folder: Path, ids: torch.Tensor, logits: torch.Tensor, decoder_ids: torch.Tensor | None = None) -> float:
    """The saved folder, reloaded by transformers, gives the same logits (nothing lost in saving)."""
    if decoder_ids is None:
        m = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    else:
        # from_pretrained warns that the config asks to tie shared and lm_head while the file holds two different
        # tensors, and leaves them untied: the T5 v1.1 layout. Silenced here, checked below.
        verbosity = transformers.utils.logging.get_verbosity()
        transformers.utils.logging.set_verbosity_error()
        try:
            m = transformers.AutoModelForSeq2SeqLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
        finally:
            transformers.utils.logging.set_verbosity(verbosity)
        if m.lm_head.weight is m.shared.weight or m.config.scale_decoder_outputs:
            raise SystemExit(f"{folder}: reloaded T5 has a tied lm_head or scales the decoder output")
    again = logits_of(m, ids, decoder_ids)
    err = (again - logits).abs().max().item()
    if err != 0.0:
        raise SystemExit(f"{folder}: reloaded model differs from the saved one by {err}")
    return err


def tensor_table(folder: Path) -> list[tuple[str, str, list[int], str]]:
    rows = []
    for f in sorted(folder.glob("*.safetensors")):
        if f.name == "expected.safetensors":
            continue
        with safe_open(str(f), framework="numpy") as sf:
            for k in sf.keys():
                sl = sf.get_slice(k)
                rows.append((k, sl.get_dtype(), list(sl.get_shape()), f.name))
    return sorted(rows)


def spread(logits: torch.Tensor) -> float:
    """Smallest, over pairs of positions in a row, of max |logits_i - logits_j|: how distinct positions are."""
    smallest = float("inf")
    for b in range(logits.shape[0]):
        for i in range(logits.shape[1]):
            for j in range(i + 1, logits.shape[1]):
                smallest = min(smallest, (logits[b, i] - logits[b, j]).abs().max().item())
    return smallest


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(REPO / "Tests" / "Fixtures" / "hf"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    transformers.utils.logging.disable_progress_bar()
    torch.manual_seed(SEED)
    torch.set_num_threads(1)  # one summation order, so a rerun writes the same bytes
    ids = fixed_ids()
    decoder_ids = fixed_decoder_ids()

    specs = []  # (folder name, model, description)

    gpt2 = GPT2LMHeadModel(gpt2_config())
    reinitialise(gpt2, SEED)
    specs.append(("gpt2", gpt2, {}, "GPT2LMHeadModel, tied wte/lm_head"))

    llama = LlamaForCausalLM(llama_config(num_key_value_heads=2, tie=False))
    reinitialise(llama, SEED + 1)
    specs.append(("llama", llama, {}, "LlamaForCausalLM, GQA 4 query / 2 key-value heads, untied lm_head"))
    specs.append(
        ("llama-sharded", llama, {"max_shard_size": SHARD_SIZE}, f"the llama weights, sharded (max_shard_size {SHARD_SIZE})")
    )

    mqa = LlamaForCausalLM(llama_config(num_key_value_heads=1, tie=True))
    reinitialise(mqa, SEED + 2)
    specs.append(("llama-mqa", mqa, {}, "LlamaForCausalLM, MQA 4 query / 1 key-value head, tied embed_tokens/lm_head"))

    t5 = t5_model()
    reinitialise(t5, SEED + 3)
    specs.append(
        ("t5", t5, {}, "T5ForConditionalGeneration, T5 v1.1 style (gated-gelu, untied lm_head), 2 encoder + 2 decoder layers")
    )

    summary = []
    for name, model, save_kwargs, desc in specs:
        folder = out / name
        dec = decoder_ids if model.config.is_encoder_decoder else None
        use_eager(model)
        logits = logits_of(model, ids, dec)
        save_model(model, folder, **save_kwargs)
        reload_and_check(folder, ids, logits, dec)
        write_expected(folder, ids, logits, type(model).__name__, dec)
        shards = sorted(f.name for f in folder.glob("model*.safetensors"))
        if name == "llama-sharded" and not 2 <= len(shards) <= 3:
            raise SystemExit(f"llama-sharded: {len(shards)} shards, wanted 2 or 3 (change SHARD_SIZE)")
        summary.append((name, desc, shards, folder_bytes(folder), spread(logits), logits.abs().max().item()))
        print(f"{name}: {desc}; {', '.join(shards)}; {folder_bytes(folder)} bytes; "
              f"min over position pairs of max|dlogit| {spread(logits):.3f}", file=sys.stderr)

    write_readme(out, ids, decoder_ids, summary)
    total = sum(s[3] for s in summary) + (out / "README.md").stat().st_size
    print(f"total {total} bytes ({total / 1024:.1f} KiB) in {out}", file=sys.stderr)
    return 0


def write_readme(out: Path, ids: torch.Tensor, decoder_ids: torch.Tensor, summary) -> None:
    rel_script = "benchmarks/interop/make_fixtures.py"
    lines = [
        "# Hugging Face interop fixtures",
        "",
        f"Made by `{rel_script}` (do not edit by hand; rerun it):",
        "",
        "```sh",
        "benchmarks/interop/setup.sh",
        f"benchmarks/interop/.venv/bin/python {rel_script}",
        "```",
        "",
        "Versions that made these files:",
        "",
        f"- Python {platform.python_version()}",
        f"- torch {torch.__version__}",
        f"- transformers {transformers.__version__}",
        f"- safetensors {safetensors.__version__}",
        f"- numpy {np.__version__}",
        "",
        "| folder | model | weight files | bytes |",
        "| --- | --- | --- | --- |",
    ]
    for name, desc, shards, nbytes, _, _ in summary:
        lines.append(f"| `{name}/` | {desc} | {', '.join(f'`{s}`' for s in shards)} | {nbytes} |")
    lines += [
        "",
        "Each folder holds what `save_pretrained` wrote (`config.json` and `model.safetensors`, or shards",
        "`model-0000i-of-0000n.safetensors` with `model.safetensors.index.json`; `generation_config.json` is",
        "removed) and `expected.safetensors` with:",
        "",
        f"- `input_ids`: I64 [{BATCH}, {SEQ}], the same fixed pseudo-random ids (torch generator seed {IDS_SEED}) in every folder:",
        "",
        "```",
        *[" ".join(f"{v:2d}" for v in row) for row in ids.tolist()],
        "```",
        "",
        f"- `logits`: F32 [{BATCH}, {SEQ}, {VOCAB}], the model's output for those ids in fp32 eval mode, no attention",
        "  mask (plain causal), positions 0..11, no cache, eager attention, one CPU thread.",
        "",
        "`t5/` is an encoder-decoder: those `input_ids` are its encoder's input, and its expected file also holds",
        "",
        f"- `decoder_input_ids`: I64 [{BATCH}, {DEC_SEQ}] (torch generator seed {IDS_SEED + 1}; decoder_start_token_id 0 first,",
        "  then ids drawn from 2..95, as `_shift_right(labels)` would make them):",
        "",
        "```",
        *[" ".join(f"{v:2d}" for v in row) for row in decoder_ids.tolist()],
        "```",
        "",
        f"- `logits`: F32 [{BATCH}, {DEC_SEQ}, {VOCAB}], one row per decoder position, from",
        "  `model(input_ids=input_ids, decoder_input_ids=decoder_input_ids, use_cache=False)` in fp32 eval mode with no",
        "  masks: encoder self-attention over all 12 positions, decoder self-attention causal, cross-attention over all",
        "  12 encoder positions; eager attention, one CPU thread.",
        "",
        "Config: vocab 96; GPT-2 n_positions 32, n_embd 32, 2 layers, 4 heads, `gelu_new`, LayerNorm eps 1e-5,",
        "dropouts 0, tied embeddings, bos = eos = 95; Llama hidden 32, intermediate 88, 2 layers, 4 heads",
        "(head_dim 8), rms_norm_eps 1e-5, rope_theta 10000, max_position_embeddings 64, no biases, SiLU,",
        "no rope scaling; `llama` / `llama-sharded` have 2 key-value heads and an untied `lm_head`,",
        "`llama-mqa` 1 key-value head and a tied `lm_head`. T5 (v1.1 style): d_model 32, d_kv 8, 4 heads",
        "(inner 32), d_ff 64, `feed_forward_proj` \"gated-gelu\" (gelu_new), 2 encoder and 2 decoder layers,",
        "relative_attention_num_buckets 8, relative_attention_max_distance 16, layer_norm_epsilon 1e-6, dropout 0,",
        "pad 0, eos 1, decoder_start_token_id 0, an untied `lm_head` and no rescaling of the decoder output",
        "(details below).",
        "",
        f"Weights: transformers' own initialisation is redrawn (seed {SEED} for gpt2, {SEED + 1} for llama,",
        f"{SEED + 2} for llama-mqa, {SEED + 3} for t5): norm weights 1 + {STD}·N(0,1) (T5LayerNorm too); every other",
        f"weight and bias {STD}·N(0,1) (T5's relative attention bias tables too), so",
        "biases are nonzero and the logits of different positions differ clearly (column `spread` below:",
        "the smallest, over pairs of positions in a row, of max |logits_i − logits_j|).",
        "",
        "| folder | spread | max abs logit |",
        "| --- | --- | --- |",
    ]
    for name, _, _, _, sp, mx in summary:
        lines.append(f"| `{name}/` | {sp:.3f} | {mx:.3f} |")
    lines += [
        "",
        "Tensors (all F32; Linear weights [out, in], GPT-2 Conv1D weights [in, out]; a tied output",
        "embedding is stored once, under the input embedding's name):",
        "",
    ]
    for name in ("gpt2", "llama", "llama-mqa", "t5"):
        rows = tensor_table(out / name)
        width = max([48] + [len(k) for k, _, _, _ in rows])
        lines += [f"`{name}/`:", "", "```"]
        lines += [f"{k:{width}s} {dt} {shape}" for k, dt, shape, _ in rows]
        lines += ["```", ""]
    lines += [
        "`llama-sharded/` holds the same tensors as `llama/`, spread over the shards named in",
        "`model.safetensors.index.json` (`weight_map`: tensor name -> shard file).",
        "",
        "Before writing `expected.safetensors` the script reloads each folder with",
        "`AutoModelForCausalLM.from_pretrained` and requires bit-identical logits. To check an export of",
        "Tessera's own against one of these files, use `benchmarks/interop/check_export.py`;",
        "`benchmarks/interop/reference_numpy.py` recomputes the Llama logits in plain numpy.",
        "(`t5/`: `AutoModelForSeq2SeqLM`, and reference_numpy.py recomputes the GPT-2 and T5 logits as well.)",
        "",
    ]
    lines += t5_readme_lines(out / "t5")
    (out / "README.md").write_text("\n".join(lines))


def t5_readme_lines(folder: Path) -> list[str]:
    """What a loader of t5/ (and of T5 v1.1 checkpoints) needs, with tables computed by transformers itself."""
    from transformers.models.t5.modeling_t5 import T5Attention

    cfg = json.loads((folder / "config.json").read_text())
    n, m = cfg["relative_attention_num_buckets"], cfg["relative_attention_max_distance"]

    def buckets(rel: range, bidirectional: bool) -> list[int]:
        r = torch.tensor(list(rel), dtype=torch.long)
        return T5Attention._relative_position_bucket(r, bidirectional=bidirectional, num_buckets=n, max_distance=m).tolist()

    def table(rel: range, bidirectional: bool) -> list[str]:
        return [
            "r      " + " ".join(f"{v:3d}" for v in rel),
            "bucket " + " ".join(f"{v:3d}" for v in buckets(rel, bidirectional)),
        ]

    keys = [f"{k}: {json.dumps(v)}" for k, v in cfg.items()]
    return [
        "## T5 (`t5/`): what a loader needs",
        "",
        f"Read from transformers {transformers.__version__}'s `models/t5/modeling_t5.py` and `configuration_t5.py`,",
        "and checked by `benchmarks/interop/reference_numpy.py` (an independent numpy forward pass).",
        "",
        "Tensors (listed above; all Linear weights [out, in], no biases anywhere; inner = num_heads·d_kv = 32):",
        "",
        "- `shared.weight` [vocab, d_model]: the token embedding of both stacks. `encoder.embed_tokens.weight` and",
        "  `decoder.embed_tokens.weight` are the same tensor (always tied in transformers) and are not in the file;",
        "  a loader should accept them as aliases of `shared.weight` (older `.bin` checkpoints hold copies).",
        "- `lm_head.weight` [vocab, d_model]: its own tensor (T5 v1.1), different from `shared.weight`. Original T5",
        "  (t5-small ...) has no `lm_head.weight`: logits use `shared.weight`.",
        "- Encoder block i: `encoder.block.i.layer.0` = self-attention (`SelfAttention.{q,k,v}.weight` [inner, d_model],",
        "  `SelfAttention.o.weight` [d_model, inner], pre-norm `layer.0.layer_norm.weight` [d_model]);",
        "  `layer.1` = feed-forward (`DenseReluDense.wi_0.weight`, `wi_1.weight` [d_ff, d_model], `wo.weight`",
        "  [d_model, d_ff], pre-norm `layer.1.layer_norm.weight`).",
        "- Decoder block i: `layer.0` = causal self-attention (`SelfAttention.*`), `layer.1` = cross-attention",
        "  (`EncDecAttention.{q,k,v,o}.weight`, same shapes; q reads the decoder, k and v the encoder output),",
        "  `layer.2` = feed-forward (`DenseReluDense.*`); each with its own pre-norm `layer.j.layer_norm.weight`.",
        "- `SelfAttention.relative_attention_bias.weight` [num_buckets, num_heads] exists ONLY in block 0 of each stack",
        "  (`encoder.block.0.layer.0...`, `decoder.block.0.layer.0...`); block 0 computes the bias once and every block",
        "  of the same stack adds that same bias. Cross-attention has no position bias (some old checkpoints carry",
        "  `decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight`; transformers ignores it).",
        "- `encoder.final_layer_norm.weight`, `decoder.final_layer_norm.weight` [d_model].",
        "",
        "Forward pass (eval; dropout is identity):",
        "",
        "```",
        "rmsnorm(x, w) = w * x / sqrt(mean(x^2) + layer_norm_epsilon)   T5LayerNorm: no mean subtraction, no bias;",
        "                                                               the mean square is computed in fp32",
        "attn(x, kv, B, causal) = concat_h softmax(q_h k_h^T + B[h] + mask) v_h @ o^T,  q = x q^T, k = kv k^T, v = kv v^T",
        "                         NO 1/sqrt(d_kv) scaling (T5 folds it into the initialisation)",
        "ff(x) = (gelu_new(x wi_0^T) * (x wi_1^T)) wo^T,   gelu_new(z) = 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))",
        "encoder: h = shared[input_ids]",
        "         per block: h += attn(rmsnorm(h, layer.0.layer_norm), same, B_enc, no mask)",
        "                    h += ff(rmsnorm(h, layer.1.layer_norm))",
        "         e = rmsnorm(h, encoder.final_layer_norm)",
        "decoder: g = shared[decoder_input_ids]",
        "         per block: g += attn(rmsnorm(g, layer.0.layer_norm), same, B_dec, causal)",
        "                    g += attn(rmsnorm(g, layer.1.layer_norm), e, 0, encoder mask if any)",
        "                    g += ff(rmsnorm(g, layer.2.layer_norm))",
        "         g = rmsnorm(g, decoder.final_layer_norm)",
        "logits = g @ lm_head^T                     (these fixtures, T5 v1.1)",
        "logits = (g * d_model^-0.5) @ shared^T     (original T5: tied, rescaled)",
        "```",
        "",
        "Relative position bias: `B[h, i, j] = relative_attention_bias[bucket(j - i), h]` for query position i and",
        "key position j (r = j - i = key − query), with N = relative_attention_num_buckets, M =",
        "relative_attention_max_distance (`T5Attention._relative_position_bucket`):",
        "",
        "```",
        "encoder (bidirectional): n = N / 2;  base = (r > 0) ? n : 0;  a = |r|",
        "decoder (causal):        n = N;      base = 0;                a = max(-r, 0) = max(i - j, 0)",
        "max_exact = n / 2                           (integer division, both)",
        "bucket = base + a                                                                  if a < max_exact",
        "bucket = base + min(n - 1, max_exact + trunc(log(a / max_exact) / log(M / max_exact) * (n - max_exact)))",
        "                                                                                   otherwise",
        "```",
        "",
        "(natural logs; transformers evaluates it in float32 and truncates toward zero with `.to(long)`; float64 gives",
        "the same buckets for every |r| <= 5000 with this and the common configs (32/128, 16/64, 32/64, 64/256).)",
        "With the decoder's cache, query position i is `past_seen_tokens + i`. For this fixture (N = "
        + f"{n}, M = {m}):",
        "",
        "```",
        "encoder",
        *table(range(-11, 12), True),
        "decoder (r > 0 never reaches the softmax: it is masked)",
        *table(range(-11, 1), False),
        "```",
        "",
        "Masks: with no attention masks (as here) the encoder attends to every position (pads included), the",
        "decoder self-attention is causal (key j <= query i), cross-attention sees every encoder position.",
        "An `attention_mask` (encoder padding) masks encoder keys in the encoder's self-attention and in every",
        "cross-attention; `decoder_attention_mask` masks decoder keys, on top of causality. transformers adds",
        "masks after the position bias as a large negative number (dtype min), not -inf.",
        "",
        "Output scaling and tying in this transformers version (checked in the installed source):",
        "",
        "- `T5ForConditionalGeneration.forward`: `if self.config.scale_decoder_outputs: sequence_output =",
        "  sequence_output * (self.model_dim**-0.5)`, then `lm_head`. (4.x: `if self.config.tie_word_embeddings:`.)",
        "- `T5Config.__post_init__`: `scale_decoder_outputs = kwargs.pop(\"tie_word_embeddings\", None) is not False`,",
        "  then `tie_word_embeddings = True` always; a `scale_decoder_outputs` key in config.json overrides it on load.",
        "  So `tie_word_embeddings: false` (a 4.x T5 v1.1 config) means no rescaling; the key absent (original T5's",
        "  config) means rescaling; the saved config.json here says `\"tie_word_embeddings\": true` and",
        "  `\"scale_decoder_outputs\": false`.",
        "- lm_head: `_tied_weights_keys` ties `lm_head`, `encoder.embed_tokens`, `decoder.embed_tokens` to `shared`.",
        "  When a checkpoint holds both `shared.weight` and `lm_head.weight` with different values, `from_pretrained`",
        "  does not tie them (it logs a warning about the config): that is how the T5 v1.1 head survives.",
        "- A loader's rule: rescale iff `scale_decoder_outputs` if the key is present, else iff",
        "  `tie_word_embeddings` is not false; lm_head = `lm_head.weight` if the file has it, else `shared.weight`.",
        "",
        f"config.json as transformers {transformers.__version__} writes it (key: value):",
        "",
        "```",
        *keys,
        "```",
        "",
        "Of these, the forward pass reads d_model, d_kv, d_ff, num_heads, num_layers (encoder), num_decoder_layers",
        "(absent in old configs: = num_layers), relative_attention_num_buckets, relative_attention_max_distance,",
        "layer_norm_epsilon, feed_forward_proj (\"gated-gelu\": gated, gelu_new; \"relu\": original T5's",
        "wo(relu(wi x)) with `DenseReluDense.wi.weight`), vocab_size and scale_decoder_outputs / tie_word_embeddings.",
        "dense_act_fn and is_gated_act are derived from feed_forward_proj (older configs may lack them);",
        "decoder_start_token_id, pad_token_id and eos_token_id matter only for building decoder inputs and generating.",
        "",
    ]


if __name__ == "__main__":
    sys.exit(main())
