#!/usr/bin/env python3
"""Tessera and PyTorch side by side on one machine, in one run: tokens/s ratios and MFU.

Runs, alternating Tessera and PyTorch so that machine noise hits both alike:
  baby  (n_layer 4, n_head 4, n_embd 128, block 64, batch 12): Tessera 2 ranks x 1 BLAS thread vs
        PyTorch DDP 2 processes x 1 thread; Tessera tp = 2 vs PyTorch tensor parallel
        (torch.distributed.tensor.parallel, 2 processes x 1 thread, gloo); Tessera 1 rank x 2
        threads vs PyTorch 1x2 (eager and torch.compile).
  gpt2s (n_layer 12, n_head 12, n_embd 768, vocab 50304, block 256, batch 4): the same pairs, plus
        model FLOPs utilisation against the 2-thread sgemm peak that `tessera bench gemm` measures.
Medians over rounds; every figure printed was measured in this run. A mode that fails (e.g. gloo
tensor parallelism on some CPU build) is reported with its error; the others still run.

  python3 benchmarks/peer-pytorch/compare.py [--rounds N] [--skip-gpt2s] [--skip-compile]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TORCH_SCRIPT = os.path.join(ROOT, "benchmarks", "peer-pytorch", "gpt_torch.py")
LAUNCH = os.path.join(ROOT, "launch", "tessera-run")

TESSERA_CONFIGS = {"baby": "configs/shakespeare-char.toml", "gpt2s": "configs/gpt2-small.toml"}
STEPS = {"baby": (60, 10), "gpt2s": (6, 2)}  # (steps, warm-up steps left out of the median)


def log(message):
    print(message, file=sys.stderr, flush=True)


def run(command, env=None, timeout=1800):
    merged = dict(os.environ, **(env or {}))
    result = subprocess.run(command, cwd=ROOT, env=merged, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return result


def tessera(config, ranks, threads, sets=()):
    steps, warmup = STEPS[config]
    with tempfile.TemporaryDirectory() as run_dir:
        run([LAUNCH, "-np", str(ranks), "train", "--config", TESSERA_CONFIGS[config],
             "--set", f"train.steps={steps}", "--set", "train.log_every=1", "--set", "train.eval_every=0",
             "--set", "checkpoint.every=0", "--set", f"run.dir={run_dir}"] + [a for s in sets for a in ("--set", s)],
            env={"OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)})
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            rows = [json.loads(line) for line in f if '"loss"' in line]
    rates = [r["tokens_per_s"] for r in rows if r["step"] > warmup]
    return statistics.median(rates)


def pytorch(config, mode, compile_model=False):
    steps, warmup = STEPS[config]
    command = [sys.executable, TORCH_SCRIPT, "--config", config, "--steps", str(steps), "--warmup", str(warmup)]
    command += {"ddp": ["--ddp"], "tp": ["--tp"]}.get(mode, ["--threads", "2"])
    if compile_model:
        command.append("--compile")
    out = json.loads(run(command).stdout.strip().splitlines()[-1])
    if compile_model and not out.get("compile"):
        return None, out.get("compile_error", "compile failed")
    return out["tokens_per_s"], out


def sgemm_peak():
    """Best median GFLOP/s over the model's GEMM shapes, 2 BLAS threads, OpenBLAS as Tessera runs it."""
    with tempfile.NamedTemporaryFile(suffix=".csv") as csv:
        run([LAUNCH, "bench", "gemm", "--threads", "2", "--csv", csv.name])
        rows = [line.split(",") for line in open(csv.name).read().splitlines()[1:]]
    return max(float(r[6]) for r in rows), {r[0]: float(r[6]) for r in rows}


PAIRS = [("tessera 2x1", "pytorch ddp 2x1"), ("tessera tp2", "pytorch tp2"), ("tessera 1x2", "pytorch 1x2")]


def flops_per_token(n_layer, n_embd, block, vocab):
    # 6·N + 12·L·C·T with N = every parameter but the position embedding.
    n = vocab * n_embd + n_layer * (12 * n_embd * n_embd + 13 * n_embd) + 2 * n_embd
    return 6 * n + 12 * n_layer * n_embd * block


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--skip-gpt2s", action="store_true")
    parser.add_argument("--skip-compile", action="store_true")
    args = parser.parse_args()

    configs = ["baby"] + ([] if args.skip_gpt2s else ["gpt2s"])
    results = {}  # (config, system) -> [tokens/s]
    failures = {}  # (config, system) -> the last error
    peaks = []
    for r in range(args.rounds):
        for config in configs:
            pairs = [("tessera 2x1", lambda: tessera(config, 2, 1)),
                     ("pytorch ddp 2x1", lambda: pytorch(config, "ddp")[0]),
                     ("tessera tp2", lambda: tessera(config, 2, 1, ["parallel.tp=2"])),
                     ("pytorch tp2", lambda: pytorch(config, "tp")[0]),
                     ("tessera 1x2", lambda: tessera(config, 1, 2)),
                     ("pytorch 1x2", lambda: pytorch(config, "threads")[0])]
            if not args.skip_compile:
                pairs.append(("pytorch 1x2 compile", lambda: pytorch(config, "threads", True)[0]))
            for name, measure in pairs:
                log(f"round {r + 1}: {config} {name} (load {open('/proc/loadavg').read().split()[0]})")
                try:
                    value = measure()
                except (RuntimeError, subprocess.TimeoutExpired) as error:  # one failed run spoils no other
                    log(f"  failed: {error}")
                    failures[(config, name)] = str(error).strip().splitlines()[-1][:300]
                    continue
                if value is not None:
                    results.setdefault((config, name), []).append(value)
                    log(f"  {value:.1f} tokens/s")
        if not args.skip_gpt2s:
            try:
                peak, shapes = sgemm_peak()
            except RuntimeError as error:
                log(f"  sgemm peak failed: {error}")
                continue
            peaks.append(peak)
            log(f"round {r + 1}: sgemm peak {peak:.1f} GFLOP/s, 2 threads {shapes}")

    print(f"# Tessera vs PyTorch, {args.rounds} round(s), medians\n")
    for config in configs:
        print(f"## {config}\n\n| system | tokens/s | vs pytorch ddp 2x1 |\n| --- | --- | --- |")
        ddp = statistics.median(results.get((config, "pytorch ddp 2x1"), [float("nan")]))
        for (c, name), values in results.items():
            if c == config:
                value = statistics.median(values)
                print(f"| {name} | {value:.1f} | {value / ddp:.2f}x |")
        print(f"\n| pair (same layout) | tessera / pytorch |\n| --- | --- |")
        for tessera_name, torch_name in PAIRS:
            ours, theirs = results.get((config, tessera_name)), results.get((config, torch_name))
            ratio = f"{statistics.median(ours) / statistics.median(theirs):.2f}x" if ours and theirs else "n/a"
            print(f"| {tessera_name} / {torch_name} | {ratio} |")
        for (c, name), error in failures.items():
            if c == config and (c, name) not in results:
                print(f"\n{name} did not run: {error}")
        print()
    if peaks:
        peak = statistics.median(peaks)
        fpt = flops_per_token(12, 768, 256, 50304)
        print(f"## gpt2s model FLOPs utilisation\n\nsgemm peak (OpenBLAS, 2 threads, best shape): {peak:.1f} GFLOP/s; "
              f"model FLOPs per token 6N + 12LCT = {fpt / 1e6:.1f} MFLOP\n\n| system | GFLOP/s | MFU |\n| --- | --- | --- |")
        for (c, name), values in results.items():
            if c == "gpt2s":
                gflops = statistics.median(values) * fpt / 1e9
                print(f"| {name} | {gflops:.1f} | {100 * gflops / peak:.0f}% |")


if __name__ == "__main__":
    main()
