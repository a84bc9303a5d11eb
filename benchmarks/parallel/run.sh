#!/usr/bin/env bash
# Pipeline bubble and tensor-parallel overhead, measured by the trainer itself (it prints each
# stage's idle share and the tensor group's communication share at the end of a run).
#
#   benchmarks/parallel/run.sh [bubble|tensor|all]   (default all)
#
# bubble: pp ∈ {2, 4} × microbatches ∈ {1, 2, 4, 8} with 1F1B on an 8-layer model, each stage's
#   idle share (median over steps) against the theoretical (pp − 1)/(microbatches + pp − 1).
#   With 4 ranks on fewer than 4 cores the stages that compute at once share cores, which shows
#   as extra idle time; quote pp = 4 from a machine with a core per rank.
# tensor: tp = 2 against dp = 2 on the same ranks, for the baby GPT and for a GPT-2-width model:
#   median step time of each and the tp run's share of time in tensor-parallel all-reduces.
# Results: markdown tables on standard output; logs and run directories under
# benchmarks/results/parallel (or TESSERA_BENCH_DIR).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="${TESSERA_BENCH_DIR:-$root/benchmarks/results/parallel}"
mkdir -p "$out"
what="${1:-all}"

run() {  # $1 = name, $2 = ranks, rest = --set overrides; leaves $out/$1.log and $out/$1/
    local name=$1 ranks=$2
    shift 2
    local sets=()
    for o in "$@"; do sets+=(--set "$o"); done
    rm -rf "${out:?}/$name"
    launch/tessera-run -np "$ranks" train --config configs/shakespeare-char.toml --resume never \
        --set "run.dir=$out/$name" --set train.eval_every=0 "${sets[@]}" 2>"$out/$name.log"
}

median_step_ms() {  # $1 = run dir: median step_ms over the logged steps after the first
    python3 -c '
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl") if "step_ms" in l]
print("%.1f" % statistics.median(r["step_ms"] for r in rows[1:]))' "$1"
}

if [[ $what == all || $what == bubble ]]; then
    echo "| pp | microbatches | idle per stage (median) | theory | worst stage vs theory |"
    echo "| --- | --- | --- | --- | --- |"
    for pp in 2 4; do
        for m in 1 2 4 8; do
            name="bubble-pp$pp-m$m"
            run "$name" "$pp" parallel.pp=$pp parallel.microbatches=$m parallel.schedule=1f1b \
                model.n_layer=8 train.batch_size=16 train.steps=20 train.log_every=1
            python3 - "$out/$name.log" <<'PY'
import re, sys
line = next(l for l in open(sys.argv[1]) if "pipeline idle per stage" in l)
idle = [float(x) for x in re.findall(r"([\d.]+)%", line.split(";")[0])]
theory = float(re.findall(r"= ([\d.]+)%", line)[0])
pp, m = re.search(r"bubble-pp(\d+)-m(\d+)", sys.argv[1]).groups()
worst = max(abs(i - theory) for i in idle)
print(f"| {pp} | {m} | {', '.join(f'{i:.1f}%' for i in idle)} | {theory:.1f}% | {worst:+.1f} points ({worst / theory * 100:.0f}% of theory) |")
PY
        done
    done
    echo
fi

if [[ $what == all || $what == tensor ]]; then
    echo "| model | dp=2 step | tp=2 step | tp / dp | tp communication share |"
    echo "| --- | --- | --- | --- | --- |"
    for model in baby wide; do
        if [[ $model == baby ]]; then
            shape=(train.steps=40 train.log_every=1)
        else
            shape=(model.n_layer=2 model.n_head=12 model.n_embd=768 model.block_size=256
                   train.batch_size=4 train.steps=8 train.log_every=1)
        fi
        run "tensor-$model-dp2" 2 "${shape[@]}"
        run "tensor-$model-tp2" 2 "${shape[@]}" parallel.tp=2
        dp=$(median_step_ms "$out/tensor-$model-dp2")
        tp=$(median_step_ms "$out/tensor-$model-tp2")
        share=$(grep -o "communication: [0-9.]*%" "$out/tensor-$model-tp2.log" | cut -d' ' -f2)
        ratio=$(python3 -c "print(f'{$tp / $dp:.2f}')")
        echo "| $model | $dp ms | $tp ms | $ratio | $share |"
    done
fi
