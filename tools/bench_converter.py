#!/usr/bin/env python3
"""Time `emberlite.convert` on a MobileNetV2-sized trainer model (about 3.5M parameters).

    python tools/bench_converter.py                 # 5 timed runs after the first
    python tools/bench_converter.py --runs 10 --quantize float16

The model is MobileNetV2 (width 1.0, 224x224x3 input, 1000 classes) built with
emberlite.trainer.layers: a 3x3 stride-2 Conv2D, 17 inverted residual blocks (1x1 expand,
3x3 DepthwiseConv2D, 1x1 project, each followed by BatchNormalization, ReLU6 after the first
two, a residual Add where shapes allow), a 1x1 Conv2D to 1280 channels, global average pooling
and a Dense softmax classifier.  It is saved as a bundle once; then the whole conversion
(read the bundle, lower, optimize, write the .tflite atomically) is timed: the first run and
the median of --runs more.  TensorFlow's own converter takes about 14 s for a smaller
MobileNetV2 on this kind of machine (the figure of issue 6; TensorFlow does not run here).
Target: under 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import emberlite  # noqa: E402
import emberlite.trainer as et  # noqa: E402
from emberlite.trainer import layers  # noqa: E402

TENSORFLOW_SECONDS = 14.0  # TF's converter, smaller MobileNetV2, this kind of machine (issue 6)
TARGET_SECONDS = 1.0
# (expansion, output channels, repeats, first stride) of MobileNetV2's bottleneck stages
STAGES = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1)]
STAGES += [(6, 160, 3, 2), (6, 320, 1, 1)]


def conv_bn(x, filters: int, kernel: int = 1, strides: int = 1, relu6: bool = True):
    x = layers.Conv2D(filters, kernel, strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU(max_value=6.0)(x) if relu6 else x


def inverted_residual(x, expansion: int, filters: int, strides: int):
    channels = x.shape[-1]
    y = conv_bn(x, channels * expansion) if expansion != 1 else x
    y = layers.DepthwiseConv2D(3, strides, padding="same", use_bias=False)(y)
    y = layers.ReLU(max_value=6.0)(layers.BatchNormalization()(y))
    y = conv_bn(y, filters, relu6=False)
    return layers.Add()([x, y]) if strides == 1 and channels == filters else y


def mobilenet_v2(classes: int = 1000) -> et.Model:
    inputs = et.Input(shape=(224, 224, 3), name="image")
    x = conv_bn(inputs, 32, 3, 2)
    for expansion, filters, repeats, stride in STAGES:
        for i in range(repeats):
            x = inverted_residual(x, expansion, filters, stride if i == 0 else 1)
    x = conv_bn(x, 1280)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(classes, activation="softmax", name="probs")(x)
    return et.Model(inputs, outputs, name="mobilenet_v2")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs after the first")
    parser.add_argument("--quantize", default="none", help="none or float16")
    args = parser.parse_args()

    model = mobilenet_v2()
    params = sum(int(w.numpy().size) for w in model.weights)
    with tempfile.TemporaryDirectory() as tmp:
        bundle, output = Path(tmp) / "mobilenet_v2", Path(tmp) / "mobilenet_v2.tflite"
        model.save(bundle)
        seconds = []
        for _ in range(1 + args.runs):
            start = time.perf_counter()
            result = emberlite.convert(bundle, output, quantize=args.quantize)
            seconds.append(time.perf_counter() - start)
    first, median = seconds[0], statistics.median(seconds[1:] or seconds)
    before, after = sum(result.ops_before.values()), sum(result.ops_after.values())
    print(f"model: MobileNetV2, {params / 1e6:.2f}M parameters, 224x224x3 input")
    print(f"ops: {before} lowered -> {after} written: {_counts(result.ops_after)}")
    print(f"file: {result.size / 1e6:.2f} MB (quantize={args.quantize})")
    print(f"convert: first {first:.3f} s, median of {args.runs} more {median:.3f} s")
    print(
        f"TensorFlow's converter: about {TENSORFLOW_SECONDS:.0f} s for a smaller MobileNetV2 "
        f"on this kind of machine (not run here); target under {TARGET_SECONDS:.0f} s: "
        + ("met" if median < TARGET_SECONDS else "MISSED")
    )
    return 0 if median < TARGET_SECONDS else 1


def _counts(ops: dict[str, int]) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(ops.items(), key=lambda kv: -kv[1]))


if __name__ == "__main__":
    raise SystemExit(main())
