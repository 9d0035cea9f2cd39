"""`emberlite.function`: trace a Python function of tensors into a graph once, replay it after.

    @emberlite.function
    def train_step(x, y):
        with GradientTape() as tape:
            loss = loss_fn(y, model(x))
        for v, g in zip(model.trainable_variables, tape.gradient(loss, model.trainable_variables)):
            v.assign_sub(0.01 * g)
        return loss

The first call with a new signature traces: the function runs eagerly (so the call returns
the real result) while a Tracer (graph.py) records its primitive calls and assigns.  Later
calls with that signature replay the graph; the Python code does not run again, so its side
effects (print, appending to a list) happen once per trace, as in TensorFlow.

The signature (the cache key) flattens the arguments (nested lists, tuples and dicts) and
takes, for each tensor or NumPy array, its shape and dtype; for a Variable, that variable;
for anything else its value, which must be hashable (an unhashable one is an error: pass it
as a tensor, or close over it).  `input_signature` fixes the specs of the first arguments
instead, where None dims may vary without retracing: the function is then traced a second
time on zeros with other sizes for those dims (its assigns undone), and a graph that bakes an
unknown size in (an attr or a constant that changes with it) is refused with a TracingError.
"""

from __future__ import annotations

import functools
import inspect
import types
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from emberlite.errors import EmberliteError
from emberlite.trainer.graph import Graph, TensorSpec, Tracer, TracingError, generalize, tracing
from emberlite.trainer.tensor import Tensor, Variable, constant

__all__ = ["ConcreteFunction", "Function", "InputSpecError", "TensorSpec", "function"]


class InputSpecError(EmberliteError, ValueError):
    """A call does not match the function's input_signature (or concrete function)."""


def function(
    fn: Callable | None = None, *, input_signature: list[Any] | None = None
) -> Function | Callable[[Callable], Function]:
    """Decorator (with or without arguments) making `fn` a traced `Function`, as tf.function."""
    if fn is None:
        return lambda f: Function(f, input_signature)
    return Function(fn, input_signature)


@dataclass
class _Call:
    """One call's arguments, flattened: the cache key, and the tensors the graph takes."""

    bound: inspect.BoundArguments
    leaves: list[Any]
    key: tuple
    positions: list[int]  # where the tensor leaves are among `leaves`
    specs: list[TensorSpec]

    @property
    def tensors(self) -> list[Any]:
        return [self.leaves[i] for i in self.positions]

    def with_tensors(self, tensors: list[Tensor]) -> inspect.BoundArguments:
        leaves = list(self.leaves)
        for i, t in zip(self.positions, tensors, strict=True):
            leaves[i] = t
        it = iter(leaves)
        arguments = {name: _rebuild(v, it) for name, v in self.bound.arguments.items()}
        return inspect.BoundArguments(self.bound.signature, arguments)


class Function:
    """A Python function traced into graphs, one per signature (see the module docstring)."""

    def __init__(
        self, python_function: Callable, input_signature: list[Any] | None = None, owner=None
    ):
        self._fn = python_function
        self._owner = owner  # a weak reference to the instance of a method
        self.input_signature = None if input_signature is None else list(input_signature)
        self._signature = inspect.signature(self.python_function)
        self._concrete: dict[tuple, ConcreteFunction] = {}
        self._methods: dict[int, tuple[Callable, Function]] = {}
        self._tracing_count = 0
        functools.update_wrapper(self, python_function)
        self._name = getattr(python_function, "__qualname__", type(python_function).__name__)
        params = [p for p in self._signature.parameters.values() if p.kind != p.VAR_KEYWORD]
        if self.input_signature is not None and len(self.input_signature) > len(params):
            raise InputSpecError(
                f"{self._name}: input_signature has {len(self.input_signature)} specs for "
                f"{len(params)} arguments"
            )

    @property
    def python_function(self) -> Callable:
        if self._owner is None:
            return self._fn
        instance = self._owner()
        if instance is None:
            raise EmberliteError(f"{self._name}: the object of this method no longer exists")
        return types.MethodType(self._fn, instance)

    def __get__(self, instance: Any, owner: type | None = None) -> Function:
        """The method bound to `instance`: one Function (and its traces) per instance."""
        if instance is None:
            return self
        known = self._methods.get(id(instance))
        if known is not None and known[0]() is instance:
            return known[1]
        key = id(instance)
        try:
            ref = weakref.ref(instance, lambda _: self._methods.pop(key, None))
        except TypeError:  # no weak references to it: keep it
            ref = lambda: instance  # noqa: E731
        method = Function(self._fn, self.input_signature, owner=ref)
        self._methods[key] = (ref, method)
        return method

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        call = self._call(args, kwargs)
        if any(isinstance(t, TensorSpec) for t in call.tensors):
            raise InputSpecError(
                f"{self._name}: call it with tensors; TensorSpecs are for get_concrete_function"
            )
        concrete = self._lookup(call.key)
        if concrete is None:
            return self._trace(call, real=True)[1]
        return concrete._call_flat(call.tensors)

    def get_concrete_function(self, *args: Any, **kwargs: Any) -> ConcreteFunction:
        """The concrete function for these arguments (TensorSpecs, tensors or values; none: the
        input_signature), traced on zeros if it does not exist yet."""
        if not args and not kwargs and self.input_signature is not None:
            args = tuple(self.input_signature)
        call = self._call(args, kwargs)
        return self._lookup(call.key) or self._trace(call)[0]

    def experimental_get_tracing_count(self) -> int:
        """How many times the function has been traced (one per concrete function)."""
        return self._tracing_count

    # -- signatures ---------------------------------------------------------------------------

    def _call(self, args: tuple, kwargs: dict) -> _Call:
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as e:
            raise InputSpecError(f"{self._name}: {e}") from None
        bound.apply_defaults()
        fixed = self._signature_specs(bound)
        leaves, key, positions, specs = [], [], [], []
        for path, leaf in _argument_leaves(bound.arguments):
            spec = fixed.get(path)
            if spec is None and isinstance(leaf, TensorSpec):
                spec = TensorSpec(leaf.shape, leaf.dtype, leaf.name or path)
            elif spec is None and _is_tensor(leaf):
                spec = TensorSpec(leaf.shape, leaf.dtype, path)
            if spec is not None:
                key.append((path, "tensor", spec.shape, spec.dtype))
                positions.append(len(leaves))
                specs.append(spec)
            else:
                key.append((path, *self._value_key(path, leaf)))
            leaves.append(leaf)
        return _Call(bound, leaves, tuple(key), positions, specs)

    def _signature_specs(self, bound: inspect.BoundArguments) -> dict[str, TensorSpec]:
        """path -> spec of the leaves input_signature covers, checking the call matches it."""
        if self.input_signature is None:
            return {}
        fixed = {}
        names = list(self._signature.parameters)
        for name, structure in zip(names, self.input_signature, strict=False):
            expected = list(_leaves(structure, name))
            given = list(_leaves(bound.arguments[name], name))
            if [p for p, _ in expected] != [p for p, _ in given]:
                raise InputSpecError(
                    f"{self._name}: argument {name!r} must be structured as the input_signature "
                    f"{structure!r}, got {bound.arguments[name]!r}"
                )
            for (path, spec), (_, value) in zip(expected, given, strict=True):
                shaped = _is_tensor(value) or isinstance(value, TensorSpec)
                if not shaped or not spec.is_compatible_with(value):
                    got = (
                        f"shape {tuple(value.shape)} {np.dtype(value.dtype).name}"
                        if shaped
                        else repr(value)
                    )
                    raise InputSpecError(
                        f"{self._name}: argument {path!r} must match shape {spec.shape} "
                        f"{spec.dtype.name}, got {got}"
                    )
                fixed[path] = TensorSpec(spec.shape, spec.dtype, spec.name or path)
        return fixed

    def _value_key(self, path: str, leaf: Any) -> tuple:
        if isinstance(leaf, Variable):
            return "variable", id(leaf)  # NOTE: the graph keeps it, so the id stays its own
        try:
            hash(leaf)
        except TypeError:
            raise InputSpecError(
                f"{self._name}: argument {path!r} is an unhashable {type(leaf).__name__}, which "
                "cannot key a trace: pass it as a tensor or a tuple, or close over it"
            ) from None
        return "value", type(leaf), leaf

    def _lookup(self, key: tuple) -> ConcreteFunction | None:
        found = self._concrete.get(key)
        if found is None:
            found = next((c for k, c in self._concrete.items() if _accepts(k, key)), None)
        return found

    # -- tracing ------------------------------------------------------------------------------

    def _trace(self, call: _Call, real: bool = False) -> tuple[ConcreteFunction, Any]:
        """Trace on the call's tensors (`real`) or on zeros; the concrete function and the
        function's result."""
        if real:
            inputs = [_to_tensor(t) for t in call.tensors]
        else:
            inputs = [_zeros(spec, [2] * len(spec.shape)) for spec in call.specs]
        graph, result = self._trace_once(call, inputs, isolated=not real)
        if any(None in spec.shape for spec in call.specs):
            graph = self._generalize(call, graph, inputs)
        specs = iter(graph.output_specs())
        outputs = _rebuild(
            result, (next(specs) if isinstance(x, Tensor) else x for x in _flat(result))
        )
        concrete = ConcreteFunction(self, graph, call, outputs)
        self._concrete[call.key] = concrete
        self._tracing_count += 1
        return concrete, result

    def _generalize(self, call: _Call, graph: Graph, inputs: list[Tensor]) -> Graph:
        """`graph` with None for its unknown dims, checked against a second trace on zeros
        with each unknown dim one larger (graph.generalize)."""
        others = [
            _zeros(spec, [n + 1 for n in t.shape])
            for spec, t in zip(call.specs, inputs, strict=True)
        ]
        try:
            again, _ = self._trace_once(call, others, isolated=True)
            return generalize(graph, again, (_shapes(inputs), _shapes(others)))
        except TracingError as e:
            raise TracingError(f"{self._name}: {e}") from None
        except Exception as e:  # noqa: BLE001 - any failure on the stand-ins says why
            raise TracingError(
                f"{self._name}: tracing again on zeros with other sizes for the unknown "
                f"dimensions (to check they can vary) failed: {e}"
            ) from e

    def _trace_once(self, call: _Call, inputs: list[Tensor], isolated: bool) -> tuple[Graph, Any]:
        inputs = _distinct(inputs)
        tracer = Tracer(f"{self._name}()", inputs, call.specs)
        with tracing(tracer, isolated):
            bound = call.with_tensors(inputs)
            result = self.python_function(*bound.args, **bound.kwargs)
        return tracer.graph([x for x in _flat(result) if isinstance(x, Tensor)]), result


class ConcreteFunction:
    """One trace of a Function: its graph, the specs it takes and what it returns.

    `structured_input_signature` is (args, kwargs) with TensorSpecs for the tensors;
    `structured_outputs` is the result's structure with TensorSpecs for the tensors.
    """

    def __init__(self, function: Function, graph: Graph, call: _Call, structured_outputs: Any):
        self.function = function
        self.graph = graph
        self._key = call.key
        specs = iter(graph.inputs)
        bound = call.with_tensors([next(specs) for _ in call.positions])
        self.structured_input_signature = (bound.args, bound.kwargs)
        self.structured_outputs = structured_outputs

    @property
    def inputs(self) -> list[TensorSpec]:
        return list(self.graph.inputs)

    @property
    def outputs(self) -> list[TensorSpec]:
        return self.graph.output_specs()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        call = self.function._call(args, kwargs)
        if not _accepts(self._key, call.key):
            raise InputSpecError(
                f"{self.function._name}: this concrete function takes "
                f"{_describe(self._key)}, got {_describe(call.key)}"
            )
        return self._call_flat(call.tensors)

    def _call_flat(self, tensors: list[Any]) -> Any:
        values = iter(self.graph.run([_to_tensor(t) for t in tensors]))
        return _rebuild(
            self.structured_outputs,
            (
                next(values) if isinstance(x, TensorSpec) else x
                for x in _flat(self.structured_outputs)
            ),
        )


# -- helpers ------------------------------------------------------------------------------------


def _is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor | np.ndarray | np.generic) and not isinstance(x, Variable)


def _to_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else constant(x)


def _zeros(spec: TensorSpec, sizes: list[int]) -> Tensor:
    """Stand-in zeros of `spec`, its None dims of the sizes in `sizes`."""
    shape = [n if d is None else d for d, n in zip(spec.shape, sizes, strict=True)]
    return constant(np.zeros(shape, spec.dtype))


def _distinct(inputs: list[Tensor]) -> list[Tensor]:
    """The inputs, a tensor passed twice made a second tensor (a recorded copy, so tapes
    still see it): each input of the graph must be its own."""
    from emberlite.trainer.ops.array_ops import _reshape

    seen: set[int] = set()
    out = []
    for t in inputs:
        out.append(_reshape(t, shape=t.shape) if id(t) in seen else t)
        seen.add(id(t))
    return out


def _shapes(tensors: list[Tensor]) -> str:
    return ", ".join(str(list(t.shape)) for t in tensors)


def _accepts(general: tuple, key: tuple) -> bool:
    """Whether a concrete function traced for `general` takes calls keyed `key`."""
    return len(general) == len(key) and all(
        g == k or (g[:2] == k[:2] and g[1] == "tensor" and _fits(g[2], k[2]) and g[3] == k[3])
        for g, k in zip(general, key, strict=True)
    )


def _fits(general: tuple, shape: tuple) -> bool:
    return len(general) == len(shape) and all(
        g is None or g == n for g, n in zip(general, shape, strict=True)
    )


def _describe(key: tuple) -> str:
    parts = []
    for path, kind, *rest in key:
        if kind == "tensor":
            parts.append(f"{path}: {rest[0]} {rest[1].name}")
        else:
            parts.append(f"{path}={'a variable' if kind == 'variable' else repr(rest[-1])}")
    return ", ".join(parts)


def _argument_leaves(arguments: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(path, leaf) of a call's arguments, in the order of the parameters."""
    for name, value in arguments.items():
        yield from _leaves(value, name)


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, leaf) of a nested structure of lists, tuples and dicts (keys in sorted order)."""
    if isinstance(value, dict):
        for k in sorted(value, key=repr):
            yield from _leaves(value[k], f"{path}/{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}/{i}")
    else:
        yield path, value


def _flat(value: Any) -> list[Any]:
    return [leaf for _, leaf in _leaves(value)]


def _rebuild(value: Any, leaves: Iterator[Any]) -> Any:
    """`value`'s structure with its leaves taken from `leaves`, in `_leaves` order."""
    if isinstance(value, dict):
        new = {k: _rebuild(value[k], leaves) for k in sorted(value, key=repr)}
        return {k: new[k] for k in value}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
        return type(value)(*(_rebuild(v, leaves) for v in value))
    if isinstance(value, list | tuple):
        return type(value)(_rebuild(v, leaves) for v in value)
    return next(leaves)
