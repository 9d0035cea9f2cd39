"""SignatureRunner: run a model by its signature's input and output names, as TFLite does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from emberlite.errors import TensorValueError
from emberlite.interpreter.details import tensor_details
from emberlite.schema import SignatureDef

if TYPE_CHECKING:
    from emberlite.interpreter.interpreter import Interpreter


class SignatureRunner:
    """Calls `runner(x=array, ...)` -> {"output_name": array}; resizes inputs as needed."""

    def __init__(self, interpreter: Interpreter, signature: SignatureDef):
        self._interpreter = interpreter
        self._signature = signature
        self._executor = interpreter._executor_for(signature.subgraph_index)
        self._inputs = {m.name: m.tensor_index for m in signature.inputs}
        self._outputs = {m.name: m.tensor_index for m in signature.outputs}
        self._needs_allocate = True

    def __call__(self, **kwargs: Any) -> dict[str, np.ndarray]:
        if set(kwargs) != set(self._inputs):
            raise TensorValueError(
                f"Invalid inputs for SignatureDef {self._signature.signature_key!r}: expected "
                f"{sorted(self._inputs)}, got {sorted(kwargs)}"
            )
        values = {name: np.asarray(v) for name, v in kwargs.items()}
        for name, value in values.items():
            self.resize_input(name, value.shape)
        self.allocate_tensors()
        for name, value in values.items():
            self._set(name, value)
        self.invoke()
        return {name: self._executor.arrays[i].copy() for name, i in self._outputs.items()}

    def get_input_details(self) -> dict[str, dict[str, Any]]:
        return {name: self._detail(i) for name, i in self._inputs.items()}

    def get_output_details(self) -> dict[str, dict[str, Any]]:
        return {name: self._detail(i) for name, i in self._outputs.items()}

    def resize_input(self, input_name: str, new_shape: Any) -> None:
        index = self._input_index(input_name)
        shape = tuple(int(d) for d in new_shape)
        if self._executor.input_shapes[index] != shape:
            self._executor.input_shapes[index] = shape
            self._needs_allocate = True

    def allocate_tensors(self) -> None:
        if self._needs_allocate or not self._executor.allocated:
            self._executor.allocate()
            self._needs_allocate = False
            if self._executor is self._interpreter._main:
                self._interpreter._needs_allocate = False

    def invoke(self) -> None:
        self.allocate_tensors()
        self._executor.invoke()

    def _set(self, name: str, value: np.ndarray) -> None:
        target = self._executor.arrays[self._inputs[name]]
        if value.dtype != target.dtype:
            raise TensorValueError(
                f"Cannot set input {name!r} of SignatureDef {self._signature.signature_key!r}: "
                f"got {value.dtype.name}, expected {target.dtype.name}"
            )
        np.copyto(target, value)

    def _input_index(self, name: str) -> int:
        if name not in self._inputs:
            raise TensorValueError(
                f"Input name {name!r} is not in SignatureDef inputs {sorted(self._inputs)}"
            )
        return self._inputs[name]

    def _detail(self, index: int) -> dict[str, Any]:
        tensor = self._executor.subgraph.tensors[index]
        return tensor_details(index, tensor, self._executor)
