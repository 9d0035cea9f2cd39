"""Functional models: `Model(inputs, outputs)`, a graph of layer calls (nodes) with branches
and merges, run in topological order.  Its config lists every layer with the nodes that feed
it (Keras's "inbound_nodes"), which is enough to rebuild the graph."""

from __future__ import annotations

from typing import Any

from emberlite.trainer.autodiff import _flatten, _restructure
from emberlite.trainer.layers.base import Layer, LayerError
from emberlite.trainer.layers.input_layer import InputLayer, KerasTensor, Node
from emberlite.trainer.models.model import Model, output_shape_text
from emberlite.trainer.serialization import deserialize, serialize


class Functional(Model):
    """A model defined by its input and output KerasTensors."""

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None, **kwargs: Any):
        Model.__init__(self, name=name, **kwargs)
        for what, structure in (("inputs", inputs), ("outputs", outputs)):
            for x in _flatten(structure):
                if not isinstance(x, KerasTensor):
                    raise LayerError(
                        f"Model {what} must be KerasTensors (from Input or layer calls), "
                        f"got {type(x).__name__}"
                    )
        self._inputs_structure, self._outputs_structure = inputs, outputs
        self.inputs, self.outputs = _flatten(inputs), _flatten(outputs)
        self._nodes = _topological_nodes(self.inputs, self.outputs)
        layers: list[Layer] = []
        for node in self._nodes:
            if not any(node.layer is known for known in layers):
                layers.append(node.layer)
        self._layers = layers
        self._tracked_layers.extend(layers)
        names = [layer.name for layer in layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise LayerError(f"model {self.name!r}: layer names must be unique, got {duplicates}")
        self.built = True

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    @property
    def input_shape(self) -> Any:
        return _restructure(self._inputs_structure, [x.shape for x in self.inputs])

    @property
    def output_shape(self) -> Any:
        return _restructure(self._outputs_structure, [x.shape for x in self.outputs])

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        if index is not None:
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise LayerError(f"model {self.name!r} has no layer named {name!r}")

    def build(self, input_shape: Any) -> None:
        self.built = True

    def _check_inputs(self, inputs: Any) -> None:
        flat = _flatten(inputs)
        if len(flat) != len(self.inputs):
            raise LayerError(
                f"model {self.name!r} expects {len(self.inputs)} input(s), got {len(flat)}"
            )
        for index, (expected, x) in enumerate(zip(self.inputs, flat, strict=True)):
            shape = tuple(x.shape)
            fits = len(shape) == len(expected.shape) and all(
                e is None or e == d for e, d in zip(expected.shape, shape, strict=True)
            )
            if not fits:
                layer = expected.node.layer.name if expected.node else "input"
                raise LayerError(
                    f"Input {index} of model {self.name!r} (layer {layer!r}) is incompatible: "
                    f"expected shape {_shape_text(expected.shape)}, but received input with "
                    f"shape {_shape_text(shape)}"
                )

    def call(self, inputs: Any, training: bool = False) -> Any:
        values: dict[int, Any] = {
            id(kt): x for kt, x in zip(self.inputs, _flatten(inputs), strict=True)
        }
        for node in self._nodes:
            if isinstance(node.layer, InputLayer):
                continue
            args = _restructure(node.inputs, [values[id(x)] for x in _flatten(node.inputs)])
            out = node.layer(args, *node.args, **node.kwargs)
            for kt, value in zip(_flatten(node.outputs), _flatten(out), strict=True):
                values[id(kt)] = value
        return _restructure(self._outputs_structure, [values[id(x)] for x in self.outputs])

    def _summary_rows(self) -> list[tuple[Layer, str]]:
        return [(node.layer, output_shape_text(node.outputs)) for node in self._nodes]

    # -- config ----------------------------------------------------------------------------------

    def _node_ref(self, x: KerasTensor) -> list:
        """[layer name, node index within this model, tensor index], as Keras writes it."""
        layer = x.node.layer
        mine = [n for n in layer._inbound_nodes if n in self._node_set]
        return [layer.name, mine.index(x.node), x.index]

    def get_config(self) -> dict[str, Any]:
        self._node_set = set(self._nodes)
        layers = []
        for layer in self._layers:
            nodes = [n for n in layer._inbound_nodes if n in self._node_set]
            inbound = [
                {
                    "inputs": _restructure(
                        node.inputs, [self._node_ref(x) for x in _flatten(node.inputs)]
                    ),
                    "args": list(node.args),
                    "kwargs": node.kwargs,
                }
                for node in nodes
                if not isinstance(layer, InputLayer)
            ]
            layers.append({**serialize(layer), "name": layer.name, "inbound_nodes": inbound})
        return {
            "name": self.name,
            "trainable": self.trainable,
            "layers": layers,
            "input_layers": _restructure(
                self._inputs_structure, [self._node_ref(x) for x in self.inputs]
            ),
            "output_layers": _restructure(
                self._outputs_structure, [self._node_ref(x) for x in self.outputs]
            ),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Functional:
        return cls(**_rebuild_graph(config))


def _shape_text(shape: tuple) -> str:
    from emberlite.trainer.layers.base import _shape_str

    return _shape_str(shape)


def _is_ref(x: Any) -> bool:
    return isinstance(x, list) and len(x) == 3 and isinstance(x[0], str)


def _map_refs(structure: Any, fn: Any) -> Any:
    if _is_ref(structure):
        return fn(structure)
    if isinstance(structure, list | tuple):
        return [_map_refs(x, fn) for x in structure]
    if isinstance(structure, dict):
        return {k: _map_refs(v, fn) for k, v in structure.items()}
    return structure


def _rebuild_graph(config: dict[str, Any]) -> dict[str, Any]:
    """Recreate layers and replay their calls until every node exists (Keras's algorithm:
    a node waits until the nodes it reads from have been made)."""
    layers = {}
    outputs: dict[tuple[str, int], Any] = {}  # (layer, node index) -> output KerasTensors
    pending = []
    for entry in config["layers"]:
        layer = deserialize(entry, what="layer")
        layers[entry["name"]] = layer
        if isinstance(layer, InputLayer):
            outputs[(layer.name, 0)] = layer.output
        pending += [(layer, i, node) for i, node in enumerate(entry.get("inbound_nodes", []))]

    def tensor(ref: list) -> KerasTensor:
        found = outputs[(ref[0], ref[1])]
        return _flatten(found)[ref[2]]

    while pending:
        waiting = []
        for layer, index, node in pending:
            refs = []
            _map_refs(node["inputs"], refs.append)
            if all((r[0], r[1]) in outputs for r in refs):
                inputs = _map_refs(node["inputs"], tensor)
                if not refs or not all(isinstance(x, KerasTensor) for x in _flatten(inputs)):
                    raise LayerError(
                        f"functional config: the inputs of layer {layer.name!r} must be "
                        f"[layer, node, tensor] references, got {node['inputs']!r}"
                    )
                outputs[(layer.name, index)] = layer(inputs, *node["args"], **node["kwargs"])
            else:
                waiting.append((layer, index, node))
        if len(waiting) == len(pending):
            names = sorted({layer.name for layer, _, _ in waiting})
            raise LayerError(f"functional config: the inputs of layers {names} are never made")
        pending = waiting
    return {
        "inputs": _map_refs(config["input_layers"], tensor),
        "outputs": _map_refs(config["output_layers"], tensor),
        "name": config.get("name"),
        "trainable": config.get("trainable", True),
    }


def _topological_nodes(inputs: list[KerasTensor], outputs: list[KerasTensor]) -> list[Node]:
    """The nodes between inputs and outputs, each after the nodes it reads (iterative DFS)."""
    order: list[Node] = []
    done: set[int] = set()
    input_nodes = {id(x.node) for x in inputs}
    for out in outputs:
        stack: list[tuple[Node, bool]] = [(out.node, False)]
        while stack:
            node, expanded = stack.pop()
            if id(node) in done:
                continue
            if expanded:
                done.add(id(node))
                order.append(node)
                continue
            stack.append((node, True))
            if id(node) in input_nodes:
                continue
            if isinstance(node.layer, InputLayer):
                raise LayerError(
                    f"the model's outputs depend on input {node.layer.name!r}, which is not "
                    "among the model's inputs"
                )
            # reversed: the first input is visited first, so layers keep the order they read in
            stack.extend((x.node, False) for x in reversed(node.input_tensors))
    return order
