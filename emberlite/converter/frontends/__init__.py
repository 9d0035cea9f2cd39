"""Front ends: each reads one source format into the converter's IR.

A front end is `load(path, *, signature=None) -> ir.Graph` (TFLite builtin ops, NHWC, float32);
`bundle` reads trainer bundles, `onnx` reads ONNX files.
"""
