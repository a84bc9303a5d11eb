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

echo "| config | parameters | final val loss | final train loss | wall time | median tokens/s |"
echo "| --- | --- | --- | --- | --- | --- |"
for config in shakespeare-char llama-shakespeare; do
    dir="$out/$config"
    rm -rf "$dir"
    start=$SECONDS
    launch/tessera-run -np 2 train --config "configs/$config.toml" --resume never --set "run.dir=$dir" "$@" 2>"$dir.log"
    parameters="$(sed -n 's/.*: \([0-9.]*[kM]\) parameters$/\1/p' "$dir.log" | head -n 1)"
    echo "| $config | $parameters | $(python3 benchmarks/run_summary.py "$dir" $((SECONDS - start))) |"
done
