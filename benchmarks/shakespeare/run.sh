#!/usr/bin/env bash
# nanoGPT's CPU "baby GPT" (configs/shakespeare-char.toml) to 2000 steps, twice: 1 rank with 2 BLAS
# threads and 2 ranks with 1 thread each. Prints final val loss (nanoGPT publishes 1.88 for this
# run on CPU), wall time and median tokens/s of each, as a markdown table.
#   benchmarks/shakespeare/run.sh [EXTRA --set OVERRIDES...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="${TESSERA_BENCH_DIR:-$root/benchmarks/results/shakespeare}"
mkdir -p "$out"

echo "| layout | final val loss | final train loss | wall time | median tokens/s |"
echo "| --- | --- | --- | --- | --- |"
for layout in "1 2" "2 1"; do
    read -r ranks threads <<<"$layout"
    dir="$out/np${ranks}x${threads}"
    rm -rf "$dir"
    start=$SECONDS
    OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads launch/tessera-run -np "$ranks" train \
        --config configs/shakespeare-char.toml --resume never --set "run.dir=$dir" "$@" 2>"$dir.log"
    echo "| $ranks rank(s) x $threads thread(s) | $(python3 benchmarks/run_summary.py "$dir" $((SECONDS - start))) |"
done
