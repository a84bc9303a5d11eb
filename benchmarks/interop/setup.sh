#!/usr/bin/env bash
# Creates benchmarks/interop/.venv with torch (CPU), transformers, safetensors and numpy.
# Idempotent: when the environment already imports all four, it does nothing.
#
# torch, in order of preference:
#   1. the CPU-only index (download.pytorch.org/whl/cpu), when it can be reached;
#   2. a CPU wheel (torch-*+cpu-<this python>-*.whl) in a local find-links folder
#      (PIP_FIND_LINKS, space-separated), pinned by version so pip cannot prefer PyPI's CUDA build;
#   3. plain `pip install torch` from PyPI (the CUDA build on Linux x86_64: several GiB, but works).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
PY="$VENV/bin/python"
PYTHON="${PYTHON:-python3}"
CPU_INDEX="https://download.pytorch.org/whl/cpu"

have_all() {
  [ -x "$PY" ] && "$PY" -c 'import torch, transformers, safetensors, numpy' >/dev/null 2>&1
}

if have_all; then
  echo "interop: $VENV already has torch, transformers, safetensors, numpy; nothing to do" >&2
  exit 0
fi

if [ ! -x "$PY" ]; then
  echo "interop: creating $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi

PIP=("$PY" -m pip)

if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
  installed=0
  echo "interop: trying torch from the CPU-only index" >&2
  if "${PIP[@]}" install --retries 0 --timeout 20 torch --index-url "$CPU_INDEX"; then
    installed=1
  else
    echo "interop: the CPU-only index is unreachable; looking for a local CPU wheel" >&2
    tag="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
    wheel=""
    for dir in ${PIP_FIND_LINKS:-}; do
      [ -d "$dir" ] || continue
      for w in "$dir"/torch-*+cpu-"$tag"-"$tag"-*.whl; do
        [ -f "$w" ] && wheel="$w"
      done
    done
    if [ -n "$wheel" ]; then
      version="$(basename "$wheel" | cut -d- -f2)"   # e.g. 2.13.0+cpu
      echo "interop: installing torch==$version (local wheel $wheel)" >&2
      if "${PIP[@]}" install "torch==$version"; then installed=1; fi
    fi
  fi
  if [ "$installed" = 0 ]; then
    echo "interop: falling back to plain 'pip install torch' from PyPI (may be the large CUDA build)" >&2
    "${PIP[@]}" install torch
  fi
fi

"${PIP[@]}" install transformers safetensors numpy

have_all || { echo "interop: the environment still cannot import torch/transformers/safetensors/numpy" >&2; exit 1; }
"$PY" -c 'import torch, transformers, safetensors, numpy; print("interop: torch", torch.__version__, "transformers", transformers.__version__, "safetensors", safetensors.__version__, "numpy", numpy.__version__)' >&2
