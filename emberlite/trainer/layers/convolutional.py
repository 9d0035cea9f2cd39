"""2-D convolutions (NHWC): Conv2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose."""

from __future__ import annotations

from typing import Any

from emberlite.trainer import initializers, nn, regularizers
from emberlite.trainer.layers.arguments import channels_last, int_tuple, padding_mode
from emberlite.trainer.layers.base import InputSpec, LayerError
from emberlite.trainer.layers.core import BiasActivationLayer, positive_int
from emberlite.trainer.tensor import Tensor


class _Conv(BiasActivationLayer):
    """What the 2-D convolutions share: window arguments, the input spec, bias, activation.

    Subclasses make their kernels in `build_kernels(channels) -> output channels` and
    convolve in `convolve(inputs)`.
    """

    def __init__(
        self,
        kernel_size: Any,
        strides: Any = (1, 1),
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = (1, 1),
        activation: Any = None,
        use_bias: bool = True,
        bias_initializer: Any = "zeros",
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        **kwargs: Any,
    ):
        super().__init__(
            activation=activation,
            use_bias=use_bias,
            bias_initializer=bias_initializer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self.kernel_size = int_tuple(self.name, "kernel_size", kernel_size, 2)
        self.strides = int_tuple(self.name, "strides", strides, 2)
        self.padding = padding_mode(self.name, padding)
        self.data_format = channels_last(self.name, data_format)
        self.dilation_rate = int_tuple(self.name, "dilation_rate", dilation_rate, 2)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise LayerError(
                f"layer {self.name!r}: strides {self.strides} > 1 cannot be combined with "
                f"dilation_rate {self.dilation_rate} > 1"
            )
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape: tuple) -> None:
        channels = input_shape[-1]
        self.build_bias(self.build_kernels(channels))
        self.input_spec = InputSpec(ndim=4, axes={-1: channels})

    def build_kernels(self, channels: int) -> int:
        raise NotImplementedError

    def convolve(self, inputs: Tensor) -> Tensor:
        raise NotImplementedError

    def call(self, inputs: Tensor) -> Tensor:
        return self.finish(self.convolve(inputs))

    @property
    def window(self) -> dict[str, Any]:
        """The window arguments of the nn ops."""
        return {
            "strides": self.strides,
            "padding": self.padding.upper(),
            "dilations": self.dilation_rate,
        }

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
        }


class Conv2D(_Conv):
    """activation(conv2d(inputs, kernel) + bias); kernel [kh, kw, in / groups, filters]."""

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = (1, 1),
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = (1, 1),
        groups: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        **kwargs: Any,
    ):
        super().__init__(
            kernel_size,
            strides,
            padding,
            data_format,
            dilation_rate,
            activation=activation,
            use_bias=use_bias,
            bias_initializer=bias_initializer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self.filters = positive_int(self.name, "filters", filters)
        self.groups = positive_int(self.name, "groups", groups)
        if self.filters % self.groups:
            raise LayerError(
                f"layer {self.name!r}: filters ({self.filters}) must be a multiple of groups "
                f"({self.groups})"
            )
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)

    def build_kernels(self, channels: int) -> int:
        if channels % self.groups:
            raise LayerError(
                f"layer {self.name!r}: input channels ({channels}) must be a multiple of groups "
                f"({self.groups})"
            )
        shape = (*self.kernel_size, channels // self.groups, self.filters)
        self.kernel = self.add_weight(
            "kernel",
            shape,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        return self.filters

    def convolve(self, inputs: Tensor) -> Tensor:
        return nn.conv2d(inputs, self.kernel, **self.window)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "groups": self.groups,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
        }


class DepthwiseConv2D(_Conv):
    """Each input channel convolved with `depth_multiplier` filters of its own;
    depthwise_kernel [kh, kw, in, depth_multiplier], outputs in * depth_multiplier channels."""

    def __init__(
        self,
        kernel_size: Any,
        strides: Any = (1, 1),
        padding: str = "valid",
        depth_multiplier: int = 1,
        data_format: str | None = None,
        dilation_rate: Any = (1, 1),
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        depthwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        **kwargs: Any,
    ):
        super().__init__(
            kernel_size,
            strides,
            padding,
            data_format,
            dilation_rate,
            activation=activation,
            use_bias=use_bias,
            bias_initializer=bias_initializer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self.depth_multiplier = positive_int(self.name, "depth_multiplier", depth_multiplier)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)

    def build_kernels(self, channels: int) -> int:
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel",
            (*self.kernel_size, channels, self.depth_multiplier),
            initializer=self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
        )
        return channels * self.depth_multiplier

    def convolve(self, inputs: Tensor) -> Tensor:
        return nn.depthwise_conv2d(inputs, self.depthwise_kernel, **self.window)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "depth_multiplier": self.depth_multiplier,
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
        }


class SeparableConv2D(DepthwiseConv2D):
    """A depthwise convolution, then a 1x1 convolution to `filters` channels
    (pointwise_kernel [1, 1, in * depth_multiplier, filters]), as tf.nn.separable_conv2d."""

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = (1, 1),
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = (1, 1),
        depth_multiplier: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        pointwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        depthwise_regularizer: Any = None,
        pointwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        **kwargs: Any,
    ):
        super().__init__(
            kernel_size,
            strides,
            padding,
            depth_multiplier,
            data_format,
            dilation_rate,
            activation=activation,
            use_bias=use_bias,
            depthwise_initializer=depthwise_initializer,
            bias_initializer=bias_initializer,
            depthwise_regularizer=depthwise_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self.filters = positive_int(self.name, "filters", filters)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)

    def build_kernels(self, channels: int) -> int:
        depthwise = super().build_kernels(channels)
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel",
            (1, 1, depthwise, self.filters),
            initializer=self.pointwise_initializer,
            regularizer=self.pointwise_regularizer,
        )
        return self.filters

    def convolve(self, inputs: Tensor) -> Tensor:
        return nn.conv2d(super().convolve(inputs), self.pointwise_kernel, 1, "VALID")

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
            "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer),
        }


class Conv2DTranspose(_Conv):
    """The transpose (gradient) of a convolution: it upsamples by `strides`.  kernel
    [kh, kw, filters, in]; `output_padding` (each < its stride) adds to the output size."""

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = (1, 1),
        padding: str = "valid",
        output_padding: Any = None,
        data_format: str | None = None,
        dilation_rate: Any = (1, 1),
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        **kwargs: Any,
    ):
        super().__init__(
            kernel_size,
            strides,
            padding,
            data_format,
            dilation_rate,
            activation=activation,
            use_bias=use_bias,
            bias_initializer=bias_initializer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self.filters = positive_int(self.name, "filters", filters)
        self.output_padding = (
            None
            if output_padding is None
            else int_tuple(self.name, "output_padding", output_padding, 2, minimum=0)
        )
        if self.output_padding is not None and any(
            p >= s for p, s in zip(self.output_padding, self.strides, strict=True)
        ):
            raise LayerError(
                f"layer {self.name!r}: output_padding {self.output_padding} must be smaller "
                f"than strides {self.strides}"
            )
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)

    def build_kernels(self, channels: int) -> int:
        self.kernel = self.add_weight(
            "kernel",
            (*self.kernel_size, self.filters, channels),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        return self.filters

    def convolve(self, inputs: Tensor) -> Tensor:
        n, height, width, _ = inputs.shape
        extra = self.output_padding or (None, None)
        windows = zip(
            (height, width), self.kernel_size, self.strides, self.dilation_rate, extra, strict=True
        )
        size = [_transposed_size(*window, self.padding) for window in windows]
        return nn.conv2d_transpose(inputs, self.kernel, (n, *size, self.filters), **self.window)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "output_padding": self.output_padding,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
        }


def _transposed_size(
    size: int, kernel: int, stride: int, dilation: int, extra: int | None, padding: str
) -> int:
    """The output length of a transposed convolution (Keras's deconv_output_length)."""
    span = (kernel - 1) * dilation + 1
    if extra is None:
        return size * stride + max(span - stride, 0) if padding == "valid" else size * stride
    pad = span // 2 if padding == "same" else 0
    return (size - 1) * stride + span - 2 * pad + extra
