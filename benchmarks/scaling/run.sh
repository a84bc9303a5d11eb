#!/usr/bin/env bash
# Strong and weak scaling of training throughput over layouts, measured by the trainer itself
# (tokens/s, step time and MFU per step in metrics.jsonl; communication share, peak memory and CPU time in
# its summary line), each point repeated and reduced to medians by report.py.
#
#   benchmarks/scaling/run.sh [--config FILE] [--ranks N] [--repeats R] [--steps S] [--warmup W]
#                             [--modes strong,weak] [--layouts dp,tp,pp,ep,dpxtp,dpxpp,bf16]
#                             [--set KEY=VALUE]...
#
# Defaults: the baby GPT (configs/shakespeare-char.toml), ranks 1, 2, 4 (powers of two up to
# N = 4), 3 repeats of 30 steps, the first 5 left out of the medians.
#   strong: the config's global batch on every rank count; weak: the config's batch per rank
#   (global batch = batch × ranks).
#   dp (data parallel), tp, pp (microbatches: the largest of 4, 3, 2, 1 dividing the replica's
#   batch), ep (the model with model.n_experts = 4, experts split over all ranks; its baseline is
#   the same MoE model on 1 rank), dpxtp (tp 2, the rest dp) and dpxpp (pp 2, the rest dp) from 4
#   ranks, bf16 (dp with precision.grad_allreduce = bf16).
# Points the layout cannot take (tp beyond n_head, ...) are skipped with tessera's error line.
# Ranks beyond this machine's cores run oversubscribed and are labelled so.
# Writes benchmarks/results/scaling/ (or TESSERA_BENCH_DIR): scaling.csv, scaling.md, strong.png,
# weak.png, machine.txt, and per run its log and run directory. Builds the release binary in
# TESSERA_SCRATCH_PATH (default .build) first, unless TESSERA_BIN names one to run; installs
# matplotlib (pip) when missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="${TESSERA_BENCH_DIR:-$root/benchmarks/results/scaling}"
config=configs/shakespeare-char.toml max_ranks=4 repeats=3 steps=30 warmup=5
modes=strong,weak layouts=dp,tp,pp,ep,dpxtp,dpxpp,bf16
extra=()
while (($#)); do
    case $1 in
        --config) config=$2 ;;
        --ranks) max_ranks=$2 ;;
        --repeats) repeats=$2 ;;
        --steps) steps=$2 ;;
        --warmup) warmup=$2 ;;
        --modes) modes=$2 ;;
        --layouts) layouts=$2 ;;
        --set) extra+=(--set "$2") ;;
        -h | --help) sed -n '2,25s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift 2
done
((warmup < steps)) || { echo "error: --warmup $warmup must be below --steps $steps" >&2; exit 2; }

if [[ -z ${TESSERA_BIN:-} ]]; then
    scratch="${TESSERA_SCRATCH_PATH:-$root/.build}"
    swift build -c release --scratch-path "$scratch" --product tessera >&2
    export TESSERA_BIN="$scratch/release/tessera"
fi
python3 -c 'import matplotlib' 2>/dev/null || python3 -m pip install --quiet matplotlib >&2
mkdir -p "$out"
rm -rf "${out:?}"/runs "$out"/runs.tsv
mkdir -p "$out/runs"

# The global batch of the config after --set (tomllib: Python 3.11).
batch=$(python3 - "$config" "${extra[@]}" <<'PY'
import sys, tomllib
batch = tomllib.load(open(sys.argv[1], "rb")).get("train", {}).get("batch_size", 12)
for override in sys.argv[2:]:
    if override.startswith("train.batch_size="):
        batch = int(override.split("=", 1)[1])
print(batch)
PY
)
cores=$(nproc)
ranks_list=()
for ((n = 1; n <= max_ranks; n *= 2)); do ranks_list+=("$n"); done

{
    echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $cores cores"
    echo "flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx|avx2|fma|f16c|avx512[a-z_0-9]*|amx[a-z_0-9]*)$' | tr '\n' ' ')"
    echo "openblas: $(OPENBLAS_NUM_THREADS=1 "$TESSERA_BIN" bench blas) (kernels, threads per rank)"
    echo "config: $config ${extra[*]}; batch $batch; $steps steps, first $warmup left out; $repeats repeats"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"

# Prints "layout ranks overrides..." for every point of one mode.
points() {  # $1 = mode
    local mode=$1 n global
    for n in "${ranks_list[@]}"; do
        global=$batch
        [[ $mode == weak ]] && global=$((batch * n))
        for layout in ${layouts//,/ }; do
            case $layout in
                dp) echo "dp $n train.batch_size=$global" ;;
                tp) ((n > 1)) && echo "tp $n train.batch_size=$global parallel.tp=$n" ;;
                pp) ((n > 1)) && echo "pp $n train.batch_size=$global parallel.pp=$n parallel.microbatches=$(microbatches "$global")" ;;
                ep) echo "ep $n train.batch_size=$global model.n_experts=4 parallel.ep=$n" ;;
                dpxtp) ((n >= 4)) && echo "dpxtp $n train.batch_size=$global parallel.tp=2" ;;
                dpxpp) ((n >= 4)) && echo "dpxpp $n train.batch_size=$global parallel.pp=2 parallel.microbatches=$(microbatches $((global * 2 / n)))" ;;
                bf16) ((n > 1)) && echo "bf16 $n train.batch_size=$global precision.grad_allreduce=bf16" ;;
            esac
        done
    done
    return 0
}
microbatches() {  # the largest of 4, 3, 2, 1 dividing $1 sequences
    local m
    for m in 4 3 2 1; do ((${1} % m == 0)) && { echo $m; return; }; done
}

# One list of runs: the 1-rank points are the same in both modes, so they run once (as strong).
plan=()
for mode in ${modes//,/ }; do
    while read -r layout n sets; do
        [[ $mode == weak && $n == 1 && $modes == *strong* ]] && continue
        plan+=("$mode $layout $n $sets")
    done < <(points "$mode")
done

printf 'mode\tlayout\tranks\trepeat\toversubscribed\tstatus\tsets\trun\n' >"$out/runs.tsv"
started=$SECONDS
total=$((${#plan[@]} * repeats)) done_runs=0
for ((r = 1; r <= repeats; r++)); do  # repeats outermost: machine noise spreads over all points
    for point in "${plan[@]}"; do
        read -r mode layout n sets <<<"$point"
        name="$mode-$layout-$n-r$r"
        args=()
        for s in $sets; do args+=(--set "$s"); done
        status=0
        launch/tessera-run -np "$n" train --config "$config" "${extra[@]}" --resume never \
            --set "run.dir=$out/runs/$name" --set "train.steps=$steps" --set train.log_every=1 \
            --set train.eval_every=0 --set checkpoint.every=0 "${args[@]}" >"$out/runs/$name.log" 2>&1 || status=$?
        over=$((n > cores ? 1 : 0))
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$layout" "$n" "$r" "$over" "$status" "$sets" "runs/$name" >>"$out/runs.tsv"
        done_runs=$((done_runs + 1))
        echo "scaling: $done_runs/$total $name exit $status ($((SECONDS - started)) s)" >&2
    done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg); $((SECONDS - started)) s of runs" >>"$out/machine.txt"
python3 benchmarks/scaling/report.py "$out" --warmup "$warmup"
