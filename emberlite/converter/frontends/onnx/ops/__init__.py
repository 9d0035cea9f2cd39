"""ONNX op lowerings, by theme: elementwise math, window ops (convolution, pooling), dense
and normalization ops, resize, tensor reshuffling.
Importing the package registers them all in `OPS`."""

from emberlite.converter.frontends.onnx.ops import elementwise, nn, resize, tensor, windows
from emberlite.converter.frontends.onnx.ops.registry import OPS, lowers

__all__ = ["OPS", "lowers"]
