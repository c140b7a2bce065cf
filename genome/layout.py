"""Gene layout: named slices of the 1-D ``int64`` genome, derived from a space.

Code reads ``genes[layout.n_units]``, never magic offsets. Blocks, in order:

==============  ==========================  ==========================
block           length (L levels, U units)  values
==============  ==========================  ==========================
n_levels        1                           1..L
n_units         L                           1..U
neurons         L*U                         index into neuron_choices
activation      L*U                         index into activations
dropout         L*U                         index into dropout_choices
batchnorm       L*U                         0/1
input_mask      L*U                         0/1
skip_mask       U*U*L*(L-1)/2               0/1, one bit per skip pair
lateral_mask    L*U*(U-1)/2                 0/1, one bit per lateral pair
output_mask     L*U                         0/1
optimizer       1                           index into optimizers
learning_rate   1                           index into learning_rates
batch_size      1                           index into batch_sizes
weight_decay    1                           index into weight_decays
lr_schedule     1                           index into lr_schedules
label_smoothing 1                           index into label_smoothings
embedding       1                           index into embeddings
n_conv          1 if C else 0               1..C, active conv levels
filters         C                           index into filter_choices
kernel          C                           index into kernel_choices
conv_activation C                           index into activations
conv_dropout    C                           index into dropout_choices
conv_batchnorm  C                           0/1
pooling         C                           index into poolings
conv_skip       (C-1)(C-2)/2                0/1, one bit per conv skip pair
readout         1 if C else 0               index into readouts
==============  ==========================  ==========================

Per-slot blocks hold unit slot ``(l, u)`` at offset ``l*U + u``; per-conv blocks
hold conv level ``c`` at offset ``c``. ``C`` is the space's ``conv_levels``
(image data only): for a table every conv block is empty, so a table's genome
is what it was before conv levels existed.

Example:
    >>> from evonas.genome.space import SearchSpace
    >>> layout = layout_for(SearchSpace())
    >>> layout.size
    228
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from evonas.genome.errors import SpaceError


class SpaceBounds(Protocol):
    """What a layout reads from a space (``genome.space.SearchSpace`` is one; it imports this module)."""

    max_levels: int
    max_units: int
    neuron_choices: tuple[int, ...]
    activations: tuple[str, ...]
    dropout_choices: tuple[float, ...]
    optimizers: tuple[str, ...]
    learning_rates: tuple[float, ...]
    batch_sizes: tuple[int, ...]
    weight_decays: tuple[float, ...]
    lr_schedules: tuple[str, ...]
    label_smoothings: tuple[float, ...]
    embeddings: tuple[str, ...]
    max_conv_levels: int | None
    filter_choices: tuple[int, ...]
    kernel_choices: tuple[int, ...]
    poolings: tuple[str, ...]
    readouts: tuple[str, ...]


UnitPair = tuple[tuple[int, int], tuple[int, int]]

# blocks with one gene per conv level
CONV_LEVEL_BLOCKS: tuple[str, ...] = (
    "filters",
    "kernel",
    "conv_activation",
    "conv_dropout",
    "conv_batchnorm",
    "pooling",
)

BLOCK_NAMES: tuple[str, ...] = (
    "n_levels",
    "n_units",
    "neurons",
    "activation",
    "dropout",
    "batchnorm",
    "input_mask",
    "skip_mask",
    "lateral_mask",
    "output_mask",
    "optimizer",
    "learning_rate",
    "batch_size",
    "weight_decay",
    "lr_schedule",
    "label_smoothing",
    "embedding",
    "n_conv",
    *CONV_LEVEL_BLOCKS,
    "conv_skip",
    "readout",
)


@dataclass(frozen=True, eq=False)
class GeneLayout:
    """Named slices of the 1-D int64 genome, derived from a search space.

    ``low`` and ``high`` are read-only inclusive bounds per gene. Skip pairs
    ``((l1, u1), (l2, u2))`` cover all ``l1 < l2`` and are ordered by
    ``(l2, u2, l1, u1)``; lateral pairs ``((l, u1), (l, u2))`` cover ``u1 < u2``
    and are ordered by ``(l, u2, u1)``: both are grouped by their target slot.
    Conv skip pairs ``(s, t)`` cover ``s < t - 1`` (level ``t - 1`` always feeds
    ``t``) and are ordered by ``(t, s)``.
    """

    n_levels: slice
    n_units: slice
    neurons: slice
    activation: slice
    dropout: slice
    batchnorm: slice
    input_mask: slice
    skip_mask: slice
    lateral_mask: slice
    output_mask: slice
    optimizer: slice
    learning_rate: slice
    batch_size: slice
    weight_decay: slice
    lr_schedule: slice
    label_smoothing: slice
    embedding: slice
    n_conv: slice
    filters: slice
    kernel: slice
    conv_activation: slice
    conv_dropout: slice
    conv_batchnorm: slice
    pooling: slice
    conv_skip: slice
    readout: slice
    size: int
    low: np.ndarray
    high: np.ndarray
    skip_pairs: tuple[UnitPair, ...]
    lateral_pairs: tuple[UnitPair, ...]
    max_levels: int
    max_units: int
    conv_skip_pairs: tuple[tuple[int, int], ...] = ()
    max_conv_levels: int = 0

    def slot(self, level: int, unit: int) -> int:
        """Offset of unit slot ``(level, unit)`` inside a per-slot block."""
        if not (0 <= level < self.max_levels and 0 <= unit < self.max_units):
            raise IndexError(f"unit slot ({level}, {unit}) outside {self.max_levels}x{self.max_units}")
        return level * self.max_units + unit

    def block_names(self) -> tuple[str, ...]:
        """Names of the blocks, in genome order."""
        return BLOCK_NAMES

    def gene_name(self, index: int) -> str:
        """Readable name of gene ``index``, e.g. ``"n_units[2]"`` or ``"skip_mask[L0U1->L2U0]"``."""
        for name in BLOCK_NAMES:
            block: slice = getattr(self, name)
            if block.start <= index < block.stop:
                offset = index - block.start
                if name == "skip_mask":
                    (l1, u1), (l2, u2) = self.skip_pairs[offset]
                    return f"skip_mask[L{l1}U{u1}->L{l2}U{u2}]"
                if name == "lateral_mask":
                    (l1, u1), (l2, u2) = self.lateral_pairs[offset]
                    return f"lateral_mask[L{l1}U{u1}->L{l2}U{u2}]"
                if name == "conv_skip":
                    s, t = self.conv_skip_pairs[offset]
                    return f"conv_skip[C{s}->C{t}]"
                if name in CONV_LEVEL_BLOCKS:
                    return f"{name}[C{offset}]"
                if block.stop - block.start == self.max_levels * self.max_units:
                    level, unit = divmod(offset, self.max_units)
                    return f"{name}[L{level}U{unit}]"
                if name == "n_units":
                    return f"n_units[{offset}]"
                return name
        raise IndexError(f"gene {index} outside a genome of length {self.size}")

    def validate(self, genes: Any) -> np.ndarray:
        """Check a genome against the layout and return it as a new int64 array.

        Integer and boolean arrays are accepted, and float arrays holding whole
        numbers (as read back from some tables).

        Raises:
            SpaceError: wrong shape, non-integer values or a gene out of bounds.
        """
        try:
            arr = np.asarray(genes)
        except (TypeError, ValueError) as exc:
            raise SpaceError(f"genome is not an array of integers: {exc}") from None
        if arr.shape != (self.size,):
            raise SpaceError(f"genome must be a 1-D array of length {self.size}, got shape {arr.shape}")
        if arr.dtype.kind in "iub":
            out = arr.astype(np.int64, copy=True)
        elif arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            out = arr.astype(np.int64)
        else:
            raise SpaceError(f"genome must hold integers, got dtype {arr.dtype}")
        bad = np.flatnonzero((out < self.low) | (out > self.high))
        if bad.size:
            i = int(bad[0])
            raise SpaceError(
                f"gene {i} ({self.gene_name(i)}) = {out[i]} is out of bounds [{self.low[i]}, {self.high[i]}]"
            )
        return out


def layout_for(space: SpaceBounds) -> GeneLayout:
    """The (cached, shared) layout of ``space`` (a :class:`genome.space.SearchSpace`)."""
    if not all(hasattr(space, name) for name in SpaceBounds.__annotations__):
        raise TypeError(f"expected a SearchSpace, got {type(space).__name__}")
    return _cached_layout(space)


@lru_cache(maxsize=64)
def _cached_layout(space: SpaceBounds) -> GeneLayout:
    L, U, C = space.max_levels, space.max_units, space.max_conv_levels or 0
    n_slots = L * U
    conv_skip_pairs = tuple((s, t) for t in range(C) for s in range(t - 1))
    conv = 1 if C else 0
    skip_pairs = tuple(
        ((l1, u1), (l2, u2)) for l2 in range(L) for u2 in range(U) for l1 in range(l2) for u1 in range(U)
    )
    lateral_pairs = tuple(
        ((level, u1), (level, u2)) for level in range(L) for u2 in range(U) for u1 in range(u2)
    )
    # (name, length, low, high) in genome order
    spec = [
        ("n_levels", 1, 1, L),
        ("n_units", L, 1, U),
        ("neurons", n_slots, 0, len(space.neuron_choices) - 1),
        ("activation", n_slots, 0, len(space.activations) - 1),
        ("dropout", n_slots, 0, len(space.dropout_choices) - 1),
        ("batchnorm", n_slots, 0, 1),
        ("input_mask", n_slots, 0, 1),
        ("skip_mask", len(skip_pairs), 0, 1),
        ("lateral_mask", len(lateral_pairs), 0, 1),
        ("output_mask", n_slots, 0, 1),
        ("optimizer", 1, 0, len(space.optimizers) - 1),
        ("learning_rate", 1, 0, len(space.learning_rates) - 1),
        ("batch_size", 1, 0, len(space.batch_sizes) - 1),
        ("weight_decay", 1, 0, len(space.weight_decays) - 1),
        ("lr_schedule", 1, 0, len(space.lr_schedules) - 1),
        ("label_smoothing", 1, 0, len(space.label_smoothings) - 1),
        ("embedding", 1, 0, len(space.embeddings) - 1),
        ("n_conv", conv, 1, C),
        ("filters", C, 0, len(space.filter_choices) - 1),
        ("kernel", C, 0, len(space.kernel_choices) - 1),
        ("conv_activation", C, 0, len(space.activations) - 1),
        ("conv_dropout", C, 0, len(space.dropout_choices) - 1),
        ("conv_batchnorm", C, 0, 1),
        ("pooling", C, 0, len(space.poolings) - 1),
        ("conv_skip", len(conv_skip_pairs), 0, 1),
        ("readout", conv, 0, len(space.readouts) - 1),
    ]
    assert tuple(name for name, *_ in spec) == BLOCK_NAMES
    slices: dict[str, slice] = {}
    lows: list[np.ndarray] = []
    highs: list[np.ndarray] = []
    start = 0
    for name, length, low, high in spec:
        slices[name] = slice(start, start + length)
        lows.append(np.full(length, low, dtype=np.int64))
        highs.append(np.full(length, high, dtype=np.int64))
        start += length
    low_arr = np.concatenate(lows)
    high_arr = np.concatenate(highs)
    low_arr.setflags(write=False)
    high_arr.setflags(write=False)
    return GeneLayout(
        **slices,
        size=start,
        low=low_arr,
        high=high_arr,
        skip_pairs=skip_pairs,
        lateral_pairs=lateral_pairs,
        max_levels=L,
        max_units=U,
        conv_skip_pairs=conv_skip_pairs,
        max_conv_levels=C,
    )
