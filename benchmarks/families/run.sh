#!/usr/bin/env bash
# GPT-2 against LLaMA-style parts at equal parameter count (809.9k and 810.4k) and equal tokens on
# character-level tiny Shakespeare: configs/shakespeare-char.toml and configs/llama-shakespeare.toml,
# 2000 steps each on 2 ranks (1 BLAS thread each), one after the other. Prints a markdown table of
# final validation loss, final train loss, wall time and median tokens/s.
#   benchmarks/families/run.sh [EXTRA --set OVERRIDES...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="${TESSERA_BENCH_DIR:-$root/benchmarks/results/families}"
mkdir -p "$out"

summary() {  # $1 = run dir, $2 = seconds
    python3 - "$1" "$2" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
train = [r for r in rows if "loss" in r]
val = [r for r in rows if "val_loss" in r]
rates = [r["tokens_per_s"] for r in train[1:]]
print(f"{val[-1]['val_loss']:.4f} | {train[-1]['loss']:.4f} | {float(sys.argv[2]):.0f} s | {statistics.median(rates):.0f}")
PY
}

echo "| config | parameters | final val loss | final train loss | wall time | median tokens/s |"
echo "| --- | --- | --- | --- | --- | --- |"
for config in shakespeare-char llama-shakespeare; do
    dir="$out/$config"
    rm -rf "$dir"
    start=$SECONDS
    launch/tessera-run -np 2 train --config "configs/$config.toml" --resume never --set "run.dir=$dir" "$@" 2>"$dir.log"
    parameters="$(sed -n 's/.*: \([0-9.]*[kM]\) parameters$/\1/p' "$dir.log" | head -n 1)"
    echo "| $config | $parameters | $(summary "$dir" $((SECONDS - start))) |"
done
