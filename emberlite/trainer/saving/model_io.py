"""`model.save(path)` and `emberlite.trainer.load(path)`: models to bundles and back.

What a bundle holds for a model (contract 2 of DESIGN.md; file layout in bundle_files.py):
- the model's config (`serialize(model)`), when it has one, to rebuild it as it was;
- signatures: `serving_default` (the model called with `training=False` on inputs of its
  input shapes, batch dimension None), and any `signatures={name: emberlite.function}` given,
  each with its traced graph (NHWC, as the model computes) for the converter;
- every weight, by variable name, in safetensors, with the order of `model.weights`;
- when compiled: the compile config (optimizer, loss, metrics) and the optimizer's state, so
  `fit` continues where it stopped;
- assets: class labels and input normalization (which the converter turns into metadata).

A model whose class cannot be rebuilt (a subclassed model defined without a config) loads as
a `LoadedModel`: its `serving_default` graph replayed on the saved variables, which predicts
bit for bit and can be fine-tuned (the graph replays through the same ops, so tapes see it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy

from emberlite import __version__
from emberlite.trainer.autodiff import _flatten
from emberlite.trainer.function import Function, function
from emberlite.trainer.graph import Graph, TensorSpec
from emberlite.trainer.models.model import Model
from emberlite.trainer.saving.bundle_files import (
    Bundle,
    BundleError,
    _fsync_write,
    read_bundle,
    write_bundle,
)
from emberlite.trainer.serialization import SerializationError, deserialize, serialize
from emberlite.trainer.tensor import Variable

SERVING = "serving_default"


# -- saving ---------------------------------------------------------------------------------------


def save_model(
    model: Any,
    path: str | os.PathLike,
    *,
    signatures: dict[str, Function] | None = None,
    include_optimizer: bool = True,
    labels: list[str] | None = None,
    normalization: dict[str, Any] | None = None,
) -> Path:
    """Write `model` as a bundle directory at `path` (atomically; see bundle_files)."""
    if not model.built:
        raise BundleError(
            f"cannot save model {model.name!r} before it is built: call it on data or build() it"
        )
    weights = model.weights
    _check_unique(weights, f"model {model.name!r}")
    variables = {v.name: v for v in weights}
    graphs, constants = {}, {}
    traced = {SERVING: serving_function(model), **(signatures or {})}
    for name, fn in traced.items():
        graph_json, graph_constants = _trace_signature(name, fn)
        graphs[name] = graph_json
        constants.update({f"{name}/{k}": v for k, v in graph_constants.items()})
        for spec in graph_json["variables"]:
            if spec["name"] not in variables:
                raise BundleError(
                    f"signature {name!r} reads variable {spec['name']!r}, which is not a "
                    f"weight of model {model.name!r}"
                )
    manifest: dict[str, Any] = {
        "producer": f"emberlite {__version__}",
        "model": _model_config(model),
        "build_input_shape": _json_shape(getattr(model, "_build_input_shape", None)),
        "signatures": graphs,
        "variables": {v.name: _var_json(v) for v in weights},
        "weight_order": [v.name for v in weights],
    }
    optimizer = getattr(model, "optimizer", None)
    if include_optimizer and optimizer is not None and hasattr(model, "get_compile_config"):
        state = list(optimizer.variables)
        _check_unique(state, "the optimizer")
        clash = sorted({v.name for v in state} & variables.keys())
        if clash:
            raise BundleError(f"optimizer variables {clash} have the names of model weights")
        manifest["compile"] = model.get_compile_config()
        manifest["optimizer_variables"] = [v.name for v in state]
        manifest["variables"].update({v.name: _var_json(v) for v in state})
        variables.update({v.name: v for v in state})
    assets = {}
    if labels is not None:
        assets["labels"] = "".join(f"{label}\n" for label in labels).encode("utf-8")
    if normalization is not None:
        manifest["normalization"] = _normalization(normalization)
    arrays = {name: np.asarray(v.numpy()) for name, v in variables.items()}
    return write_bundle(path, manifest, arrays, constants, assets)


def serving_function(model: Any) -> Function:
    """`model(inputs, training=False)` as a traced function of the model's input specs."""
    specs = input_specs(model)

    def serve(inputs: Any) -> Any:
        return model(inputs, training=False)

    return function(serve, input_signature=[specs if len(specs) > 1 else specs[0]])


def input_specs(model: Any) -> list[TensorSpec]:
    """The model's inputs (batch dimension None), named as its Input layers."""
    inputs = getattr(model, "inputs", None)
    graph = getattr(model, "_graph", None)
    if graph is not None:
        inputs = graph.inputs
    if inputs:
        return [TensorSpec(x.shape, x.dtype, x.node.layer.name) for x in inputs]
    shape = getattr(model, "_build_input_shape", None)
    if shape is None:
        raise BundleError(f"model {model.name!r}: its input shape is not known")
    shapes = shape if isinstance(shape, list) else [shape]
    return [
        TensorSpec((None, *s[1:]), model.compute_dtype, f"input_{i}") for i, s in enumerate(shapes)
    ]


def _trace_signature(name: str, fn: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    if not isinstance(fn, Function) or fn.input_signature is None:
        raise BundleError(
            f"signature {name!r} must be an emberlite.function with an input_signature"
        )
    concrete = fn.get_concrete_function()
    graph: Graph = concrete.graph.prune(keep_assigns=False)
    graph_json, constants = graph.to_json()
    for i, spec in enumerate(graph_json["inputs"]):
        spec["name"] = spec.get("name") or f"input_{i}"
    graph_json["output_names"] = _output_names(concrete.structured_outputs)
    return graph_json, constants


def _output_names(structure: Any) -> list[str]:
    if isinstance(structure, dict):
        return [str(k) for k in sorted(structure)]
    return [f"output_{i}" for i in range(len(_flatten(structure)))]


def _model_config(model: Any) -> dict[str, Any] | None:
    """The model's config, or None when it cannot rebuild the model: a subclassed model
    whose constructor does not take its config is tried here, not found out at load."""
    from emberlite.trainer.models import Functional, Sequential

    try:
        config = serialize(model)
        if not isinstance(model, Functional | Sequential):
            type(model).from_config(config["config"])
    except (SerializationError, NotImplementedError, TypeError):
        return None
    return config


def _check_unique(variables: list[Variable], owner: str) -> None:
    names = [v.name for v in variables]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise BundleError(
            f"{owner} has more than one variable named {twice}: give its layers unique names"
        )


def _var_json(v: Variable) -> dict[str, Any]:
    return {"shape": list(v.shape), "dtype": v.dtype.name, "trainable": bool(v.trainable)}


def _json_shape(shape: Any) -> Any:
    if shape is None:
        return None
    if isinstance(shape, list):
        return [_json_shape(s) for s in shape]
    return [None if d is None else int(d) for d in shape]


def _normalization(normalization: dict[str, Any]) -> dict[str, list[float]]:
    unknown = set(normalization) - {"mean", "std"}
    if unknown or not normalization:
        raise BundleError(f"normalization takes 'mean' and 'std', got {sorted(normalization)}")
    return {k: [float(x) for x in np.atleast_1d(v)] for k, v in normalization.items()}


# -- loading --------------------------------------------------------------------------------------


def load_model(
    path: str | os.PathLike, custom_objects: dict[str, Any] | None = None, compile: bool = True
) -> Any:
    """The model saved at `path`, with its weights (and, when compiled, optimizer state)."""
    bundle = read_bundle(path)
    manifest = bundle.manifest
    config = manifest.get("model")
    if config is None:
        model = LoadedModel(bundle)
    else:
        try:
            model = deserialize(config, custom_objects, what="model")
        except SerializationError as e:
            raise BundleError(f"bundle {bundle.path}: {e}") from None
        except (KeyError, TypeError, ValueError, IndexError) as e:
            # NOTE: from_config of a damaged config: the boundary says which part is bad
            raise BundleError(f"bundle {bundle.path}: its model config is damaged: {e!r}") from None
        if not model.built:
            shape = manifest.get("build_input_shape")
            model.build(_tuple_shape(shape))
    _assign(bundle, model.weights, manifest["weight_order"], f"model {model.name!r}")
    if compile and manifest.get("compile"):
        _restore_compiled(bundle, model)
    model.bundle_labels = bundle.labels
    model.bundle_normalization = manifest.get("normalization")
    return model


def _restore_compiled(bundle: Bundle, model: Any) -> None:
    """compile() as saved, then the optimizer's state, so fit continues where it stopped."""
    try:
        model.compile_from_config(bundle.manifest["compile"])
    except SerializationError as e:
        raise BundleError(f"bundle {bundle.path}: {e}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise BundleError(f"bundle {bundle.path}: its compile config is damaged: {e!r}") from None
    if model.optimizer is None:
        raise BundleError(f"bundle {bundle.path}: its compile config names no optimizer")
    model.optimizer.build(model.trainable_variables)
    names = bundle.manifest.get("optimizer_variables") or []
    _assign(bundle, list(model.optimizer.variables), names, "the optimizer")


def _tuple_shape(shape: Any) -> Any:
    if shape and isinstance(shape[0], list):
        return [tuple(s) for s in shape]
    return tuple(shape) if shape is not None else None


def _assign(bundle: Bundle, variables: list[Variable], names: list[str], owner: str) -> None:
    if len(variables) != len(names):
        raise BundleError(
            f"bundle {bundle.path}: {owner} has {len(variables)} variables, the bundle "
            f"{len(names)} (was it saved from a different architecture?)"
        )
    for variable, name in zip(variables, names, strict=True):
        value = bundle.variables.get(name)
        if value is None:
            raise BundleError(f"bundle {bundle.path}: variable {name!r} is missing")
        if value.shape != variable.shape:
            raise BundleError(
                f"bundle {bundle.path}: variable {name!r} has shape {list(value.shape)}, "
                f"{owner} expects {list(variable.shape)} for {variable.name!r}"
            )
        variable.assign(value.astype(variable.dtype, copy=False))


class LoadedModel(Model):
    """A model known only by its saved graph: `serving_default` replayed on the saved
    variables (a subclassed model saved without a config loads as this)."""

    def __init__(self, bundle: Bundle):
        super().__init__(name=Path(bundle.path).name)
        specs = bundle.manifest["variables"]
        saved = {
            name: Variable(
                bundle.variables[name], trainable=specs[name].get("trainable") is True, name=name
            )
            for name in bundle.manifest["weight_order"]
        }
        if SERVING not in bundle.signatures:
            raise BundleError(
                f"bundle {bundle.path} has no model config and no {SERVING!r} signature to run"
            )
        self._tracked_variables.extend(saved.values())
        prefix = f"{SERVING}/"
        constants = {
            k[len(prefix) :]: v for k, v in bundle.constants.items() if k.startswith(prefix)
        }
        self._serving = Graph.from_json(bundle.signatures[SERVING], constants, saved)
        self.built = True

    def call(self, inputs: Any, training: bool = False) -> Any:
        outputs = self._serving.run(_flatten(inputs))
        return outputs[0] if len(outputs) == 1 else outputs


# -- weights only ---------------------------------------------------------------------------------


def save_weights(model: Any, path: str | os.PathLike) -> None:
    """The model's weights in one safetensors file, by name (atomic replace)."""
    path = Path(path)
    weights = model.weights
    _check_unique(weights, f"model {model.name!r}")
    arrays = {v.name: np.array(v.numpy(), order="C") for v in weights}
    order = ",".join(v.name for v in weights)
    staged = path.with_name(f".{path.name}.tmp")
    _fsync_write(staged, safetensors.numpy.save(arrays, metadata={"weight_order": order}))
    os.replace(staged, path)


def load_weights(model: Any, path: str | os.PathLike) -> None:
    """Weights from `save_weights` (or a bundle directory) into `model`, in weight order."""
    path = Path(path)
    if path.is_dir():
        bundle = read_bundle(path)
        _assign(bundle, model.weights, bundle.manifest["weight_order"], f"model {model.name!r}")
        return
    try:
        data = path.read_bytes()
        arrays = safetensors.numpy.load(data)
        order = _safetensors_metadata(data).get("weight_order", "")
    except FileNotFoundError:
        raise BundleError(f"weights file {path} does not exist") from None
    except Exception as e:  # NOTE: safetensors raises assorted errors on corrupt files
        raise BundleError(f"weights file {path} is corrupt: {e}") from None
    fake = Bundle(path, {}, arrays, {})
    _assign(fake, model.weights, order.split(",") if order else [], f"model {model.name!r}")


def _safetensors_metadata(data: bytes) -> dict[str, str]:
    import json

    size = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + size]).get("__metadata__", {})
