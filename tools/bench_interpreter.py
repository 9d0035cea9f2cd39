#!/usr/bin/env python3
"""Latency of emberlite's interpreter against LiteRT (XNNPACK, its default path), same run.

    python tools/bench_interpreter.py                    # every mediapipe model, 1 and 2 threads
    python tools/bench_interpreter.py --threads 2 --models pose_landmark_full

For each model and thread count both runtimes get the same seeded inputs, a warm-up invoke,
then alternate timed invokes until --seconds have passed (at least --min-runs each); the
median is reported, with the ratio emberlite / LiteRT and the geometric mean of the ratios.
Timings are of this machine, this run: compare ratios, not milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fetch_models  # noqa: E402

from emberlite.errors import EmberliteError  # noqa: E402
from emberlite.interpreter import Interpreter  # noqa: E402
from emberlite.reference import invoke_once, litert, random_inputs  # noqa: E402


def time_pair(ours, theirs, seconds: float, min_runs: int) -> tuple[float, float]:
    """Median seconds per invoke of each, timed alternately so both see the same machine."""
    ours_t, theirs_t = [], []
    deadline = time.perf_counter() + seconds
    while len(ours_t) < min_runs or time.perf_counter() < deadline:
        for interpreter, times in ((theirs, theirs_t), (ours, ours_t)):
            start = time.perf_counter()
            interpreter.invoke()
            times.append(time.perf_counter() - start)
    return statistics.median(ours_t), statistics.median(theirs_t)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", help="model names (default: every mediapipe model)")
    parser.add_argument("--threads", nargs="*", type=int, default=[1, 2])
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="timing budget per model and thread count"
    )
    parser.add_argument("--min-runs", type=int, default=5)
    args = parser.parse_args()

    paths = fetch_models.fetch()
    names = args.models or sorted(
        n for n in paths if n.endswith(".tflite") and n != "sine_float.tflite"
    )
    lite = litert()
    ratios: dict[int, list[float]] = {n: [] for n in args.threads}
    print(f"{'model':40} {'ops':>4} {'thr':>3} {'LiteRT ms':>10} {'emberlite ms':>13} {'ratio':>7}")
    for name in names:
        path = paths[name if name.endswith(".tflite") else f"{name}.tflite"]
        content = path.read_bytes()
        for threads in args.threads:
            try:
                theirs = lite.Interpreter(model_content=content, num_threads=threads)
                feeds = random_inputs(theirs.get_input_details(), 0)
                invoke_once(theirs, feeds)  # also the warm-up
            except (RuntimeError, ValueError) as e:
                print(f"{path.name:40} skipped: LiteRT cannot run it ({str(e).splitlines()[0]})")
                break
            try:
                ours = Interpreter(model_content=content, num_threads=threads)
                invoke_once(ours, feeds)
            except EmberliteError as e:
                print(f"{path.name:40} skipped: emberlite cannot run it ({e})")
                break
            ours_s, theirs_s = time_pair(ours, theirs, args.seconds, args.min_runs)
            ratio = ours_s / theirs_s
            ratios[threads].append(ratio)
            n_ops = len(ours.model.subgraphs[0].operators)
            print(
                f"{path.name:40} {n_ops:>4} {threads:>3} {theirs_s * 1e3:>10.2f} "
                f"{ours_s * 1e3:>13.2f} {ratio:>6.2f}x"
            )
    for threads, values in ratios.items():
        if values:
            geomean = float(np.exp(np.mean(np.log(values))))
            print(
                f"geometric mean ratio, {threads} thread(s), {len(values)} models: {geomean:.2f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
