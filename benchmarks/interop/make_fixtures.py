#!/usr/bin/env python3
"""Writes the Hugging Face interop fixtures under Tests/Fixtures/hf/.

Tiny random GPT-2 and Llama models are built in `transformers` with a fixed seed, saved with
`save_pretrained` (config.json + safetensors), and run once in fp32 eval mode on fixed token ids;
the ids and the logits go to expected.safetensors beside each model. The Swift tests load these
files and need no Python.

    benchmarks/interop/setup.sh
    benchmarks/interop/.venv/bin/python benchmarks/interop/make_fixtures.py [--out Tests/Fixtures/hf]

Weights: transformers' own initialisation (std 0.02, zero biases, norm weights 1) would make every
position's logits nearly the same, so a loader that mixed up positions, heads or a transpose could
still match. Every parameter is therefore drawn again from one seeded generator, in the order of
the sorted parameter names: LayerNorm / RMSNorm weights 1 + 0.2*N(0,1), every other weight and
bias (embeddings, projections, LayerNorm biases) 0.2*N(0,1). A tied output embedding is the same
tensor as the input embedding and is drawn once.
"""

from __future__ import annotations

import argparse
import inspect
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
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

SEED = 1234
IDS_SEED = 4321
VOCAB = 96
BATCH, SEQ = 2, 12
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


def is_norm(module: torch.nn.Module) -> bool:
    return isinstance(module, torch.nn.LayerNorm) or type(module).__name__.endswith("RMSNorm")


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
def logits_of(model, ids: torch.Tensor) -> torch.Tensor:
    model.eval()
    out = model(input_ids=ids, use_cache=False)  # no attention_mask: plain causal
    return out.logits.to(torch.float32).contiguous()


def write_expected(folder: Path, ids: torch.Tensor, logits: torch.Tensor, model_class: str) -> None:
    save_file(
        {"input_ids": ids.contiguous(), "logits": logits},
        str(folder / "expected.safetensors"),
        # One key: safetensors writes metadata in hash order, so several keys would change the bytes per run.
        metadata={
            "made_by": f"benchmarks/interop/make_fixtures.py; {model_class}; torch {torch.__version__}; "
            f"transformers {transformers.__version__}; fp32, eval, no attention mask (causal)",
        },
    )


def reload_and_check(folder: Path, ids: torch.Tensor, logits: torch.Tensor) -> float:
    """The saved folder, reloaded by transformers, gives the same logits (nothing lost in saving)."""
    m = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    again = logits_of(m, ids)
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

    summary = []
    for name, model, save_kwargs, desc in specs:
        folder = out / name
        model.config._attn_implementation = "eager"
        logits = logits_of(model, ids)
        save_model(model, folder, **save_kwargs)
        reload_and_check(folder, ids, logits)
        write_expected(folder, ids, logits, type(model).__name__)
        shards = sorted(f.name for f in folder.glob("model*.safetensors"))
        if name == "llama-sharded" and not 2 <= len(shards) <= 3:
            raise SystemExit(f"llama-sharded: {len(shards)} shards, wanted 2 or 3 (change SHARD_SIZE)")
        summary.append((name, desc, shards, folder_bytes(folder), spread(logits), logits.abs().max().item()))
        print(f"{name}: {desc}; {', '.join(shards)}; {folder_bytes(folder)} bytes; "
              f"min over position pairs of max|dlogit| {spread(logits):.3f}", file=sys.stderr)

    write_readme(out, ids, summary)
    total = sum(s[3] for s in summary) + (out / "README.md").stat().st_size
    print(f"total {total} bytes ({total / 1024:.1f} KiB) in {out}", file=sys.stderr)
    return 0


def write_readme(out: Path, ids: torch.Tensor, summary) -> None:
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
        "Config: vocab 96; GPT-2 n_positions 32, n_embd 32, 2 layers, 4 heads, `gelu_new`, LayerNorm eps 1e-5,",
        "dropouts 0, tied embeddings, bos = eos = 95; Llama hidden 32, intermediate 88, 2 layers, 4 heads",
        "(head_dim 8), rms_norm_eps 1e-5, rope_theta 10000, max_position_embeddings 64, no biases, SiLU,",
        "no rope scaling; `llama` / `llama-sharded` have 2 key-value heads and an untied `lm_head`,",
        "`llama-mqa` 1 key-value head and a tied `lm_head`.",
        "",
        f"Weights: transformers' own initialisation is redrawn (seed {SEED} for gpt2, {SEED + 1} for llama,",
        f"{SEED + 2} for llama-mqa): norm weights 1 + {STD}·N(0,1); every other weight and bias {STD}·N(0,1), so",
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
    for name in ("gpt2", "llama", "llama-mqa"):
        lines += [f"`{name}/`:", "", "```"]
        lines += [f"{k:48s} {dt} {shape}" for k, dt, shape, _ in tensor_table(out / name)]
        lines += ["```", ""]
    lines += [
        "`llama-sharded/` holds the same tensors as `llama/`, spread over the shards named in",
        "`model.safetensors.index.json` (`weight_map`: tensor name -> shard file).",
        "",
        "Before writing `expected.safetensors` the script reloads each folder with",
        "`AutoModelForCausalLM.from_pretrained` and requires bit-identical logits. To check an export of",
        "Tessera's own against one of these files, use `benchmarks/interop/check_export.py`;",
        "`benchmarks/interop/reference_numpy.py` recomputes the Llama logits in plain numpy.",
        "",
    ]
    (out / "README.md").write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
