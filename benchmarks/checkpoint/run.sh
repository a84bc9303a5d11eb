#!/usr/bin/env bash
# Sharded checkpoint save and load at the GPT-2-small shape on 1, 2 and 4 ranks (dp), against the
# disk's sequential write bandwidth (dd with conv=fdatasync) on the same file system.
#
#   benchmarks/checkpoint/run.sh [RANKS...]      (default 1 2 4)
#
# Each point trains one step (the save at the end is timed by the trainer), then resumes from it
# (the load is timed). Prints a markdown table; run directories under benchmarks/results/checkpoint
# (or TESSERA_BENCH_DIR), deleted after each point.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="${TESSERA_BENCH_DIR:-$root/benchmarks/results/checkpoint}"
mkdir -p "$out"
ranks=("${@:-1 2 4}")
[[ $# -eq 0 ]] && ranks=(1 2 4)

dd_rate=$(dd if=/dev/zero of="$out/dd.bin" bs=1M count=1024 conv=fdatasync 2>&1 | tail -1 | sed -E 's/.*, ([0-9.]+ [MG]B\/s)$/\1/')
rm -f "$out/dd.bin"
echo "disk sequential write (dd 1 GiB, conv=fdatasync): $dd_rate"
echo
echo "| ranks | shard MB | save s | save MB/s | load s | load MB/s |"
echo "| --- | --- | --- | --- | --- | --- |"
for np in "${ranks[@]}"; do
    dir="$out/np$np"
    rm -rf "$dir"
    common=(--config configs/gpt2-small.toml --set "run.dir=$dir" --set train.steps=1 --set train.eval_every=0
            --set checkpoint.every=0 --set train.log_every=1)
    launch/tessera-run -np "$np" train "${common[@]}" --resume never 2>"$dir.save.log"
    launch/tessera-run -np "$np" train "${common[@]}" --resume auto 2>"$dir.load.log"
    python3 - "$np" "$dir.save.log" "$dir.load.log" <<'PY'
import re, sys
np, save, load = sys.argv[1], open(sys.argv[2]).read(), open(sys.argv[3]).read()
s = re.search(r"saved .* in ([\d.]+) s: \d+ shards, ([\d.]+) MB \(([\d.]+) MB/s", save)
l = re.search(r"loaded in ([\d.]+) s \(([\d.]+) MB of shards, ([\d.]+) MB/s", load)
print(f"| {np} | {s.group(2)} | {s.group(1)} | {s.group(3)} | {l.group(1)} | {l.group(3)} |")
PY
    rm -rf "$dir"
done
