#!/usr/bin/env python3
"""PyTorch peer for Tessera's GPT training throughput.

The model, optimizer and schedule mirror Tessera's so that tokens/s compare like for like:
pre-LayerNorm decoder blocks (LayerNorm with bias, eps 1e-5), causal multi-head self-attention with a
fused QKV linear and an output projection (both with bias), MLP C -> 4C -> C with tanh-approximated
GELU, tied input/output embeddings (no lm_head bias), learned position embeddings, final LayerNorm;
init normal(0, 0.02), residual projections normal(0, 0.02/sqrt(2 n_layer)), biases zero; AdamW
(betas 0.9/0.99, weight decay only on 2-d weights), global grad-norm clip 1.0, linear warmup + cosine
(Tessera's LearningRateSchedule, Tessera's default [train] section).

One JSON line goes to stdout; progress goes to stderr.

  python3 gpt_torch.py --config baby --threads 2
  python3 gpt_torch.py --config baby --ddp            # 2 processes x 1 thread, gloo
  python3 gpt_torch.py --config baby --tp             # tensor parallel over 2 processes x 1 thread, gloo
  python3 gpt_torch.py --config gpt2s --threads 2 --compile
"""
import argparse
import datetime
import json
import math
import os
import socket
import statistics
import sys
import time
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.normpath(os.path.join(HERE, "..", "..", "data", "tinyshakespeare.txt"))


@dataclass
class GPTConfig:
    n_layer: int
    n_head: int
    n_embd: int
    block_size: int
    vocab_size: int
    batch_size: int  # global sequences per optimizer step


CONFIGS = {
    # Tessera's default [model] / [train] sections (char-level tinyshakespeare).
    "baby": dict(n_layer=4, n_head=4, n_embd=128, block_size=64, vocab_size=65, batch_size=12),
    # GPT-2 small shape, vocab padded to 50304; random tokens (throughput only).
    "gpt2s": dict(n_layer=12, n_head=12, n_embd=768, block_size=256, vocab_size=50304, batch_size=4),
}
DEFAULT_STEPS = {"baby": (50, 5), "gpt2s": (6, 2)}


# ----------------------------------------------------------------------------------------- model

class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        assert cfg.n_embd % cfg.n_head == 0
        self.head_size = cfg.n_embd // cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=True)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=True)

    def forward(self, x):
        B, T, _ = x.shape
        qkv = self.qkv(x)
        width = qkv.size(-1) // 3  # C, or this rank's heads' share of C under tensor parallelism
        q, k, v = qkv.split(width, dim=2)
        heads = width // self.head_size
        q = q.view(B, T, heads, self.head_size).transpose(1, 2)
        k = k.view(B, T, heads, self.head_size).transpose(1, 2)
        v = v.view(B, T, heads, self.head_size).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, width)
        return self.proj(y)


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=True)
        self.proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=True)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd, eps=1e-5, bias=True)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd, eps=1e-5, bias=True)
        self.mlp = MLP(cfg)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        x = x + self.mlp(self.ln2(x))
        return x


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd, eps=1e-5, bias=True)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied
        self.apply(self._init_weights)
        resid_std = 0.02 / math.sqrt(2 * cfg.n_layer)
        for name, p in self.named_parameters():
            if name.endswith("attn.proj.weight") or name.endswith("mlp.proj.weight"):
                nn.init.normal_(p, mean=0.0, std=resid_std)

    @staticmethod
    def _init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def num_params(self, non_embedding=True):
        """nanoGPT's convention: the position embedding is not counted; wte (tied) counts once."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.wpe.weight.numel()
        return n

    def forward(self, idx, targets):
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def make_optimizer(params, lr, weight_decay, betas):
    params = list(params)
    decay = [p for p in params if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in params if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    for impl in ("fused", "foreach"):
        try:
            opt = torch.optim.AdamW(groups, lr=lr, betas=betas, eps=1e-8, **{impl: True})
            return opt, impl
        except (RuntimeError, TypeError, ValueError):
            continue
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=1e-8), "for-loop"


def tensor_parallel(model, cfg, world):
    """Megatron-style tensor parallelism through torch.distributed.tensor.parallel on a CPU device
    mesh (gloo): QKV and the MLP's first linear column-parallel, both projections row-parallel, the
    rest replicated. QKV's rows are regrouped first so that each rank's contiguous shard holds its
    heads' q, k and v (an iid normal init is unchanged in distribution)."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module
    assert cfg.n_head % world == 0, "tensor parallelism needs n_head divisible by the processes"
    mesh = init_device_mesh("cpu", (world,))
    C = cfg.n_embd
    order = torch.arange(3 * C).view(3, world, C // world).transpose(0, 1).reshape(-1)
    for block in model.blocks:
        with torch.no_grad():
            block.attn.qkv.weight.copy_(block.attn.qkv.weight[order])
            block.attn.qkv.bias.copy_(block.attn.qkv.bias[order])
        parallelize_module(block, mesh, {"attn.qkv": ColwiseParallel(), "attn.proj": RowwiseParallel(),
                                         "mlp.fc": ColwiseParallel(), "mlp.proj": RowwiseParallel()})


def clip_grad_norm_tp(model, max_norm):
    """Global-norm clipping over plain and DTensor gradients: shards' squares summed across the mesh
    in one all-reduce, replicated gradients (identical on every rank) counted once."""
    import torch.distributed as dist
    from torch.distributed.tensor import DTensor
    sharded, replicated = torch.zeros(()), torch.zeros(())
    for p in model.parameters():
        g = p.grad
        if isinstance(g, DTensor) and any(pl.is_shard() for pl in g.placements):
            sharded += g.to_local().pow(2).sum()
        else:
            replicated += (g.to_local() if isinstance(g, DTensor) else g).pow(2).sum()
    dist.all_reduce(sharded)
    norm = (sharded + replicated).sqrt().item()
    if norm > max_norm:
        for p in model.parameters():
            p.grad.mul_(max_norm / (norm + 1e-6))


class Optimizers:
    """Several optimizers stepped as one: fused AdamW takes DTensor or plain parameters, not both."""

    def __init__(self, optimizers):
        self.optimizers = optimizers

    @property
    def param_groups(self):
        return [group for opt in self.optimizers for group in opt.param_groups]

    def step(self):
        for opt in self.optimizers:
            opt.step()

    def zero_grad(self, set_to_none=True):
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)


def lr_at(step, max_lr, min_lr, warmup, total):
    """Tessera's LearningRateSchedule; step counts from 1."""
    it = step - 1
    if it < warmup:
        return max_lr * (it + 1) / (warmup + 1)
    if it >= total or total <= warmup:
        return min_lr
    progress = (it - warmup) / (total - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (max_lr - min_lr)


# ------------------------------------------------------------------------------------------ data

class Batches:
    """Global batch for step s from a seeded generator; each rank takes its contiguous slice, so the
    global batch does not depend on the number of ranks."""

    def __init__(self, cfg: GPTConfig, config_name, data_path, seed, rank, world):
        self.cfg, self.rank, self.world = cfg, rank, world
        assert cfg.batch_size % world == 0, "global batch must split evenly across ranks"
        self.local = cfg.batch_size // world
        self.gen = torch.Generator().manual_seed(seed)
        self.data = None
        if config_name == "baby":
            with open(data_path, "r", encoding="utf-8") as f:
                text = f.read()
            chars = sorted(set(text))
            if len(chars) != cfg.vocab_size:
                raise SystemExit(f"error: {data_path} has {len(chars)} symbols, expected {cfg.vocab_size}")
            stoi = {c: i for i, c in enumerate(chars)}
            self.data = torch.tensor([stoi[c] for c in text], dtype=torch.uint8)

    def next(self):
        B, T = self.cfg.batch_size, self.cfg.block_size
        if self.data is not None:
            ix = torch.randint(len(self.data) - T - 1, (B,), generator=self.gen)
            seq = torch.stack([self.data[i:i + T + 1] for i in ix.tolist()]).long()
        else:
            seq = torch.randint(0, self.cfg.vocab_size, (B, T + 1), generator=self.gen)
        seq = seq[self.rank * self.local:(self.rank + 1) * self.local]
        return seq[:, :-1].contiguous(), seq[:, 1:].contiguous()


# ----------------------------------------------------------------------------------------- train

def log(rank, *a):
    if rank == 0:
        print(*a, file=sys.stderr, flush=True)


def run(rank, world, args):
    ddp, tp = args.ddp, args.tp
    distributed = ddp or tp
    if distributed:
        import torch.distributed as dist
        if "RANK" not in os.environ:  # spawned by us rather than torchrun
            os.environ["RANK"], os.environ["WORLD_SIZE"] = str(rank), str(world)
        dist.init_process_group("gloo", rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=300))
    torch.set_num_threads(args.threads)

    cfg = GPTConfig(**CONFIGS[args.config])
    torch.manual_seed(args.seed)
    model = GPT(cfg)
    n_params = model.num_params(non_embedding=True)
    n_params_all = model.num_params(non_embedding=False)
    if tp:
        tensor_parallel(model, cfg, world)
        from torch.distributed.tensor import DTensor
        params = list(model.parameters())
        made = [make_optimizer([p for p in params if isinstance(p, DTensor) == sharded], args.lr, args.weight_decay,
                               (0.9, 0.99)) for sharded in (True, False)]
        opt, opt_impl = Optimizers([o for o, _ in made]), "+".join(impl for _, impl in made)
    else:
        opt, opt_impl = make_optimizer(model.parameters(), args.lr, args.weight_decay, (0.9, 0.99))
    train_model = model
    if ddp:
        from torch.nn.parallel import DistributedDataParallel as DDP
        train_model = DDP(model, gradient_as_bucket_view=True)
    compile_error = None
    eager_model = train_model
    if args.compile:
        try:
            train_model = torch.compile(train_model)
        except Exception as e:  # noqa: BLE001
            compile_error = f"{type(e).__name__}: {e}"
            train_model = eager_model
    # Tensor-parallel ranks all take the whole batch; data-parallel ones a slice each.
    batches = Batches(cfg, args.config, args.data, args.seed, *((0, 1) if tp else (rank, world)))
    clip = clip_grad_norm_tp if tp else torch.nn.utils.clip_grad_norm_

    def step_fn(step):
        lr = lr_at(step, args.lr, args.min_lr, args.lr_warmup, args.lr_total)
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = batches.next()
        loss = train_model(x, y)
        loss.backward()
        clip(model if tp else model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.detach()

    total = args.warmup + args.steps
    load_start = os.getloadavg()[0]
    times, losses = [], []
    first_step_s = None
    for step in range(1, total + 1):
        t0 = time.perf_counter()
        try:
            loss = step_fn(step)
        except Exception as e:  # noqa: BLE001 - compile failures surface on the first call
            if args.compile and train_model is not eager_model and step == 1:
                compile_error = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:400]}"
                log(rank, f"torch.compile failed, falling back to eager: {compile_error}")
                train_model = eager_model
                opt.zero_grad(set_to_none=True)
                t0 = time.perf_counter()
                loss = step_fn(step)
            else:
                raise
        dt = time.perf_counter() - t0
        if step == 1:
            first_step_s = dt
        losses.append(loss.item())
        if step > args.warmup:
            times.append(dt)
        if step == 1 or step % args.log_every == 0 or step == total:
            tok = cfg.batch_size * cfg.block_size / dt
            log(rank, f"step {step}/{total} loss {losses[-1]:.4f} {dt * 1e3:.1f} ms {tok:.0f} tok/s"
                      f"{'' if step > args.warmup else ' (warmup)'}")

    final_loss = losses[-1]
    if distributed:
        import torch.distributed as dist
        t = torch.tensor([final_loss], dtype=torch.float64)
        dist.all_reduce(t)
        final_loss = t.item() / world
        # Step time of the job = the slowest rank's, step by step.
        tt = torch.tensor(times, dtype=torch.float64)
        dist.all_reduce(tt, op=dist.ReduceOp.MAX)
        times = tt.tolist()

    if rank == 0:
        tokens_per_step = cfg.batch_size * cfg.block_size
        med = statistics.median(times)
        tps = tokens_per_step / med
        L, C, T = cfg.n_layer, cfg.n_embd, cfg.block_size
        flops_per_token = 6 * n_params + 12 * L * C * T
        out = {
            "peer": "pytorch",
            "mode": f"ddp{world}x{args.threads}" if ddp else f"tp{world}x{args.threads}" if tp else f"1x{args.threads}",
            "compile": bool(args.compile and compile_error is None),
            "config": args.config,
            "tokens_per_s": round(tps, 1),
            "step_ms_median": round(med * 1e3, 3),
            "final_loss": round(final_loss, 5),
            "torch_version": torch.__version__,
            "threads": args.threads,
            "processes": world,
            "global_batch": cfg.batch_size,
            "block_size": cfg.block_size,
            "tokens_per_step": tokens_per_step,
            "steps_timed": len(times),
            "warmup_steps": args.warmup,
            "step_ms_min": round(min(times) * 1e3, 3),
            "step_ms_mean": round(statistics.fmean(times) * 1e3, 3),
            "tokens_per_s_best": round(tokens_per_step / min(times), 1),
            "first_step_s": round(first_step_s, 3),
            "n_params": n_params,
            "n_params_with_wpe": n_params_all,
            "flops_per_token": flops_per_token,
            "achieved_gflops": round(flops_per_token * tps / 1e9, 3),
            "optimizer": f"AdamW({opt_impl})",
            # The machine may be shared: the 1-minute load average around the run says how much.
            "loadavg_start": round(load_start, 2),
            "loadavg_end": round(os.getloadavg()[0], 2),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
        }
        if args.compile:
            out["compile_requested"] = True
            if compile_error is not None:
                out["compile_error"] = compile_error
        print(json.dumps(out), flush=True)

    if distributed:
        import torch.distributed as dist
        dist.barrier()
        dist.destroy_process_group()


def _spawn_entry(rank, world, args):
    run(rank, world, args)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", choices=sorted(CONFIGS), default="baby")
    p.add_argument("--ddp", action="store_true", help="torch.distributed (gloo), --nproc processes")
    p.add_argument("--tp", action="store_true",
                   help="tensor parallel (torch.distributed.tensor.parallel, gloo), --nproc processes")
    p.add_argument("--nproc", type=int, default=2, help="processes with --ddp or --tp (default 2)")
    p.add_argument("--threads", type=int, default=None,
                   help="intra-op threads per process (default 1 with --ddp or --tp, else 2)")
    p.add_argument("--compile", action="store_true", help="wrap the model with torch.compile")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 50 baby, 6 gpt2s)")
    p.add_argument("--warmup", type=int, default=None, help="untimed first steps (default 5 / 2)")
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--lr-warmup", type=int, default=100, help="schedule warmup (Tessera default)")
    p.add_argument("--lr-total", type=int, default=2000, help="schedule length (Tessera default)")
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--log-every", type=int, default=10)
    args = p.parse_args()
    d_steps, d_warm = DEFAULT_STEPS[args.config]
    args.steps = d_steps if args.steps is None else args.steps
    args.warmup = d_warm if args.warmup is None else args.warmup
    if args.ddp and args.tp:
        raise SystemExit("error: --ddp and --tp are alternatives")
    if args.threads is None:
        args.threads = 1 if args.ddp or args.tp else 2
    if args.steps < 1:
        raise SystemExit("error: --steps must be >= 1")

    if not (args.ddp or args.tp):
        run(0, 1, args)
        return
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:  # under torchrun
        run(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), args)
        return
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(free_port()))
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch.multiprocessing as mp
    mp.spawn(_spawn_entry, args=(args.nproc, args), nprocs=args.nproc, join=True)


if __name__ == "__main__":
    main()
