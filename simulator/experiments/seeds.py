"""Random seeds of replicates (common random numbers across the variants of a scenario)."""

from __future__ import annotations

import numpy as np


def replicate_seed(seed: int, replicate: int) -> np.random.SeedSequence:
    """Seed of replicate ``k``: the same for every variant of a scenario (common random numbers)."""
    return np.random.SeedSequence(entropy=seed, spawn_key=(replicate,))
