"""`emberlite.interpreter.Interpreter`: tflite_runtime's Python API over our executor.

Swapping `from tflite_runtime.interpreter import Interpreter` (or `ai_edge_litert`) for
`from emberlite.interpreter import Interpreter` is the whole migration: the constructor
arguments, the methods and the detail dicts are TFLite's.  Errors are EmberliteErrors that
are also the ValueError / RuntimeError TFLite raises in the same cases.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from emberlite.errors import InterpreterStateError, TensorValueError
from emberlite.interpreter.details import tensor_details
from emberlite.interpreter.executor import SubgraphExecutor
from emberlite.interpreter.signature import SignatureRunner
from emberlite.schema import Model, Tensor, read_model


class OpResolverType(enum.Enum):
    """Accepted for compatibility with TFLite; emberlite always runs its own kernels."""

    AUTO = 0
    BUILTIN = 1
    BUILTIN_REF = 2
    BUILTIN_WITHOUT_DEFAULT_DELEGATES = 3


class Interpreter:
    """Runs a .tflite model.  Mirrors `tflite_runtime.interpreter.Interpreter`.

    Args:
        model_path: path of a .tflite file (memory-mapped; weights are not copied).
        model_content: the model's bytes, instead of a path.
        experimental_delegates: delegates that claim nodes (see emberlite.delegates).
        num_threads: threads the kernels may use (BLAS); None leaves the library default.
        experimental_preserve_all_tensors: keep every intermediate tensor readable after
            invoke (no memory is shared between tensors).
    """

    def __init__(
        self,
        model_path: str | None = None,
        model_content: bytes | None = None,
        experimental_delegates: Sequence[Any] | None = None,
        num_threads: int | None = None,
        experimental_op_resolver_type: OpResolverType = OpResolverType.AUTO,
        experimental_preserve_all_tensors: bool = False,
        experimental_disable_delegate_clustering: bool = False,
        experimental_default_delegate_latest_features: bool = False,
    ):
        if model_path is not None and model_content is not None:
            raise ValueError("Can't both provide `model_path` and `model_content`")
        if model_path is None and model_content is None:
            raise ValueError("Can't create interpreter without model.")
        if num_threads is not None and (not isinstance(num_threads, int) or num_threads < -1):
            raise ValueError("num_threads should >= 1 or just -1 to let the runtime decide.")
        self._model: Model = read_model(model_path if model_path is not None else model_content)
        self._delegates = list(experimental_delegates or ())
        self._num_threads = num_threads
        self._preserve_all_tensors = experimental_preserve_all_tensors
        self._main = SubgraphExecutor(self._model, 0, experimental_preserve_all_tensors)
        self._needs_allocate = True

    # -- the model ------------------------------------------------------------------------------

    @property
    def model(self) -> Model:
        """The model's object model (emberlite.schema.Model).  An emberlite extra."""
        return self._model

    @property
    def arena_size(self) -> int:
        """Bytes of the arena that holds every intermediate tensor.  An emberlite extra."""
        return self._main.arena_size

    def num_subgraphs(self) -> int:
        return len(self._model.subgraphs)

    # -- lifecycle ------------------------------------------------------------------------------

    def allocate_tensors(self) -> None:
        """Resolve shapes, prepare every node and place tensors.  Call again after resizing."""
        self._main.allocate()
        self._needs_allocate = False

    def invoke(self) -> None:
        """Run the model once on the inputs set with set_tensor."""
        if self._needs_allocate:
            raise InterpreterStateError(
                "Invoke called on model that is not ready: call allocate_tensors() first."
            )
        with _thread_limit(self._num_threads):
            self._main.invoke()

    def reset_all_variables(self) -> None:
        self._main.reset_variables()

    def resize_tensor_input(
        self, input_index: int, tensor_size: Sequence[int], strict: bool = False
    ) -> None:
        """Give input `input_index` (a tensor index) a new shape; then call allocate_tensors.

        With `strict`, only dimensions marked -1 in the shape signature may change.
        """
        t = self._tensor(input_index)
        if input_index not in self._main.subgraph.inputs:
            raise TensorValueError(
                f"Tensor {input_index} ({t.name!r}) is not an input of the model."
            )
        shape = tuple(int(d) for d in np.asarray(tensor_size).reshape(-1))
        if any(d < 0 for d in shape):
            raise TensorValueError(
                f"Cannot resize input {input_index} ({t.name!r}) "
                f"to {list(shape)}: negative dimension."
            )
        if strict:
            signature = t.shape_signature or t.shape
            if len(signature) != len(shape) or any(
                s != -1 and s != d for s, d in zip(signature, shape, strict=True)
            ):
                raise TensorValueError(
                    "ResizeInputTensorStrict only allows mutating "
                    "unknown dimensions identified by -1: "
                    f"input {input_index} ({t.name!r}) has signature "
                    f"{list(signature)}, got {list(shape)}."
                )
        if self._main.input_shapes[input_index] != shape:
            self._main.input_shapes[input_index] = shape
            self._needs_allocate = True

    # -- tensors --------------------------------------------------------------------------------

    def get_input_details(self) -> list[dict[str, Any]]:
        return [self._details(i) for i in self._main.subgraph.inputs]

    def get_output_details(self) -> list[dict[str, Any]]:
        return [self._details(i) for i in self._main.subgraph.outputs]

    def get_tensor_details(self) -> list[dict[str, Any]]:
        return [self._details(i) for i in range(len(self._main.subgraph.tensors))]

    def set_tensor(self, tensor_index: int, value: Any) -> None:
        """Copy `value` into the tensor (an input)."""
        target = self._array(tensor_index, "set")
        value = np.asarray(value)
        name = self._tensor(tensor_index).name
        if value.dtype != target.dtype:
            raise TensorValueError(
                "Cannot set tensor: Got value of type "
                f"{value.dtype.name.upper()} but expected type "
                f"{target.dtype.name.upper()} for input {tensor_index}, name: {name} "
            )
        if value.shape != target.shape:
            raise TensorValueError(
                "Cannot set tensor: Dimension mismatch. Got shape "
                f"{list(value.shape)} but expected "
                f"{list(target.shape)} for input {tensor_index}, name: {name} "
            )
        if not target.flags.writeable:
            raise TensorValueError(
                f"Cannot set tensor {tensor_index} ({name!r}): it is a constant of the model."
            )
        np.copyto(target, value)

    def get_tensor(self, tensor_index: int, subgraph_index: int = 0) -> np.ndarray:
        """A copy of the tensor's current value."""
        if subgraph_index != 0:
            raise TensorValueError(
                f"subgraph {subgraph_index}: use get_signature_runner for other subgraphs"
            )
        return self._array(tensor_index, "get").copy()

    def tensor(self, tensor_index: int) -> Callable[[], np.ndarray]:
        """A function returning a view of the tensor's memory (no copy).

        The view stays valid across invoke (it shows the new values) until the next
        allocate_tensors, which may move the tensor.
        """
        self._array(tensor_index, "view")
        return lambda: self._main.arrays[tensor_index]

    # -- signatures -----------------------------------------------------------------------------

    def get_signature_list(self) -> dict[str, dict[str, list[str]]]:
        return {
            s.signature_key: {
                "inputs": [m.name for m in s.inputs],
                "outputs": [m.name for m in s.outputs],
            }
            for s in self._model.signature_defs
        }

    def get_signature_runner(self, signature_key: str | None = None) -> SignatureRunner:
        signatures = {s.signature_key: s for s in self._model.signature_defs}
        if signature_key is None:
            if len(signatures) != 1:
                raise TensorValueError(
                    "SignatureDef signature_key is None and model "
                    f"has {len(signatures)} Signatures. "
                    "None is only allowed when the model has 1 SignatureDef"
                )
            signature_key = next(iter(signatures))
        if signature_key not in signatures:
            raise TensorValueError(
                f"SignatureDef signature_key {signature_key!r} not "
                f"found; model has {list(signatures)}"
            )
        return SignatureRunner(self, signatures[signature_key])

    def _executor_for(self, subgraph_index: int) -> SubgraphExecutor:
        if subgraph_index == 0:
            return self._main
        return SubgraphExecutor(self._model, subgraph_index, self._preserve_all_tensors)

    # -- internals ------------------------------------------------------------------------------

    def _get_ops_details(self) -> list[dict[str, Any]]:
        sg = self._main.subgraph
        return [
            {
                "index": n,
                "op_name": self._model.op_name(op),
                "inputs": np.array(op.inputs, np.int32),
                "outputs": np.array(op.outputs, np.int32),
            }
            for n, op in enumerate(sg.operators)
        ]

    def _tensor(self, index: int) -> Tensor:
        tensors = self._main.subgraph.tensors
        if not isinstance(index, int | np.integer) or not 0 <= index < len(tensors):
            raise TensorValueError(
                f"Tensor with no shape found: tensor index {index} out of range [0, {len(tensors)})"
            )
        return tensors[index]

    def _array(self, index: int, action: str) -> np.ndarray:
        t = self._tensor(index)
        if self._needs_allocate and index in self._main.subgraph.inputs and action != "get":
            raise TensorValueError(
                f"Tensor {index} ({t.name!r}) is unallocated. Try calling allocate_tensors() first"
            )
        array = self._main.arrays[index]
        if array is None:
            if self._needs_allocate:
                raise TensorValueError(
                    "Tensor data is null. Run allocate_tensors() "
                    f"first (tensor {index}, {t.name!r})"
                )
            raise TensorValueError(
                f"Tensor {index} ({t.name!r}) holds no data: no node of the model computes it"
            )
        return array

    def _details(self, index: int) -> dict[str, Any]:
        return tensor_details(index, self._tensor(index), self._main)


class _NoLimit:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_LIMIT = _NoLimit()


_CONTROLLER = None


def _thread_limit(num_threads: int | None) -> Any:
    """Limit BLAS threads during invoke when the caller asked for a number."""
    global _CONTROLLER
    if num_threads is None or num_threads < 1:
        return _NO_LIMIT
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()  # NOTE: finding the BLAS libraries is slow: once
    return _CONTROLLER.limit(limits=num_threads, user_api="blas")
