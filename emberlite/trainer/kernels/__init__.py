"""Fast kernels for the trainer's primitives; the NumPy kernels in `ops` are the reference.

`cuda` holds the numba CUDA kernels (imported by the GPU backend on first use).
"""
