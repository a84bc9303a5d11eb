#!/usr/bin/env bash
# Creates benchmarks/dashboards/.venv with tensorboard and prometheus_client from PyPI, for check.py.
# Idempotent: when the environment already imports both, it does nothing.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
PY="$VENV/bin/python"
PYTHON="${PYTHON:-python3}"

if [ -x "$PY" ] && "$PY" -c 'import tensorboard, prometheus_client' >/dev/null 2>&1; then
  echo "dashboards: $VENV already has tensorboard and prometheus_client; nothing to do" >&2
  exit 0
fi
if [ ! -x "$PY" ]; then
  echo "dashboards: creating $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
"$PY" -m pip install --quiet --upgrade pip
"$PY" -m pip install --quiet tensorboard prometheus_client
"$PY" -c 'import tensorboard, prometheus_client; print("dashboards: tensorboard", tensorboard.__version__)' >&2
