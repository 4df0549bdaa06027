"""Random streams: one seed in the parameters, one independent stream per named purpose."""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, purpose: str) -> np.random.Generator:
    """A generator for one purpose (e.g. ``"pseudo_starts"``), derived from the run's seed.

    Streams for different purposes are independent (``SeedSequence`` entropy ``[seed, crc32]``)
    and the same seed and purpose always give the same draws, whatever ran before.
    """
    return np.random.default_rng([int(seed), zlib.crc32(purpose.encode("utf-8"))])
