"""`emberlite.trainer.nn`: the neural-network ops under TensorFlow's `tf.nn` names (NHWC).

>>> import numpy as np
>>> import emberlite.trainer.nn as nn
>>> x = np.ones((1, 4, 4, 1), np.float32)
>>> nn.max_pool2d(nn.relu(x), ksize=2, strides=2, padding="VALID").shape
(1, 2, 2, 1)
"""

from emberlite.trainer.ops.math_ops import tanh
from emberlite.trainer.ops.nn_ops import (
    avg_pool2d,
    batch_normalization,
    bias_add,
    conv2d,
    conv2d_transpose,
    depthwise_conv2d,
    dropout,
    elu,
    embedding_lookup,
    gelu,
    hard_sigmoid,
    hard_swish,
    l2_loss,
    leaky_relu,
    log_softmax,
    max_pool2d,
    moments,
    relu,
    relu6,
    selu,
    sigmoid,
    sigmoid_cross_entropy_with_logits,
    silu,
    softmax,
    softmax_cross_entropy_with_logits,
    softplus,
    sparse_softmax_cross_entropy_with_logits,
    swish,
)

# TF's 4-D aliases.
max_pool = max_pool2d
avg_pool = avg_pool2d

__all__ = [
    "avg_pool",
    "avg_pool2d",
    "batch_normalization",
    "bias_add",
    "conv2d",
    "conv2d_transpose",
    "depthwise_conv2d",
    "dropout",
    "elu",
    "embedding_lookup",
    "gelu",
    "hard_sigmoid",
    "hard_swish",
    "l2_loss",
    "leaky_relu",
    "log_softmax",
    "max_pool",
    "max_pool2d",
    "moments",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "sigmoid_cross_entropy_with_logits",
    "silu",
    "softmax",
    "softmax_cross_entropy_with_logits",
    "softplus",
    "sparse_softmax_cross_entropy_with_logits",
    "swish",
    "tanh",
]
