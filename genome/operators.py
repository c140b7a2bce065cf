"""Genetic operators: pure functions on int64 genomes with an explicit RNG.

Every operator validates its inputs against the space, never changes them,
and returns new ``int64`` arrays within the layout's bounds.

Example:
    >>> import numpy as np
    >>> space, rng = SearchSpace(), np.random.default_rng(7)
    >>> a, b = random_genome(space, rng), random_genome(space, rng)
    >>> c1, c2 = crossover_unit_blocks(space, a, b, rng)
    >>> child = mutate_effective(space, c1, rng)
    >>> decode(space, child).key != decode(space, c1).key
    True
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from evonas.genome.decode import decode
from evonas.genome.layout import CONV_LEVEL_BLOCKS, GeneLayout
from evonas.genome.space import SearchSpace

MutationFn = Callable[[SearchSpace, np.ndarray, np.random.Generator], "np.ndarray | None"]

_SLOT_BLOCKS = (
    "neurons",
    "activation",
    "dropout",
    "batchnorm",
    "input_mask",
    "output_mask",
)


def random_genome(space: SearchSpace, rng: np.random.Generator) -> np.ndarray:
    """A random genome: counts and indexes uniform within bounds; each connection,
    input and output bit is 1 with probability ``space.connection_probability``.

    Batch-norm bits are drawn uniformly (they are unit settings, not connections).
    """
    layout = space.layout
    genes = rng.integers(layout.low, layout.high, endpoint=True, dtype=np.int64)
    p = space.connection_probability
    for name in ("input_mask", "skip_mask", "lateral_mask", "output_mask", "conv_skip"):
        block: slice = getattr(layout, name)
        genes[block] = rng.random(block.stop - block.start) < p
    return genes


def crossover_unit_blocks(
    space: SearchSpace, a: np.ndarray, b: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Unit-block crossover.

    For each unit slot a fair coin decides which parent gives child 1 the
    slot's whole block (neurons, activation, dropout, batchnorm, input and
    output bits, and every skip/lateral bit whose target is the slot); child 2
    takes the other parent's block. A conv level is a block too (filters,
    kernel, activation, dropout, batchnorm, pooling and the conv skip bits into
    it). ``n_levels``, each ``n_units[l]``, ``n_conv``, the readout and the
    training genes are swapped gene-wise with probability 0.5.
    """
    layout = space.layout
    a, b = layout.validate(a), layout.validate(b)
    owner = _slot_owner(layout)
    slot_coins = rng.random(layout.max_levels * layout.max_units + layout.max_conv_levels) < 0.5
    gene_coins = rng.random(layout.size) < 0.5
    from_b = np.where(owner >= 0, slot_coins[np.maximum(owner, 0)], gene_coins)
    return np.where(from_b, b, a), np.where(from_b, a, b)


def crossover_two_point(
    space: SearchSpace, a: np.ndarray, b: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Classic two-point crossover on the flat arrays: the children swap
    ``[i, j)`` for two distinct cut points ``0 < i < j < size``."""
    layout = space.layout
    a, b = layout.validate(a), layout.validate(b)
    i, j = sorted(int(x) for x in rng.choice(np.arange(1, layout.size), size=2, replace=False))
    c1, c2 = a.copy(), b.copy()
    c1[i:j], c2[i:j] = b[i:j], a[i:j]
    return c1, c2


def mutate_effective(
    space: SearchSpace, genes: np.ndarray, rng: np.random.Generator, max_tries: int = 50
) -> np.ndarray:
    """One mutation that changes the decoded network or its training.

    Each try picks a kind from :func:`mutation_kinds` of the space uniformly, applies it to
    a fresh copy of the parent and keeps it if ``decode(...).key`` differs from
    the parent's. A kind that does not apply (e.g. a lateral flip with one
    unit per level) counts as a failed try. After ``max_tries`` failures
    (only likely in degenerate spaces where almost nothing can change) the
    last attempted genome is returned, which decodes like the parent; if no
    kind applied at all, that is a copy of the parent.

    Raises:
        ValueError: ``max_tries`` is below 1.
    """
    if max_tries < 1:
        raise ValueError(f"max_tries must be >= 1, got {max_tries}")
    parent = space.layout.validate(genes)
    parent_key = decode(space, parent).key
    kinds = mutation_kinds(space)
    last = parent.copy()
    for _ in range(max_tries):
        kind = kinds[int(rng.integers(len(kinds)))]
        child = _ALL_MUTATIONS[kind](space, parent.copy(), rng)
        if child is None:
            continue
        last = child
        if decode(space, child).key != parent_key:
            return child
    return last


def mutation_kinds(space: SearchSpace | None = None) -> tuple[str, ...]:
    """Names of the mutation kinds :func:`mutate_effective` uses on ``space``.

    The conv kinds come only with a space that has conv levels (image data), so
    a table search draws its mutations as it did before they existed.
    """
    if space is not None and space.conv_levels:
        return tuple(_MUTATIONS) + tuple(_CONV_MUTATIONS)
    return tuple(_MUTATIONS)


# --- helpers -----------------------------------------------------------------


@lru_cache(maxsize=64)
def _slot_owner(layout: GeneLayout) -> np.ndarray:
    """Per gene, the unit slot whose block holds it, or -1 for global genes."""
    owner = np.full(layout.size, -1, dtype=np.int64)
    n_slots = layout.max_levels * layout.max_units
    for name in _SLOT_BLOCKS:
        block: slice = getattr(layout, name)
        owner[block] = np.arange(n_slots)
    for pairs, block in (
        (layout.skip_pairs, layout.skip_mask),
        (layout.lateral_pairs, layout.lateral_mask),
    ):
        owner[block] = [layout.slot(*target) for _, target in pairs]
    for name in CONV_LEVEL_BLOCKS:  # conv level c is block n_slots + c
        block = getattr(layout, name)
        owner[block] = n_slots + np.arange(layout.max_conv_levels)
    owner[layout.conv_skip] = [n_slots + target for _, target in layout.conv_skip_pairs]
    owner.setflags(write=False)
    return owner


def _active(space: SearchSpace, g: np.ndarray) -> list[tuple[int, int]]:
    layout = space.layout
    n_levels = int(g[layout.n_levels][0])
    n_units = g[layout.n_units]
    return [(level, u) for level in range(n_levels) for u in range(int(n_units[level]))]


def _step(g: np.ndarray, index: int, low: int, high: int, rng: np.random.Generator) -> bool:
    """Move gene ``index`` one step up or down within ``[low, high]``; False if stuck."""
    moves = [d for d in (-1, 1) if low <= g[index] + d <= high]
    if not moves:
        return False
    g[index] += moves[int(rng.integers(len(moves)))]
    return True


def _step_gene(block: str) -> MutationFn:
    """Mutation that steps a length-1 block (n_levels, learning_rate, batch_size, weight_decay...)."""

    def mutate(space: SearchSpace, g: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        layout = space.layout
        i = getattr(layout, block).start
        return g if _step(g, i, int(layout.low[i]), int(layout.high[i]), rng) else None

    return mutate


def _step_slot(block: str) -> MutationFn:
    """Mutation that steps one active unit's index gene (neurons, dropout)."""

    def mutate(space: SearchSpace, g: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        layout = space.layout
        slots = _active(space, g)
        uid = slots[int(rng.integers(len(slots)))]
        i = getattr(layout, block).start + layout.slot(*uid)
        return g if _step(g, i, int(layout.low[i]), int(layout.high[i]), rng) else None

    return mutate


def _change_choice(block: str, per_slot: bool) -> MutationFn:
    """Mutation that sets a categorical gene (activation, optimizer) to another value."""

    def mutate(space: SearchSpace, g: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        layout = space.layout
        i = getattr(layout, block).start
        if per_slot:
            slots = _active(space, g)
            i += layout.slot(*slots[int(rng.integers(len(slots)))])
        return _set_other(layout, g, i, rng)

    return mutate


def _set_other(layout: GeneLayout, g: np.ndarray, i: int, rng: np.random.Generator) -> np.ndarray | None:
    """Set the categorical gene ``i`` to another of its values; None if it has no other."""
    others = [v for v in range(int(layout.high[i]) + 1) if v != g[i]]
    if not others:
        return None
    g[i] = others[int(rng.integers(len(others)))]
    return g


def _mutate_n_units(space: SearchSpace, g: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    layout = space.layout
    level = int(rng.integers(int(g[layout.n_levels][0])))
    i = layout.n_units.start + level
    return g if _step(g, i, 1, layout.max_units, rng) else None


def _flip_slot_bit(block: str, wanted: Callable[[tuple[int, int], int], bool]) -> MutationFn:
    """Mutation that flips a per-slot bit of an active unit for which ``wanted``
    holds (given the unit id and the number of active levels)."""

    def mutate(space: SearchSpace, g: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        layout = space.layout
        n_levels = int(g[layout.n_levels][0])
        slots = [uid for uid in _active(space, g) if wanted(uid, n_levels)]
        if not slots:
            return None
        i = getattr(layout, block).start + layout.slot(*slots[int(rng.integers(len(slots)))])
        g[i] = 1 - g[i]
        return g

    return mutate


def _flip_pair_bit(kind: str) -> MutationFn:
    """Mutation that flips a skip or lateral bit between two active slots."""

    def mutate(space: SearchSpace, g: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        layout = space.layout
        pairs = layout.skip_pairs if kind == "skip" else layout.lateral_pairs
        block: slice = layout.skip_mask if kind == "skip" else layout.lateral_mask
        active = set(_active(space, g))
        candidates = [k for k, (s, t) in enumerate(pairs) if s in active and t in active]
        if not candidates:
            return None
        i = block.start + candidates[int(rng.integers(len(candidates)))]
        g[i] = 1 - g[i]
        return g

    return mutate


def _conv_gene(layout: GeneLayout, block: str, g: np.ndarray, rng: np.random.Generator) -> int:
    """Index of ``block``'s gene of one active conv level, drawn uniformly."""
    return getattr(layout, block).start + int(rng.integers(int(g[layout.n_conv][0])))


def _step_conv(block: str) -> MutationFn:
    """Mutation that steps one active conv level's index gene (filters, kernel, dropout)."""

    def mutate(space: SearchSpace, g: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        layout = space.layout
        i = _conv_gene(layout, block, g, rng)
        return g if _step(g, i, int(layout.low[i]), int(layout.high[i]), rng) else None

    return mutate


def _change_conv(block: str) -> MutationFn:
    """Mutation that sets one active conv level's categorical gene (activation, pooling) to another value."""

    def mutate(space: SearchSpace, g: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        return _set_other(space.layout, g, _conv_gene(space.layout, block, g, rng), rng)

    return mutate


def _flip_conv_batchnorm(space: SearchSpace, g: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    i = _conv_gene(space.layout, "conv_batchnorm", g, rng)
    g[i] = 1 - g[i]
    return g


def _flip_conv_skip(space: SearchSpace, g: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    layout = space.layout
    n_conv = int(g[layout.n_conv][0])
    candidates = [k for k, (_, t) in enumerate(layout.conv_skip_pairs) if t < n_conv]
    if not candidates:
        return None
    i = layout.conv_skip.start + candidates[int(rng.integers(len(candidates)))]
    g[i] = 1 - g[i]
    return g


_MUTATIONS: dict[str, MutationFn] = {
    "n_levels": _step_gene("n_levels"),
    "n_units": _mutate_n_units,
    "neurons": _step_slot("neurons"),
    "activation": _change_choice("activation", per_slot=True),
    "dropout": _step_slot("dropout"),
    "batchnorm": _flip_slot_bit("batchnorm", lambda uid, n: True),
    # level-0 units always read the input and last-level units always feed
    # the output head, so those bits would change nothing
    "input_bit": _flip_slot_bit("input_mask", lambda uid, n: uid[0] > 0),
    "output_bit": _flip_slot_bit("output_mask", lambda uid, n: uid[0] < n - 1),
    "skip_bit": _flip_pair_bit("skip"),
    "lateral_bit": _flip_pair_bit("lateral"),
    "optimizer": _change_choice("optimizer", per_slot=False),
    "learning_rate": _step_gene("learning_rate"),
    "batch_size": _step_gene("batch_size"),
    "weight_decay": _step_gene("weight_decay"),
    "lr_schedule": _change_choice("lr_schedule", per_slot=False),
    "label_smoothing": _step_gene("label_smoothing"),
    "embedding": _change_choice("embedding", per_slot=False),
}

# the kinds of a space with conv levels (image data), after the others
_CONV_MUTATIONS: dict[str, MutationFn] = {
    "n_conv": _step_gene("n_conv"),
    "filters": _step_conv("filters"),
    "kernel": _step_conv("kernel"),
    "conv_activation": _change_conv("conv_activation"),
    "conv_dropout": _step_conv("conv_dropout"),
    "conv_batchnorm": _flip_conv_batchnorm,
    "pooling": _change_conv("pooling"),
    "conv_skip": _flip_conv_skip,
    "readout": _change_choice("readout", per_slot=False),
}
_ALL_MUTATIONS: dict[str, MutationFn] = {**_MUTATIONS, **_CONV_MUTATIONS}
