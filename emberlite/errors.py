"""The errors emberlite raises at its users.

Every failure a user can cause (a bad file, a bad argument, an unsupported op) is an
`EmberliteError`; the CLI prints its message on one line and exits non-zero.  Messages name
the file, node or tensor at fault.
"""


class EmberliteError(Exception):
    """Base class of every user-facing emberlite failure."""


class ModelFormatError(EmberliteError):
    """A model file is truncated, corrupt, hostile, or not a TFLite FlatBuffer."""


class ModelWriteError(EmberliteError):
    """An object model cannot be written as a TFLite FlatBuffer."""


class ModelFetchError(EmberliteError):
    """A test model could not be downloaded or did not match its pinned checksum."""


class InterpreterStateError(EmberliteError, RuntimeError):
    """An interpreter call made in the wrong state (invoke before allocate_tensors, ...)."""


class TensorValueError(EmberliteError, ValueError):
    """A bad tensor index or name, or a value of the wrong dtype or shape."""
