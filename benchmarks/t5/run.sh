#!/usr/bin/env bash
# The encoder-decoder's benchmarks on character-level tiny Shakespeare, on 2 ranks (1 BLAS thread
# each), one run after another:
# 1. Span-corruption pretraining throughput: configs/t5-shakespeare.toml for STEPS steps (default
#    300): median tokens/s (target positions) and MFU, final validation loss.
# 2. A seq2seq task made from the corpus (make_task.py: reverse every word of a line): t5 (2 + 2
#    layers) trained on the pairs against a llama decoder-only of about the same parameter count
#    trained on the same pairs as text ("input|target" lines) with the same characters per step,
#    PAIR_STEPS steps each (default 3000); then greedy exact match on 300 held-out pairs from
#    `tessera sample --prompts` (the decoder's continuation of "input|" cut at its newline).
#   benchmarks/t5/run.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="${TESSERA_BENCH_DIR:-$root/benchmarks/results/t5}"
steps="${STEPS:-300}" pair_steps="${PAIR_STEPS:-3000}"
mkdir -p "$out"
tessera() { launch/tessera-run "$@"; }
parameters() { sed -n 's/.*: \([0-9.]*[kM]\) parameters$/\1/p' "$1" | head -n 1; }

echo "## Span corruption, 2 ranks, $steps steps"
echo "| config | parameters | final val loss | final train loss | wall time | median tokens/s | median MFU |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
dir="$out/span"; rm -rf "$dir"; start=$SECONDS
tessera -np 2 train --config configs/t5-shakespeare.toml --resume never --set "run.dir=$dir" \
    --set "train.steps=$steps" --set train.eval_every="$steps" 2>"$dir.log"
mfu="$(python3 -c "import json,statistics,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print('%.1f%%' % (100*statistics.median(x['mfu'] for x in r if 'mfu' in x)))" "$dir/metrics.jsonl")"
echo "| t5-shakespeare | $(parameters "$dir.log") | $(python3 benchmarks/run_summary.py "$dir" $((SECONDS - start))) | $mfu |"

task="$out/task"
python3 benchmarks/t5/make_task.py "$task" >/dev/null
echo
echo "## Reverse every word of a line: t5 against a llama decoder at equal parameters, $pair_steps steps"
echo "| model | parameters | final val loss | final train loss | wall time | median tokens/s | held-out exact match, character similarity |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
common=(--set data.tokenizer=char --set model.n_head=4 --set model.n_embd=128 --set "train.steps=$pair_steps"
        --set train.eval_every="$pair_steps" --set train.lr=1e-3 --set train.min_lr=1e-4 --set train.warmup_steps=100
        --set checkpoint.every=0)
dir="$out/t5-pairs"; rm -rf "$dir"; start=$SECONDS
tessera -np 2 train --config configs/t5-shakespeare.toml --resume never --set "run.dir=$dir" "${common[@]}" \
    --set train.objective=seq2seq --set "data.path=$task/train.jsonl" --set model.encoder_block_size=48 \
    --set model.block_size=48 --set train.batch_size=16 2>"$dir.log"
summary="$(python3 benchmarks/run_summary.py "$dir" $((SECONDS - start)))"
tessera -np 1 sample --checkpoint "$dir" --prompts "$task/prompts-t5.txt" --out "$dir/samples.jsonl" --top-k 1 --tokens 48 2>/dev/null
echo "| t5 (2 + 2 layers) | $(parameters "$dir.log") | $summary | $(python3 benchmarks/t5/score.py "$dir/samples.jsonl" "$task/targets.txt") |"
# The same characters per step: 16 pairs of about 65 characters, in windows of 128.
batch="$(python3 -c "import json,sys; print(round(16 * json.load(open(sys.argv[1]))['mean_pair_chars'] / 128))" "$task/stats.json")"
dir="$out/llama-pairs"; rm -rf "$dir"; start=$SECONDS
tessera -np 2 train --config configs/llama-shakespeare.toml --resume never --set "run.dir=$dir" "${common[@]}" \
    --set "data.path=$task/decoder-train.txt" --set model.n_layer=4 --set model.ffn_hidden=512 \
    --set model.block_size=128 --set "train.batch_size=$batch" 2>"$dir.log"
summary="$(python3 benchmarks/run_summary.py "$dir" $((SECONDS - start)))"
tessera -np 1 sample --checkpoint "$dir" --prompts "$task/prompts-decoder.txt" --out "$dir/samples.jsonl" --top-k 1 --tokens 48 2>/dev/null
echo "| llama decoder (4 layers) | $(parameters "$dir.log") | $summary | $(python3 benchmarks/t5/score.py "$dir/samples.jsonl" "$task/targets.txt" --cut-newline) |"
