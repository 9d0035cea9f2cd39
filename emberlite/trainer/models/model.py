"""`Model`: a layer that trains (compile/fit/evaluate/predict), summarizes and saves itself.

Three ways to make one, as in Keras:
- functional: `Model(inputs, outputs)` on KerasTensors from `Input` (returns a `Functional`);
- `Sequential([...])` or `.add(layer)`;
- subclassing: define layers in `__init__` and the computation in `call`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emberlite.trainer.layers.base import Layer, LayerError, _shape_str
from emberlite.trainer.training import Trainer


class Model(Trainer, Layer):
    """A trainable, saveable layer; see the module docstring for the three ways to make one."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Model:
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from emberlite.trainer.models.functional import Functional

            return super().__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any):
        if args or "inputs" in kwargs:
            raise LayerError(
                f"{type(self).__name__}(inputs, outputs) needs KerasTensors from Input"
            )
        Layer.__init__(self, **kwargs)
        Trainer.__init__(self)

    def build(self, input_shape: Any) -> None:
        """Subclassed models build by running `call` once on zeros of `input_shape`."""
        if self.built:
            return
        from emberlite.trainer.layers.input_layer import KerasTensor, symbolic_call

        if type(self).call is Model.call:
            raise LayerError(f"model {self.name!r} has no call() to build with")
        self.built = True  # NOTE: before the symbolic run, which would build again otherwise
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        inputs = [KerasTensor(tuple(s), self.compute_dtype) for s in shapes]
        symbolic_call(self, inputs if isinstance(input_shape, list) else inputs[0], (), {})
        self._inbound_nodes.clear()

    def _build_for(self, inputs: Any) -> None:
        # NOTE: the first real call builds the sublayers; build() is for building without data
        from emberlite.trainer.autodiff import _flatten, _restructure

        self._build_input_shape = _restructure(inputs, [tuple(x.shape) for x in _flatten(inputs)])
        if type(self).build is Model.build:
            self.built = True
        else:
            self.build(self._build_input_shape)
            self.built = True

    def call(self, inputs: Any, training: bool = False) -> Any:
        raise NotImplementedError(
            f"model {type(self).__name__}: subclasses of Model define call() (or use "
            "Model(inputs, outputs) / Sequential)"
        )

    # -- saving ----------------------------------------------------------------------------------

    def save(self, path: Any, **options: Any) -> Any:
        """Write the model as a bundle directory (atomically): config, signatures with their
        graphs, weights, optimizer state; options: `signatures`, `include_optimizer`,
        `labels`, `normalization` (see `emberlite.trainer.saving.model_io.save_model`)."""
        from emberlite.trainer.saving.model_io import save_model

        return save_model(self, path, **options)

    def save_weights(self, path: Any) -> None:
        """The weights alone, in one safetensors file."""
        from emberlite.trainer.saving.model_io import save_weights

        save_weights(self, path)

    def load_weights(self, path: Any) -> None:
        """Weights from `save_weights` or from a bundle, in `weights` order."""
        from emberlite.trainer.saving.model_io import load_weights

        load_weights(self, path)

    # -- summary ---------------------------------------------------------------------------------

    def summary(self, print_fn: Callable[[str], Any] | None = None, line_length: int = 79) -> None:
        """Print the layers with output shapes and parameter counts, as Keras does."""
        if not self.built:
            raise LayerError(
                f"model {self.name!r} has not been built yet: call it on data, call build(), "
                "or give its first layer an input_shape"
            )
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for layer, shape in self._summary_rows():
            rows.append(
                (f"{layer.name} ({type(layer).__name__})", shape, f"{layer.count_params():,}")
            )
        widths = (int(line_length * 0.42), int(line_length * 0.36))
        lines = [f'Model: "{self.name}"', "_" * line_length]
        for i, (name, shape, params) in enumerate(rows):
            lines.append(f"{name:<{widths[0]}}{shape:<{widths[1]}}{params}")
            lines.append(("=" if i == 0 else "_") * line_length)
        trainable = sum(v.size for v in self.trainable_weights)
        total = self.count_params()
        lines[-1] = "=" * line_length
        lines += [
            f"Total params: {total:,}",
            f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}",
            "_" * line_length,
        ]
        for line in lines:
            (print_fn or print)(line)

    def _summary_rows(self) -> list[tuple[Layer, str]]:
        """(layer, output shape text) per row; subclassed models know no shapes."""
        return [(layer, "?") for layer in self.layers]


def output_shape_text(node_outputs: Any) -> str:
    from emberlite.trainer.autodiff import _flatten

    shapes = [_shape_str(x.shape) for x in _flatten(node_outputs)]
    return shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"
