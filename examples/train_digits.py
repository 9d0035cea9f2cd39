#!/usr/bin/env python3
"""Train a small CNN on scikit-learn's bundled digits (8x8 grey images of 0-9) and save it as
an emberlite bundle: the first step of emberlite's road (train -> convert -> run).

    python examples/train_digits.py                     # writes ./digits_bundle
    python examples/train_digits.py --epochs 30 --out /tmp/digits

Needs no network: the digits dataset ships inside scikit-learn.  The bundle keeps the class
labels and the input normalization, which the converter turns into model metadata.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import emberlite.trainer as et  # noqa: E402
from emberlite.trainer import callbacks, layers  # noqa: E402

PIXEL_MAX = 16.0  # the digits' pixels are 0..16


def load_data(seed: int) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(train, test) splits, images NHWC float32 in [0, 1], labels int32."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images[..., None] / PIXEL_MAX).astype(np.float32)
    labels = digits.target.astype(np.int32)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=0.2, random_state=seed, stratify=labels
    )
    return (x_train, y_train), (x_test, y_test)


def build_model() -> et.Model:
    inputs = et.Input(shape=(8, 8, 1), name="image")
    # NOTE: batch norm between the conv and its activation, so the converter folds it away
    x = layers.Conv2D(16, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(10, activation="softmax", name="digit")(x)
    return et.Model(inputs, outputs, name="digits_cnn")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("digits_bundle"))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    et.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load_data(args.seed)
    model = build_model()
    model.compile(
        optimizer=et.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.summary()
    model.fit(
        x_train,
        y_train,
        batch_size=args.batch_size,
        epochs=args.epochs,
        validation_split=0.1,
        callbacks=[callbacks.EarlyStopping(patience=5, restore_best_weights=True)],
        verbose=1,
    )
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy {accuracy:.4f} (loss {loss:.4f}) on {len(x_test)} held-out digits")
    model.save(
        args.out,
        labels=[str(d) for d in range(10)],
        normalization={"mean": 0.0, "std": PIXEL_MAX},
    )
    print(f"saved the bundle to {args.out}/")
    return 0 if accuracy >= 0.97 else 1


if __name__ == "__main__":
    sys.exit(main())
