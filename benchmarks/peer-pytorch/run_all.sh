#!/usr/bin/env bash
# Runs every peer mode once (plus the sgemm cross-check) and appends one JSON line per run to
# the file given as $1 (default: stdout). Progress and per-step logs go to stderr.
#   bash benchmarks/peer-pytorch/run_all.sh /tmp/peer-pytorch.jsonl
# ROUNDS=N repeats the whole sequence N times (take medians across rounds on a shared machine).
set -u
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-/dev/stdout}"
rounds="${ROUNDS:-1}"
py="${PYTHON:-python3}"

modes=(
  "--config baby --ddp"
  "--config baby --threads 2"
  "--config baby --threads 2 --compile"
  "--config gpt2s --threads 2"
  "--config gpt2s --threads 2 --compile"
  "--config gpt2s --ddp"
)

for r in $(seq 1 "$rounds"); do
  for m in "${modes[@]}"; do
    echo "== round $r: gpt_torch.py $m (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    # shellcheck disable=SC2086
    if ! line=$(timeout 900 "$py" "$here/gpt_torch.py" $m); then
      echo "!! failed: $m" >&2
      continue
    fi
    echo "$line" >> "$out"
  done
  echo "== round $r: sgemm_peak.py" >&2
  "$py" "$here/sgemm_peak.py" >> "$out"
done
