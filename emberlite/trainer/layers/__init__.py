"""Keras-style layers (`emberlite.trainer.layers.Dense`, ...)."""

from emberlite.trainer.layers.activation import ELU, Activation, LeakyReLU, PReLU, ReLU, Softmax
from emberlite.trainer.layers.base import InputSpec, Layer
from emberlite.trainer.layers.convolutional import (
    Conv2D,
    Conv2DTranspose,
    DepthwiseConv2D,
    SeparableConv2D,
)
from emberlite.trainer.layers.core import Dense, Embedding, Lambda
from emberlite.trainer.layers.input_layer import Input, InputLayer, KerasTensor
from emberlite.trainer.layers.merging import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
)
from emberlite.trainer.layers.normalization import BatchNormalization
from emberlite.trainer.layers.pooling import (
    AveragePooling2D,
    AvgPool2D,
    GlobalAveragePooling2D,
    GlobalAvgPool2D,
    GlobalMaxPool2D,
    GlobalMaxPooling2D,
    MaxPool2D,
    MaxPooling2D,
)
from emberlite.trainer.layers.regularization import Dropout, SpatialDropout2D
from emberlite.trainer.layers.reshaping import (
    Cropping2D,
    Flatten,
    Permute,
    RepeatVector,
    Reshape,
    UpSampling2D,
    ZeroPadding2D,
)
from emberlite.trainer.serialization import deserialize, serialize
