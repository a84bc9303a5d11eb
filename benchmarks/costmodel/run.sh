#!/usr/bin/env bash
# Validates the cost model behind `tessera plan` on this machine, then projects it to clusters.
#
#   benchmarks/costmodel/run.sh [STEPS [ROUNDS]]  (default 30 steps a run, medians skip the first 5;
#                                                  1 round: every layout once)
#   benchmarks/costmodel/run.sh report            (the report again from the files of the last run)
#
# 1. Rates: `tessera bench step` on one rank per core at once (one BLAS thread each, as ranks
#    train) and
#    `tessera bench comm` on 2 ranks (alpha-beta fits of point-to-point and collectives).
# 2. Every valid layout of configs/shakespeare-char.toml on 2 and on 4 ranks, as `tessera plan`
#    enumerates them, predicted (cores detected: 4 ranks on 2 cores time-share) and measured: a
#    real launch/tessera-run training run each, median step_ms of RUN_DIR/metrics.jsonl. With
#    ROUNDS > 1 every layout runs once a round, rounds alternating between plan order and its
#    reverse (so a drift in the machine's load touches every layout alike), and a layout's
#    measured time is the median over its rounds.
#    Reported: relative error per layout, Spearman rank correlation of predicted and measured
#    step times, and whether plan's top pick is the measured best.
# 3. Projection (no measurement): plan's best layout for the baby GPT, GPT-2 small and GPT-2
#    medium at 8 to 1024 ranks, 8 ranks per node of 8 cores, nodes joined by 100 Gb/s links of
#    2 us latency, the per-core rates measured here (bench step at each model's width and context).
#
# Markdown goes to standard output and to benchmarks/results/costmodel/report.md (or
# TESSERA_BENCH_DIR); CSVs, plan outputs and run directories next to it. TESSERA_BIN picks the
# executable (default .build/release/tessera, built by launch/tessera-run when missing).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="${TESSERA_BENCH_DIR:-$root/benchmarks/results/costmodel}"
mkdir -p "$out/runs"
steps="${1:-30}"
rounds="${2:-1}"
report_only=$([[ $steps == report ]] && echo 1 || echo 0)
config=configs/shakespeare-char.toml
export TESSERA_BIN="${TESSERA_BIN:-$root/.build/release/tessera}"
[[ -x $TESSERA_BIN ]] || launch/tessera-run -np 1 bench blas >/dev/null
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
tessera() { "$TESSERA_BIN" "$@"; }

cores=$(getconf _NPROCESSORS_ONLN)  # not nproc, which obeys OMP_NUM_THREADS
if [[ $report_only == 0 ]]; then
# A rerun keeps what an earlier one measured (delete the folder to start afresh).
[[ -f $out/step.csv ]] || launch/tessera-run -np "$cores" bench step --config "$config" --csv "$out/step.csv" >"$out/step.txt" 2>/dev/null
[[ -f $out/comm.csv ]] || launch/tessera-run -np 2 bench comm --csv "$out/comm.csv" >"$out/comm.txt" 2>/dev/null

median_step_ms() {  # $1 = run dir: median step_ms after the first 5 steps
    python3 -c '
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl") if "step_ms" in l]
print(statistics.median(r["step_ms"] for r in rows[5:]))' "$1"
}

for ranks in 2 4; do
    tessera plan --ranks "$ranks" --config "$config" --rates "$out/step.csv" --rates "$out/comm.csv" \
        --csv "$out/plan-$ranks.csv" >"$out/plan-$ranks.txt"
    layouts=$(tail -n +2 "$out/plan-$ranks.csv")
    for ((round = 1; round <= rounds; round++)); do
        order=$([[ $((round % 2)) == 1 ]] && echo cat || echo tac)
        $order <<<"$layouts" | while IFS=, read -r rank dp tp pp ep m schedule wire zero predicted rest; do
            overrides="${rest##*,}"
            sets=()
            for o in $overrides; do sets+=(--set "$o"); done
            dir="$out/runs/r$ranks-$rank-$round"
            if [[ $(grep -c step_ms "$dir/metrics.jsonl" 2>/dev/null) != "$steps" ]]; then
                launch/tessera-run -np "$ranks" train --config "$config" --resume never --set "run.dir=$dir" \
                    --set "train.steps=$steps" --set train.log_every=1 --set train.eval_every=0 --set checkpoint.every=0 \
                    "${sets[@]}" 2>"$dir.log" </dev/null
            fi
        done
    done
    echo "layout,predicted_ms,measured_ms" >"$out/measured-$ranks.csv"
    while IFS=, read -r rank dp tp pp ep m schedule wire zero predicted rest; do
        measured=$(for ((round = 1; round <= rounds; round++)); do median_step_ms "$out/runs/r$ranks-$rank-$round"; done \
            | python3 -c 'import statistics, sys; print(statistics.median(float(l) for l in sys.stdin))')
        echo "dp$dp tp$tp pp$pp ep$ep m$m $schedule $wire zero$zero,$predicted,$measured" >>"$out/measured-$ranks.csv"
    done <<<"$layouts"
done

# Projection: the same per-core rates measured at each model's width and context (two layers
# suffice: the rates are per GEMM FLOP, per activation float and per parameter).
declare -A shapes=(
    [baby]="model.n_layer=4 model.n_head=4 model.n_embd=128 model.block_size=64"
    [gpt2-small]="model.n_layer=12 model.n_head=12 model.n_embd=768 model.block_size=1024 model.vocab_size=50304"
    [gpt2-medium]="model.n_layer=24 model.n_head=16 model.n_embd=1024 model.block_size=1024 model.vocab_size=50304"
)
echo "model,ranks,layout,step_ms,tokens_per_s,mfu,memory_gib,bubble,comm" >"$out/projection.csv"
for name in baby gpt2-small gpt2-medium; do
    sets=(--set train.batch_size=1024)
    for o in ${shapes[$name]}; do sets+=(--set "$o"); done
    rates="$out/step-$name.csv"
    [[ $name == baby ]] && rates="$out/step.csv"
    [[ -f $rates ]] || launch/tessera-run -np "$cores" bench step --config "$config" "${sets[@]}" --set model.n_layer=2 \
        --sequences 1 --repeats 1 --csv "$rates" >"$out/step-$name.txt" 2>/dev/null
    for ranks in 8 64 256 1024; do
        tessera plan --ranks "$ranks" --config "$config" "${sets[@]}" --ranks-per-node 8 --cores 8 --memory-limit 16 \
            --network 100gbps:2us --rates "$rates" --rates "$out/comm.csv" --top 1 --csv "$out/projection-$name-$ranks.csv" \
            >"$out/projection-$name-$ranks.txt"
        python3 - "$name" "$ranks" "$out/projection-$name-$ranks.csv" >>"$out/projection.csv" <<'PY'
import csv, sys
best = next(csv.DictReader(open(sys.argv[3])))
layout = f"dp{best['dp']} tp{best['tp']} pp{best['pp']} m{best['microbatches']} {best['schedule']} {best['grad_allreduce']} zero{best['zero']}"
print(",".join([sys.argv[1], sys.argv[2], layout, best["step_ms"], best["tokens_per_s"], best["mfu"],
                "%.2f" % (float(best["memory_bytes"]) / 2**30), best["bubble"], best["comm"]]))
PY
    done
done

fi

python3 - "$out" <<'PY' | tee "$out/report.md"
import csv, statistics, sys
out = sys.argv[1]

def ranks_of(values):
    order = sorted(range(len(values)), key=lambda i: values[i])
    r = [0.0] * len(values)
    i = 0
    while i < len(order):  # ties share their mean rank
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2
        i = j + 1
    return r

def spearman(a, b):
    ra, rb = ranks_of(a), ranks_of(b)
    ma, mb = statistics.mean(ra), statistics.mean(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    return cov / (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5

print("## Cost model against measured step times (this machine)\n")
print(open(f"{out}/step.txt").read().strip().replace("\n", "  \n"), "\n")
fits = [l.strip() for l in open(f"{out}/comm.txt") if "alpha" in l]
print("Links within the node (bench comm, 2 ranks): " + "; ".join(fits[1:]) + "\n")
for ranks in (2, 4):
    rows = list(csv.DictReader(open(f"{out}/measured-{ranks}.csv")))
    predicted = [float(r["predicted_ms"]) for r in rows]
    measured = [float(r["measured_ms"]) for r in rows]
    errors = [(p - m) / m for p, m in zip(predicted, measured)]
    # The machine is shared: when others load it, every run gets the same smaller share of the
    # cores. One factor (the median measured/predicted ratio) takes that out; what remains is
    # the model's error in the relative cost of layouts.
    load = statistics.median(m / p for p, m in zip(predicted, measured))
    adjusted = [(p * load - m) / m for p, m in zip(predicted, measured)]
    best_measured = min(range(len(rows)), key=lambda i: measured[i])
    def summary(e):
        return (f"median |error| {100 * statistics.median(abs(x) for x in e):.1f}%, worst {100 * max(abs(x) for x in e):.1f}%, "
                f"{sum(abs(x) <= 0.2 for x in e)} of {len(e)} within 20%")
    print(f"### {ranks} ranks: {len(rows)} layouts\n")
    print(f"- predicted against measured: {summary(errors)}")
    print(f"- measured runs took {load:.2f}x the predicted time (median); with that one factor applied to every "
          f"prediction: {summary(adjusted)}")
    print(f"- Spearman rank correlation of predicted and measured step time: {spearman(predicted, measured):.3f}")
    print(f"- plan's top pick `{rows[0]['layout']}`: measured {measured[0]:.2f} ms; measured best `{rows[best_measured]['layout']}` "
          f"{measured[best_measured]:.2f} ms (plan ranked it {best_measured + 1}); top pick is the measured best: "
          f"{'yes' if best_measured == 0 else 'no'} ({100 * (measured[0] / measured[best_measured] - 1):.1f}% slower)\n")
    print("| plan rank | layout | predicted ms | measured ms | error | error after the load factor |")
    print("| --- | --- | --- | --- | --- | --- |")
    for i, r in enumerate(rows):
        print(f"| {i + 1} | {r['layout']} | {predicted[i]:.2f} | {measured[i]:.2f} | {100 * errors[i]:+.1f}% | {100 * adjusted[i]:+.1f}% |")
    print()

print("## Projection (cost model only, not measured)\n")
print("8 ranks per node of 8 cores at this machine's measured per-core rates, shared-memory links within a node as "
      "measured here, 100 Gb/s and 2 us between nodes; global batch 1024 sequences; memory limit 16 GiB per rank. "
      "Best layout by predicted tokens/s.\n")
print("| model | ranks | best layout | step ms | tokens/s | MFU | memory/rank GiB | bubble | comm |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for r in csv.DictReader(open(f"{out}/projection.csv")):
    print(f"| {r['model']} | {r['ranks']} | {r['layout']} | {float(r['step_ms']):.1f} | {float(r['tokens_per_s']):.0f} | "
          f"{100 * float(r['mfu']):.1f}% | {r['memory_gib']} | {100 * float(r['bubble']):.1f}% | {100 * float(r['comm']):.1f}% |")
PY
