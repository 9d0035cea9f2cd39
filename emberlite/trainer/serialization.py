"""Objects as `{"class_name": ..., "config": {...}}` and back (Keras's serialize/deserialize).

Layers, models, initializers, regularizers, optimizers, losses and metrics register their
classes here.  emberlite's own classes go by their class name ("Dense"); a user's class goes
by `module.QualName` so it can never shadow a built-in one.  Subclasses of `Layer` register
themselves when defined; other user classes use `@register_serializable()`, or are passed
to `deserialize(..., custom_objects={...})` / `load(..., custom_objects=...)`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from emberlite.errors import EmberliteError

_REGISTRY: dict[str, type] = {}


class SerializationError(EmberliteError, ValueError):
    """A config names a class that is not known, or does not fit its class."""


def registered_name(cls: type) -> str:
    if cls.__module__.startswith("emberlite."):
        return cls.__name__
    return f"{cls.__module__}.{cls.__qualname__}"


def register_serializable(name: str | None = None) -> Callable[[type], type]:
    """Class decorator: `deserialize` can rebuild instances of this class from its config."""

    def decorate(cls: type) -> type:
        _REGISTRY[name or registered_name(cls)] = cls
        return cls

    return decorate


def serialize(obj: Any) -> Any:
    """`obj` as JSON-able data: a class name and its `get_config()`."""
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    if not hasattr(obj, "get_config"):
        raise SerializationError(
            f"cannot serialize {obj!r}: it has no get_config() (give it one, or use a "
            "built-in by name)"
        )
    return {"class_name": registered_name(type(obj)), "config": obj.get_config()}


_scope = threading.local()


@contextlib.contextmanager
def custom_object_scope(custom_objects: dict[str, Any] | None) -> Iterator[None]:
    """Within the block, `deserialize` also knows these classes (Keras's scope of that name)."""
    previous = getattr(_scope, "objects", {})
    _scope.objects = {**previous, **(custom_objects or {})}
    try:
        yield
    finally:
        _scope.objects = previous


def deserialize(
    config: Any, custom_objects: dict[str, Any] | None = None, what: str = "object"
) -> Any:
    """Rebuild what `serialize` wrote; `custom_objects` maps class names to classes."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise SerializationError(f"a serialized {what} needs a 'class_name', got {config!r}")
    name = config["class_name"]
    with custom_object_scope(custom_objects):
        cls = _scope.objects.get(name) or _REGISTRY.get(name)
        if cls is None:
            raise SerializationError(
                f"unknown {what} class {name!r}: import the module that defines it, or pass "
                f"custom_objects={{{name!r}: ...}}"
            )
        try:
            return cls.from_config(config.get("config", {}))
        except TypeError as e:
            raise SerializationError(
                f"cannot rebuild {what} {name!r} from its config: {e}"
            ) from None


class Serializable:
    """Mixin: `from_config` calls the constructor with the config (override when it cannot)."""

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} must define get_config()")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        return cls(**config)


def resolve(identifier: Any, by_name: dict[str, Any], what: str) -> Any:
    """Keras's `get(identifier)`: a name from `by_name` (case and '_' insensitive: "adam",
    "Adam", "sparse_categorical_crossentropy"), a serialized config, or the object itself."""
    if isinstance(identifier, str):
        key = identifier.replace("_", "").lower()
        table = {name.replace("_", "").lower(): value for name, value in by_name.items()}
        if key not in table:
            known = ", ".join(sorted(by_name))
            raise SerializationError(f"unknown {what} {identifier!r}; known: {known}")
        found = table[key]
        return found() if isinstance(found, type) else found
    if isinstance(identifier, dict):
        return deserialize(identifier, what=what)
    return identifier


# -- functions in configs -------------------------------------------------------------------------


def serialize_function(fn: Callable, builtins: dict[str, Callable]) -> str:
    """A function's name for a config: built-ins by name, others as `register_serializable`
    names them (they must be registered, or given as custom_objects, to be read back)."""
    if builtins.get(getattr(fn, "__name__", None)) is fn:
        return fn.__name__
    return registered_name(fn)


def deserialize_function(name: str, builtins: dict[str, Callable], what: str) -> Callable:
    """The function `serialize_function` named: a built-in, a custom object or a registered
    one."""
    fn = builtins.get(name) or getattr(_scope, "objects", {}).get(name) or _REGISTRY.get(name)
    if fn is None:
        raise SerializationError(
            f"unknown {what} function {name!r}: register it with register_serializable(), or "
            f"pass custom_objects={{{name!r}: ...}}"
        )
    return fn


# -- a module's get / serialize / deserialize -----------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    """The built-ins of one kind of object that also comes as a plain function (losses,
    metrics), behind its module's `get`, `serialize` and `deserialize`."""

    what: str  # "loss", "metric": for messages
    base: type  # the kind's base class
    classes: dict[str, type]  # built-in classes, by class name
    functions: dict[str, Callable]  # built-in functions, by name
    by_name: dict[str, type]  # the names `get` knows (see `resolve`)
    error: type[Exception]  # what `get` raises for what it cannot interpret

    def get(self, identifier: Any) -> Any:
        """Keras's `get`: a name (a new instance of that class), a serialized config, a class
        (instantiated), or an instance or function (as it is)."""
        if identifier is None:
            return None
        if isinstance(identifier, dict):
            return self.deserialize(identifier)
        if isinstance(identifier, type) and issubclass(identifier, self.base):
            return identifier()
        found = resolve(identifier, self.by_name, self.what)
        if not callable(found):
            raise self.error(f"could not interpret {self.what} identifier {identifier!r}")
        return found

    def serialize(self, obj: Any) -> Any:
        """An instance as {"class_name", "config"}; a function as its name."""
        if callable(obj) and not isinstance(obj, self.base):
            return serialize_function(obj, self.functions)
        return serialize(obj)

    def deserialize(self, config: Any, custom_objects: dict[str, Any] | None = None) -> Any:
        """What `serialize` wrote: a name (a function, else as `get`) or a config."""
        if isinstance(config, str):
            return self.functions.get(config) or self.get(config)
        if isinstance(config, dict) and config.get("class_name") in self.classes:
            with custom_object_scope(custom_objects):
                return self.classes[config["class_name"]].from_config(config.get("config", {}))
        return deserialize(config, custom_objects, what=self.what)
