"""`FunctionWrapper`: what `LossFunctionWrapper` and `MeanMetricWrapper` share.

Both compute `fn(y_true, y_pred, **fn_kwargs)`.  The class that mixes `FunctionWrapper` in
takes any function and writes its name into configs.  A built-in subclass fixes its function
with class keywords, and gets a constructor of Keras's signature: the function's keyword
arguments (with its defaults) and the wrapper's own (name, ...), which default to the
wrapper's defaults, the name to the function's:

    class Huber(LossFunctionWrapper, fn=huber, name="huber_loss"): ...
    # Huber(delta=1.0, reduction="sum_over_batch_size", name="huber_loss")

`arguments` lists the constructor's arguments, in order, where Keras takes only some of the
function's or orders them otherwise.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar

from emberlite.trainer.serialization import deserialize_function, serialize_function

_ARGUMENT = inspect.Parameter.POSITIONAL_OR_KEYWORD


class FunctionWrapper:
    """Mixin: the config of a wrapper (see the module docstring); first among the bases."""

    fn: Callable[..., Any]
    fn_kwargs: dict[str, Any]
    what: ClassVar[str]  # "loss", "metric": for messages
    # Built-in subclasses take the wrapper's own arguments before the function's (metrics)
    # or after them (losses), as Keras does.
    own_arguments_first: ClassVar[bool]

    @classmethod
    def builtin_functions(cls) -> dict[str, Callable[..., Any]]:
        """The built-in functions, known by name in configs."""
        raise NotImplementedError(f"{cls.__name__} must define builtin_functions()")

    def __init_subclass__(
        cls,
        fn: Callable[..., Any] | None = None,
        name: str | None = None,
        arguments: tuple[str, ...] | None = None,
        **kwargs: Any,
    ):
        super().__init_subclass__(**kwargs)
        if fn is not None:
            cls.__init__ = _fixed_function_init(cls, fn, name or fn.__name__, arguments)

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), **self.fn_kwargs}
        if _takes_any_function(type(self)):
            config["fn"] = serialize_function(self.fn, self.builtin_functions())
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        if _takes_any_function(cls):
            fn = deserialize_function(config["fn"], cls.builtin_functions(), cls.what)
            config = {**config, "fn": fn}
        return cls(**config)


def _takes_any_function(cls: type) -> bool:
    """Whether `cls` is the wrapper itself (its subclasses fix their function)."""
    return FunctionWrapper in cls.__bases__


def _fixed_function_init(
    cls: type, fn: Callable[..., Any], name: str, arguments: tuple[str, ...] | None
) -> Callable[..., None]:
    """`cls.__init__` for a wrapper of `fn` (see the module docstring)."""
    wrapper = next(c for c in cls.__mro__ if _takes_any_function(c))
    own = {
        p.name: p.default
        for p in inspect.signature(wrapper.__init__).parameters.values()
        if p.kind is _ARGUMENT and p.name not in ("self", "fn")
    }
    own["name"] = name
    # the function's arguments after (y_true, y_pred)
    taken = {p.name: p.default for p in list(inspect.signature(fn).parameters.values())[2:]}
    defaults = {**own, **taken} if cls.own_arguments_first else {**taken, **own}
    if arguments is not None:
        defaults = {argument: defaults[argument] for argument in arguments}
    signature = inspect.Signature(
        [
            inspect.Parameter("self", _ARGUMENT),
            *(inspect.Parameter(arg, _ARGUMENT, default=d) for arg, d in defaults.items()),
        ]
    )

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{cls.__name__}(): {e}") from None
        bound.apply_defaults()
        values = {arg: value for arg, value in bound.arguments.items() if arg != "self"}
        own_values = {arg: values.pop(arg) for arg in own if arg in values}
        wrapper.__init__(self, fn, **own_values, **values)

    __init__.__signature__ = signature
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__
