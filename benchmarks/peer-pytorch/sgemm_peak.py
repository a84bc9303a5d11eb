#!/usr/bin/env python3
"""sgemm peak with torch.matmul (fp32), on 2 threads and on 1 thread; prints one JSON line.

A cross-check only: Tessera measures its own OpenBLAS peak (`tessera bench gemm`). PyTorch's CPU
wheel uses MKL / oneDNN, so the figures bound what a well-tuned BLAS reaches on this machine.

  python3 sgemm_peak.py [--threads 2,1] [--repeats 10]
"""
import argparse
import json
import statistics
import time

import torch

SHAPES = {
    # name: (M, K, N) for C[M,N] = A[M,K] @ B[K,N]
    "square2048": (2048, 2048, 2048),
    # GPT-2-small MLP up-projection over one 4x256 micro-batch: (B*T) x C x 4C
    "gpt_1024x768x3072": (1024, 768, 3072),
}


def bench(M, K, N, repeats, warmup):
    a = torch.randn(M, K)
    b = torch.randn(K, N)
    c = torch.empty(M, N)
    for _ in range(warmup):
        torch.matmul(a, b, out=c)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.matmul(a, b, out=c)
        times.append(time.perf_counter() - t0)
    flop = 2.0 * M * N * K
    med = statistics.median(times)
    return {
        "M": M, "K": K, "N": N,
        "ms_median": round(med * 1e3, 3),
        "gflops_median": round(flop / med / 1e9, 2),
        "gflops_best": round(flop / min(times) / 1e9, 2),
        "repeats": repeats,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", default="2,1", help="comma-separated thread counts (default 2,1)")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    args = p.parse_args()
    out = {"peer": "pytorch", "bench": "sgemm", "torch_version": torch.__version__,
           "blas": "mkl" if torch.backends.mkl.is_available() else "other", "results": {}}
    for n in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(n)
        out["results"][f"{n}t"] = {name: bench(*shape, args.repeats, args.warmup)
                                   for name, shape in SHAPES.items()}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
