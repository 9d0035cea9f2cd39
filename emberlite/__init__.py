"""emberlite: train on the desktop, convert to TFLite FlatBuffers, run on the edge."""

from emberlite.errors import EmberliteError

__version__ = "0.1.0"
__all__ = ["EmberliteError", "__version__"]
