"""Fixtures of the genome tests (make_genes and `build` live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from evonas.genome import SearchSpace

Slot = tuple[int, int]
Pair = tuple[Slot, Slot]


@pytest.fixture
def space3() -> SearchSpace:
    """A small space: 3 levels of up to 3 units, default choices."""
    return SearchSpace(max_levels=3, max_units=3)


def slot_block_indices(space: SearchSpace, level: int, unit: int) -> np.ndarray:
    """Gene indices of one unit slot's crossover block, computed independently
    of genome.operators: the six per-slot genes and all incoming pair bits."""
    layout = space.layout
    slot = level * space.max_units + unit
    idx: list[int] = [
        getattr(layout, name).start + slot
        for name in (
            "neurons",
            "activation",
            "dropout",
            "batchnorm",
            "input_mask",
            "output_mask",
        )
    ]
    idx += [
        layout.skip_mask.start + k
        for k, (_, target) in enumerate(layout.skip_pairs)
        if target == (level, unit)
    ]
    idx += [
        layout.lateral_mask.start + k
        for k, (_, target) in enumerate(layout.lateral_pairs)
        if target == (level, unit)
    ]
    return np.array(sorted(idx), dtype=np.int64)


@pytest.fixture
def slot_block() -> Callable[[SearchSpace, int, int], np.ndarray]:
    """The :func:`slot_block_indices` helper."""
    return slot_block_indices
