#!/usr/bin/env bash
# Generation speed: 200 tokens from a GPT-2-small-shaped model (configs/gpt2-small.toml: 124M
# parameters, block 256, one training step to make its model.h5) with the key/value cache against
# recomputing the window for every token (`tessera sample --recompute`), and the per-token time
# against the memory-bandwidth bound: every weight read once per token, at the bandwidth numpy's
# BLAS reaches on a matrix-vector product of the model's size (the best of 5) on this machine.
# Prints a markdown table (medians of 3 runs with the cache, 1 recomputing) and the bound.
#   benchmarks/generation/run.sh        (OPENBLAS_NUM_THREADS as found: all cores by default)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="${TESSERA_BENCH_DIR:-$root/benchmarks/results/generation}"
mkdir -p "$out"
bin="${TESSERA_BIN:-$root/.build/release/tessera}"
[[ -x "$bin" ]] || swift build -c release --product tessera >&2

if [[ ! -f "$out/model/model.h5" ]]; then
    rm -rf "$out/model"
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "$bin" train --config configs/gpt2-small.toml \
        --set "run.dir=$out/model" --set train.steps=1 --set data.path=data/tinyshakespeare.txt >"$out/train.log" 2>&1
fi

sample() {  # $@ = extra flags; prints ms/token
    "$bin" sample --checkpoint "$out/model" --prompt "ROMEO:" --tokens 200 --top-k 1 --timing "$@" 2>&1 >/dev/null |
        sed -n 's/.*tokens\/s, \([0-9.]*\) ms\/token.*/\1/p'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

cached="$(for _ in 1 2 3; do sample; done | median)"
recomputed="$(sample --recompute)"
parameters="$(sed -n 's/.*: \([0-9.]*M\) parameters$/\1/p' "$out/train.log" | head -n 1)"
bandwidth="$(python3 - <<'PY'
import numpy as np, time
m = np.ones((124_000_000 // 768, 768), dtype=np.float32); x = np.ones(768, dtype=np.float32)
times = []
for _ in range(5):
    start = time.perf_counter(); m @ x; times.append(time.perf_counter() - start)
print(f"{m.nbytes / min(times) / 1e9:.1f}")
PY
)"
python3 - "$cached" "$recomputed" "$bandwidth" "$parameters" <<'PY'
import sys
cached, recomputed, bandwidth = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
count = sys.argv[4]                    # as the start-up line writes it: "124.5M"
bytes_per_token = float(count[:-1]) * {"k": 1e3, "M": 1e6}[count[-1]] * 4   # every fp32 weight once
bound = bytes_per_token / (bandwidth * 1e9) * 1e3
print("| generation (200 tokens, greedy) | ms/token | tokens/s |")
print("| --- | --- | --- |")
print(f"| key/value cache (median of 3) | {cached:.2f} | {1000 / cached:.1f} |")
print(f"| window recomputed | {recomputed:.2f} | {1000 / recomputed:.1f} |")
print()
print(f"model {sys.argv[4]} parameters; speed-up {recomputed / cached:.1f}x; bandwidth bound {bound:.2f} ms/token "
      f"({bytes_per_token / 1e6:.0f} MB per token at {bandwidth:.1f} GB/s): the cache runs at {cached / bound:.2f}x the bound")
PY
