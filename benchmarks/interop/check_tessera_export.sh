#!/usr/bin/env bash
# Exports a Tessera model as a Hugging Face folder and checks that transformers computes Tessera's
# own logits from it.
#
# usage: benchmarks/interop/check_tessera_export.sh SOURCE OUT_DIR [TOKENS]
#
# SOURCE: a model.h5, a checkpoint folder or a run directory. OUT_DIR: the export (replaced).
# TOKENS: tokens per sequence (default 12, at most the model's block size); two sequences of ids
# drawn from the vocabulary (seed 4321).
# Steps: `tessera export --format hf --overwrite SOURCE OUT_DIR`; `tessera-logits SOURCE FILE` (Tessera's
# forward on the model.h5, fp32, one process); `check_export.py OUT_DIR FILE` (transformers on the
# export). Prints check_export.py's JSON line; exit status is its (0 when max_rel_err <= 1e-4).
# Environment: TESSERA_BUILD_DIR (where tessera and tessera-logits are, default .build/release),
# PYTHON (default benchmarks/interop/.venv/bin/python, made by setup.sh).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ $# -lt 2 || $# -gt 3 ]]; then
    sed -n '5,15s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
fi
source_path="$1" out="$2" tokens="${3:-12}"
build="${TESSERA_BUILD_DIR:-$root/.build/release}"
python="${PYTHON:-$root/benchmarks/interop/.venv/bin/python}"
expected="$(mktemp --suffix=.safetensors)"
trap 'rm -f "$expected"' EXIT

"$build/tessera" export --format hf --overwrite "$source_path" "$out" >&2
"$build/tessera-logits" "$source_path" "$expected" --tokens "$tokens" >&2
"$python" "$root/benchmarks/interop/check_export.py" "$out" "$expected"
