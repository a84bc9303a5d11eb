#!/usr/bin/env bash
# Mixture of experts: tokens/s and the all-to-all share of step time for n_experts 8, top_k 2 at
# ep ∈ {1, 2, 4} (4 ranks, so dp 4 in every case), and the saving against a dense model with as
# many parameters in total (the experts' 8 MLPs per layer turned into more dense layers).
#
#   benchmarks/moe/run.sh [STEPS]      (default 20; medians skip the first step)
#
# Prints a markdown table; logs and run directories under benchmarks/results/moe (or
# TESSERA_BENCH_DIR).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="${TESSERA_BENCH_DIR:-$root/benchmarks/results/moe}"
mkdir -p "$out"
steps="${1:-20}"
shape=(model.n_embd=128 model.n_head=4 model.block_size=64 train.batch_size=16 "train.steps=$steps"
       train.log_every=1 train.eval_every=0)
moe=(model.n_layer=2 model.n_experts=8 model.top_k=2 model.capacity_factor=1.25)
# Per layer the experts hold 8 · 8C² weights and attention 4C², a dense layer 12C²: 68/12 ≈ 5.7
# dense layers per expert layer.
dense=(model.n_layer=11)

run() {  # $1 = name, rest = --set overrides
    local name=$1
    shift
    local sets=()
    for o in "$@"; do sets+=(--set "$o"); done
    rm -rf "${out:?}/$name"
    launch/tessera-run -np 4 train --config configs/shakespeare-char.toml --resume never \
        --set "run.dir=$out/$name" "${sets[@]}" 2>"$out/$name.log"
}

row() {  # $1 = name, $2 = label
    python3 - "$out/$1" "$2" <<'PY'
import json, re, statistics, sys
run, label = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(run + "/metrics.jsonl") if '"loss"' in l][1:]
log = open(run + ".log").read()
params = re.search(r": ([\d.]+[kM]?) parameters", log).group(1)
share = re.search(r"all-to-all: ([\d.]+%)", log)
tokens = statistics.median(r["tokens_per_s"] for r in rows)
dropped = statistics.median(r.get("dropped_fraction", 0) for r in rows)
print(f"| {label} | {params} | {tokens:.0f} | {statistics.median(r['step_ms'] for r in rows):.1f} | "
      f"{share.group(1) if share else '-'} | {dropped:.3f} |")
PY
}

echo "| model (4 ranks) | parameters | tokens/s | step ms | all-to-all share | dropped |"
echo "| --- | --- | --- | --- | --- | --- |"
for ep in 1 2 4; do
    run "moe-ep$ep" "${shape[@]}" "${moe[@]}" "parallel.ep=$ep"
    row "moe-ep$ep" "8 experts, top-2, ep $ep"
done
run dense "${shape[@]}" "${dense[@]}"
row dense "dense, 11 layers (same total parameters)"
