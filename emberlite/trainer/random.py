"""The process's random numbers: `set_random_seed` (keras.utils.set_random_seed) and the
generator that initializers without a seed draw from.

    >>> from emberlite.trainer import initializers, random
    >>> random.set_random_seed(7)
    >>> first = initializers.GlorotUniform()((2, 2))
    >>> random.set_random_seed(7)
    >>> bool((initializers.GlorotUniform()((2, 2)) == first).all())
    True
"""

from __future__ import annotations

import random as _python_random

import numpy as np

from emberlite.errors import EmberliteError

_generator = np.random.default_rng()


def generator() -> np.random.Generator:
    """The process generator (initializers without a seed draw from it)."""
    return _generator


def set_random_seed(seed: int) -> None:
    """Seed everything random in one call, as keras.utils.set_random_seed: the process
    generator, the ops' random draws (dropout masks), Python's `random` and `np.random`."""
    from emberlite.trainer.ops import nn_ops

    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise EmberliteError(f"set_random_seed: seed must be a non-negative int, got {seed!r}")
    seed = int(seed)
    _python_random.seed(seed)
    np.random.seed(seed % 2**32)
    # NOTE: the ops draw from a generator of their own, so that building or loading a model
    # (which initializes weights) does not shift the dropout masks of a training run; the two
    # get independent streams of one seed.
    streams = np.random.SeedSequence(seed).spawn(2)
    for rng, stream in zip((_generator, nn_ops._default_rng), streams, strict=True):
        # in place, so every holder of the generator sees the new stream
        rng.bit_generator.state = np.random.default_rng(stream).bit_generator.state
