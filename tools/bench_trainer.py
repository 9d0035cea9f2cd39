#!/usr/bin/env python3
"""Training step time of a Keras-style model: emberlite.trainer vs PyTorch (CPU), one run.

    python tools/bench_trainer.py                  # 1 and 2 threads, batch 64
    python tools/bench_trainer.py --threads 2 --seconds 10

The model is the CNN of the TensorFlow 2.0 article: Reshape to 28x28x1, Conv2D 32 5x5 same
relu, MaxPool 2, Conv2D 64 5x5 same relu, MaxPool 2, Flatten, Dense 1024 relu, Dropout 0.3,
Dense 10 softmax; Adam; sparse categorical cross-entropy; batch 64 of synthetic 28x28 images.
emberlite builds it with `layers`, `compile`s it and steps with `train_on_batch` (the traced
train step `fit` runs: forward, loss, gradients, Adam update, metrics); PyTorch runs the same
model as an `nn.Sequential` with `torch.optim.Adam` (zero_grad, forward, loss, backward,
step).  Both start from the same weights and are checked to compute the same loss first.
The two take turns in blocks (see tools/bench_autodiff.py for why) until --seconds have
passed; the medians and their ratio emberlite / PyTorch are printed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")  # see bench_autodiff.py

from bench_autodiff import (  # noqa: E402
    TIMING_HEADER,
    TORCH_HINT,
    set_threads,
    time_pair,
    timing_arguments,
    timing_row,
    torch,
)

import emberlite.trainer as et  # noqa: E402
from emberlite.trainer import layers  # noqa: E402


def keras_model() -> et.Model:
    model = et.Sequential(
        [
            layers.Reshape((28, 28, 1), input_shape=(784,)),
            layers.Conv2D(32, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(1024, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def torch_model(weights: list[np.ndarray]):
    """The same network in PyTorch (NCHW), from the Keras weights (HWIO filters, NHWC flatten)."""
    nn = torch.nn
    net = nn.Sequential(
        nn.Unflatten(1, (1, 28, 28)),
        nn.Conv2d(1, 32, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(7 * 7 * 64, 1024),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(1024, 10),
    )
    k1, b1, k2, b2, k3, b3, k4, b4 = weights
    k3 = k3.reshape(7, 7, 64, 1024).transpose(2, 0, 1, 3).reshape(-1, 1024)  # NHWC -> NCHW rows
    values = [k1.transpose(3, 2, 0, 1), b1, k2.transpose(3, 2, 0, 1), b2, k3.T, b3, k4.T, b4]
    with torch.no_grad():
        for param, value in zip(net.parameters(), values, strict=True):
            param.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return net


def main() -> int:
    args = timing_arguments(__doc__.splitlines()[0])
    if torch is None:
        print(TORCH_HINT, file=sys.stderr)
        return 2

    et.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = rng.random((args.batch, 784), dtype=np.float32)
    labels = rng.integers(0, 10, args.batch).astype(np.int32)
    model = keras_model()
    net = torch_model(model.get_weights())
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    x_torch, y_torch = torch.from_numpy(images), torch.from_numpy(labels).long()

    net.eval()
    with torch.no_grad():
        theirs_loss = float(torch.nn.functional.cross_entropy(net(x_torch), y_torch))
    ours_loss = float(model.evaluate(images, labels, batch_size=args.batch, verbose=0))
    if not np.isclose(ours_loss, theirs_loss, rtol=1e-4):
        raise SystemExit(f"the two models disagree: loss {ours_loss} vs {theirs_loss} (torch)")
    net.train()

    def ours(x, y):
        model.train_on_batch(x, y)

    def theirs(x, y):
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(net(x), y).backward()
        optimizer.step()

    ours(images, labels)  # the first step traces the train function: not timed
    print(
        f"TF 2.0 article CNN, batch {args.batch}, train step (forward, backward, Adam); "
        f"torch {torch.__version__}, {os.cpu_count()} CPU cores; same first loss {ours_loss:.5f}"
    )
    print(TIMING_HEADER)
    for threads in args.threads:
        with set_threads(threads):
            ours_t, theirs_t = time_pair(
                lambda *_: ours(images, labels),
                lambda *_: theirs(x_torch, y_torch),
                images,
                labels,
                args.seconds,
                args.min_runs,
                args.block,
            )
        print(timing_row(threads, ours_t, theirs_t))
    return 0


if __name__ == "__main__":
    sys.exit(main())
