"""The interpreter: tflite_runtime's Python API over emberlite's kernels.

>>> from emberlite.interpreter import Interpreter
>>> interpreter = Interpreter(model_path="model.tflite")    # doctest: +SKIP
>>> interpreter.allocate_tensors()                         # doctest: +SKIP
"""

from emberlite.interpreter.interpreter import Interpreter, OpResolverType
from emberlite.interpreter.signature import SignatureRunner

__all__ = ["Interpreter", "OpResolverType", "SignatureRunner"]
