#!/usr/bin/env python3
"""Does a Hugging Face folder give the expected logits?

    check_export.py EXPORT_DIR EXPECTED.safetensors [--tolerance 1e-4] [--attn eager]

EXPORT_DIR is loaded with transformers.AutoModelForCausalLM.from_pretrained (fp32, eval, local files
only) and run on EXPECTED's `input_ids` (I64 [B, T]) with no attention mask (plain causal). Its logits
are compared with EXPECTED's `logits` (F32 [B, T, V]); a file with `logprobs` instead is compared
with log_softmax of the logits. Errors: max absolute max|a - b| and max relative max|a - b| / max|b|
(a = the model, b = EXPECTED). Passes when the max relative error is at most the tolerance.

An encoder-decoder expected file (T5) also holds `decoder_input_ids` (I64 [B, T_dec]): EXPORT_DIR is
then loaded with AutoModelForSeq2SeqLM and called with input_ids (the encoder's, [B, T_enc]) and
decoder_input_ids, no masks (encoder bidirectional, decoder causal, cross-attention over every encoder
position); `logits` / `logprobs` are [B, T_dec, V].

Prints one JSON line on stdout; exits 0 on a pass, 1 on a failure (numbers beyond the tolerance, or
a folder, file or shape that cannot be compared).
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def report(result: dict) -> None:
    print(json.dumps(result), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description="Compare a Hugging Face export's logits with an expected file.")
    ap.add_argument("export_dir")
    ap.add_argument("expected")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="largest max relative error that passes (1e-4)")
    ap.add_argument("--attn", default="eager", help="attn_implementation for from_pretrained (eager)")
    args = ap.parse_args()

    result = {
        "export_dir": args.export_dir,
        "expected": args.expected,
        "model_class": None,
        "compared": None,
        "shape": None,
        "max_abs_err": None,
        "max_rel_err": None,
        "tolerance": args.tolerance,
        "pass": False,
    }

    def fail(message: str) -> int:
        result["error"] = message
        report(result)
        return 1

    if not os.path.isdir(args.export_dir):
        return fail(f"not a folder: {args.export_dir}")  # from_pretrained would go to the hub instead
    if not os.path.isfile(args.expected):
        return fail(f"not a file: {args.expected}")

    import torch
    import transformers
    from safetensors.torch import load_file

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()

    try:
        expected = load_file(args.expected)
    except Exception as e:  # noqa: BLE001 - any unreadable file is a failure, said in one line
        return fail(f"cannot read {args.expected}: {e}")
    if "input_ids" not in expected:
        return fail("expected file has no input_ids")
    ids = expected["input_ids"]
    if ids.dtype != torch.int64 or ids.dim() != 2:
        return fail(f"input_ids must be I64 [B, T], is {ids.dtype} {list(ids.shape)}")
    decoder_ids = expected.get("decoder_input_ids")
    if decoder_ids is not None:
        if decoder_ids.dtype != torch.int64 or decoder_ids.dim() != 2 or decoder_ids.shape[0] != ids.shape[0]:
            return fail(
                f"decoder_input_ids must be I64 [B, T] with input_ids' B ({ids.shape[0]}), "
                f"is {decoder_ids.dtype} {list(decoder_ids.shape)}"
            )
    if "logits" in expected:
        compared = "logits"
    elif "logprobs" in expected:
        compared = "logprobs"
    else:
        return fail("expected file has neither logits nor logprobs")
    want = expected[compared].to(torch.float64)
    result["compared"] = compared

    dtype_kw = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
    # An encoder-decoder model (T5) comes with decoder_input_ids; everything else is a causal LM.
    auto = transformers.AutoModelForCausalLM if decoder_ids is None else transformers.AutoModelForSeq2SeqLM
    try:
        model = auto.from_pretrained(
            args.export_dir, local_files_only=True, attn_implementation=args.attn, **{dtype_kw: torch.float32}
        )
    except Exception as e:  # noqa: BLE001
        return fail(f"from_pretrained failed: {type(e).__name__}: {e}")
    model.eval()
    result["model_class"] = type(model).__name__

    inputs = {"input_ids": ids} if decoder_ids is None else {"input_ids": ids, "decoder_input_ids": decoder_ids}
    try:
        with torch.no_grad():
            logits = model(**inputs, use_cache=False).logits.to(torch.float32)
    except Exception as e:  # noqa: BLE001 - e.g. ids beyond the vocabulary
        return fail(f"forward failed: {type(e).__name__}: {e}")
    got = torch.log_softmax(logits, dim=-1) if compared == "logprobs" else logits
    got = got.to(torch.float64)
    result["shape"] = list(got.shape)
    if got.shape != want.shape:
        return fail(f"model gives {compared} {list(got.shape)}, expected file has {list(want.shape)}")

    diff = (got - want).abs().max().item()
    scale = want.abs().max().item()
    rel = diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))
    result["max_abs_err"] = diff
    result["max_rel_err"] = rel
    result["pass"] = bool(rel <= args.tolerance)  # a NaN fails
    report(result)
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
