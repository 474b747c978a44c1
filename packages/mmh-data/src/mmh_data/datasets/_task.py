"""Units of generation work: one task per structure family, one chunk file per task."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Task:
    """One structure family of one dataset, generated and labelled by one worker.

    Attributes:
        dataset: Dataset name (``bulk``, ``surf``, ``mol``, ``mol-base``).
        key: Unique key of the task inside the dataset (also its chunk file name).
        family: Structure-family id used for the train/valid/test split.
        params: Builder-specific parameters (plain, picklable values).
        seed: Global generation seed.
    """

    dataset: str
    key: str
    family: str
    params: dict = field(default_factory=dict, hash=False, compare=False)
    seed: int = 0

    def rng(self, stream: str = "") -> np.random.Generator:
        """A generator that depends only on the seed, the dataset, the key and ``stream``."""
        words = [self.seed, zlib.crc32(f"{self.dataset}/{self.key}/{stream}".encode())]
        return np.random.default_rng(np.random.SeedSequence(words))
