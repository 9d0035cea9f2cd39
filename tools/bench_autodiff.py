#!/usr/bin/env python3
"""Forward + backward time of a conv-heavy training step: emberlite's trainer vs PyTorch (CPU).

    python tools/bench_autodiff.py                  # 1 and 2 threads, batch 64
    python tools/bench_autodiff.py --threads 4 --seconds 10

The model is the CNN of the TensorFlow 2.0 article (28x28x1 input; Conv2D 32 5x5 SAME + relu;
MaxPool 2; Conv2D 64 5x5 SAME + relu; MaxPool 2; flatten; Dense 1024 relu; Dense 10; softmax
cross-entropy), written directly with emberlite.trainer ops under a GradientTape and with
torch.autograd, from the same weights and batch.  A step is the loss and the gradients of
every weight (no optimizer update).  Both get the same thread count: torch.set_num_threads
for PyTorch; BLAS threads (threadpoolctl) and numba's threads (the im2col / pooling kernels)
for emberlite.  After a check that both compute the same loss and gradients and a warm-up,
the two take turns in blocks of --block timed steps until --seconds have passed (at least
--min-runs each); the medians, their ratio emberlite / PyTorch, and the best times are
printed.  Timings are of this machine, this run (on a busy machine the best are steadier).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# NOTE: numba.get_num_threads() (which emberlite's CPU kernels call) starts numba's threading
# layer, by default its OpenMP one; with PyTorch in the same process that made every PyTorch
# step 5x slower (measured: 60 -> 320 ms at 1 thread).  emberlite's kernels do not use numba's
# threading layer (they run on their own thread pool), so the workqueue layer costs them nothing.
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

try:
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None

import emberlite.trainer as et  # noqa: E402

TORCH_HINT = "PyTorch is needed for this comparison: pip install torch==2.13.0"


def make_problem(batch: int, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Weights (HWIO filters, [in, out] dense), an NHWC image batch and integer labels."""
    rng = np.random.default_rng(seed)

    def glorot(*shape: int, fan_in: int, fan_out: int) -> np.ndarray:
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape).astype(np.float32)

    weights = {
        "w1": glorot(5, 5, 1, 32, fan_in=25, fan_out=25 * 32),
        "b1": np.zeros(32, np.float32),
        "w2": glorot(5, 5, 32, 64, fan_in=25 * 32, fan_out=25 * 64),
        "b2": np.zeros(64, np.float32),
        "w3": glorot(7 * 7 * 64, 1024, fan_in=7 * 7 * 64, fan_out=1024),
        "b3": np.zeros(1024, np.float32),
        "w4": glorot(1024, 10, fan_in=1024, fan_out=10),
        "b4": np.zeros(10, np.float32),
    }
    images = rng.random((batch, 28, 28, 1), dtype=np.float32)
    labels = rng.integers(0, 10, batch).astype(np.int32)
    return weights, images, labels


def emberlite_step(weights: dict[str, np.ndarray]):
    """A function (images, labels) -> (loss, gradients by name) on emberlite.trainer."""
    from emberlite.trainer import nn

    params = {name: et.Variable(value, name=name) for name, value in weights.items()}
    names = sorted(params)

    def step(images, labels):
        p = params
        with et.GradientTape() as tape:
            h = nn.relu(nn.conv2d(images, p["w1"], strides=1, padding="SAME") + p["b1"])
            h = nn.max_pool2d(h, ksize=2, strides=2, padding="VALID")
            h = nn.relu(nn.conv2d(h, p["w2"], strides=1, padding="SAME") + p["b2"])
            h = nn.max_pool2d(h, ksize=2, strides=2, padding="VALID")
            h = et.reshape(h, (h.shape[0], -1))
            h = nn.relu(et.matmul(h, p["w3"]) + p["b3"])
            logits = et.matmul(h, p["w4"]) + p["b4"]
            loss = et.reduce_mean(
                nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
            )
        grads = tape.gradient(loss, [params[n] for n in names])
        return float(loss), {n: g.numpy() for n, g in zip(names, grads, strict=True)}

    return step


def torch_step(weights: dict[str, np.ndarray]):
    """The same step in PyTorch (NCHW), returning gradients in emberlite's layouts."""
    import torch.nn.functional as F  # noqa: N812

    # Filters HWIO -> OIHW; w3's rows from NHWC flatten order (h, w, c) to NCHW's (c, h, w).
    layouts = {
        "w1": lambda w: w.transpose(3, 2, 0, 1),
        "w2": lambda w: w.transpose(3, 2, 0, 1),
        "w3": lambda w: w.reshape(7, 7, 64, 1024).transpose(2, 0, 1, 3).reshape(-1, 1024),
    }
    back = {
        "w1": lambda g: g.transpose(2, 3, 1, 0),
        "w2": lambda g: g.transpose(2, 3, 1, 0),
        "w3": lambda g: g.reshape(64, 7, 7, 1024).transpose(1, 2, 0, 3).reshape(-1, 1024),
    }
    params = {
        n: torch.tensor(np.ascontiguousarray(layouts.get(n, lambda w: w)(w)), requires_grad=True)
        for n, w in weights.items()
    }
    names = sorted(params)

    def step(images, labels):
        p = params
        x = torch.from_numpy(images).permute(0, 3, 1, 2)
        h = F.max_pool2d(F.relu(F.conv2d(x, p["w1"], p["b1"], padding=2)), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, p["w2"], p["b2"], padding=2)), 2)
        h = F.relu(h.reshape(h.shape[0], -1) @ p["w3"] + p["b3"])
        logits = h @ p["w4"] + p["b4"]
        loss = F.cross_entropy(logits, torch.from_numpy(labels).long())
        grads = torch.autograd.grad(loss, [params[n] for n in names])
        return float(loss.detach()), {
            n: back.get(n, lambda g: g)(g.numpy()) for n, g in zip(names, grads, strict=True)
        }

    return step


def set_threads(threads: int):
    """Both libraries on `threads` threads; returns the threadpoolctl limit to keep alive."""
    import numba
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    return threadpool_limits(limits=threads, user_api="blas")


def check_same_step(ours, theirs, images, labels) -> float:
    """The largest relative difference of the gradients (asserts the losses agree)."""
    loss_a, grads_a = ours(images, labels)
    loss_b, grads_b = theirs(images, labels)
    if not np.isclose(loss_a, loss_b, rtol=1e-4):
        raise SystemExit(f"the two steps disagree: loss {loss_a} (emberlite) vs {loss_b} (torch)")
    worst = 0.0
    for name, g in grads_a.items():
        scale = np.abs(grads_b[name]).max() + 1e-12
        worst = max(worst, float(np.abs(g - grads_b[name]).max() / scale))
    if worst > 1e-3:
        raise SystemExit(f"the two steps' gradients disagree (max relative difference {worst})")
    return worst


def time_pair(ours, theirs, images, labels, seconds: float, min_runs: int, block: int):
    """Seconds per step of each (lists), taking turns so that both see the same machine.

    NOTE: in blocks, each after an untimed step: right after one library's step its idle
    threads still spin (OpenMP, OpenBLAS) and starve the other's (measured on 2 cores: both
    steps 3-10x slower when strictly alternating at 2 threads).
    """
    ours_t, theirs_t = [], []
    deadline = time.perf_counter() + seconds
    while len(ours_t) < min_runs or time.perf_counter() < deadline:
        for step, times in ((theirs, theirs_t), (ours, ours_t)):
            step(images, labels)
            for _ in range(block):
                start = time.perf_counter()
                step(images, labels)
                times.append(time.perf_counter() - start)
    return ours_t, theirs_t


def timing_arguments(description: str) -> argparse.Namespace:
    """The command line both trainer benchmarks take (thread counts, batch, time budget)."""
    parser = argparse.ArgumentParser(description=description)
    cores = os.cpu_count() or 1
    parser.add_argument("--threads", nargs="*", type=int, default=sorted({1, min(2, cores)}))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0, help="timing budget per count")
    parser.add_argument("--min-runs", type=int, default=6)
    parser.add_argument("--block", type=int, default=3, help="timed steps per turn")
    return parser.parse_args()


TIMING_HEADER = (
    f"{'threads':>7} {'PyTorch ms':>11} {'emberlite ms':>13} {'ratio':>7} {'runs':>5}"
    f"   {'best: PyTorch':>13} {'emberlite':>9}"
)


def timing_row(threads: int, ours_t: list[float], theirs_t: list[float]) -> str:
    """One line under TIMING_HEADER: medians, their ratio emberlite / PyTorch, the best."""
    ours_s, theirs_s = statistics.median(ours_t), statistics.median(theirs_t)
    return (
        f"{threads:>7} {theirs_s * 1e3:>11.1f} {ours_s * 1e3:>13.1f} "
        f"{ours_s / theirs_s:>6.2f}x {len(ours_t):>5}   {min(theirs_t) * 1e3:>13.1f} "
        f"{min(ours_t) * 1e3:>9.1f}"
    )


def main() -> int:
    args = timing_arguments(__doc__.splitlines()[0])
    cores = os.cpu_count() or 1
    if torch is None:
        print(TORCH_HINT, file=sys.stderr)
        return 2
    try:
        from emberlite.trainer import nn  # noqa: F401
    except ImportError as e:
        print(f"emberlite.trainer.nn is not available: {e}", file=sys.stderr)
        return 2

    weights, images, labels = make_problem(args.batch)
    ours, theirs = emberlite_step(weights), torch_step(weights)
    print(
        f"TF 2.0 article CNN, batch {args.batch}, forward + backward; "
        f"torch {torch.__version__}, {cores} CPU cores"
    )
    print(TIMING_HEADER)
    for threads in args.threads:
        with set_threads(threads):
            worst = check_same_step(ours, theirs, images, labels)  # also the warm-up
            ours_t, theirs_t = time_pair(
                ours, theirs, images, labels, args.seconds, args.min_runs, args.block
            )
        print(f"{timing_row(threads, ours_t, theirs_t)}   (gradients agree to {worst:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
