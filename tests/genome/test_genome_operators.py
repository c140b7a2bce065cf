"""Operators: shape, dtype, bounds, inputs unchanged, determinism, semantics."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from evonas.genome import (
    SearchSpace,
    crossover_two_point,
    crossover_unit_blocks,
    decode,
    mutate_effective,
    mutation_kinds,
    random_genome,
)

SPACES = {
    "default": SearchSpace(),
    "tiny": SearchSpace(max_levels=1, max_units=1),
    "wide": SearchSpace(max_levels=2, max_units=5, neuron_choices=(8, 16)),
    "deep": SearchSpace(max_levels=6, max_units=2),
    "images": SearchSpace(max_levels=2, max_units=2, max_conv_levels=4),
}

Crossover = Callable[..., tuple[np.ndarray, np.ndarray]]
CROSSOVERS = {"unit_blocks": crossover_unit_blocks, "two_point": crossover_two_point}


def within_bounds(space: SearchSpace, genes: np.ndarray) -> bool:
    layout = space.layout
    return (
        genes.shape == (layout.size,)
        and genes.dtype == np.int64
        and bool(np.all(genes >= layout.low))
        and bool(np.all(genes <= layout.high))
    )


def parents(space: SearchSpace, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return random_genome(space, rng), random_genome(space, rng)


# --- random_genome -------------------------------------------------------------


@pytest.mark.parametrize("name", SPACES)
def test_random_genome_shape_bounds_determinism(name: str) -> None:
    space = SPACES[name]
    genomes = [random_genome(space, np.random.default_rng(seed)) for seed in range(30)]
    assert all(within_bounds(space, g) for g in genomes)
    again = random_genome(space, np.random.default_rng(0))
    assert np.array_equal(genomes[0], again)
    assert len({g.tobytes() for g in genomes}) == len(genomes)


def test_random_genome_covers_the_bounds() -> None:
    space = SearchSpace()
    layout = space.layout
    genomes = np.stack([random_genome(space, np.random.default_rng(s)) for s in range(300)])
    for name in ("n_levels", "n_units", "neurons", "activation", "optimizer", "batch_size"):
        block = getattr(layout, name)
        values = genomes[:, block]
        assert values.min() == layout.low[block].min(), name
        assert values.max() == layout.high[block].max(), name


@pytest.mark.parametrize("p", [0.0, 0.2, 1.0])
def test_connection_probability(p: float) -> None:
    space = SearchSpace(connection_probability=p)
    layout = space.layout
    genomes = np.stack([random_genome(space, np.random.default_rng(s)) for s in range(50)])
    for name in ("input_mask", "skip_mask", "lateral_mask", "output_mask"):
        bits = genomes[:, getattr(layout, name)]
        assert abs(bits.mean() - p) < 0.05, name


# --- crossover -----------------------------------------------------------------


@pytest.mark.parametrize("space_name", SPACES)
@pytest.mark.parametrize("cx_name", CROSSOVERS)
def test_crossover_contract(space_name: str, cx_name: str) -> None:
    space, crossover = SPACES[space_name], CROSSOVERS[cx_name]
    for seed in range(10):
        a, b = parents(space, seed)
        a_copy, b_copy = a.copy(), b.copy()
        c1, c2 = crossover(space, a, b, np.random.default_rng(seed))
        assert np.array_equal(a, a_copy) and np.array_equal(b, b_copy)
        assert within_bounds(space, c1) and within_bounds(space, c2)
        assert c1 is not a and c1.base is not a and c2.base is not b
        # the children together hold the parents' genes, position by position
        assert np.array_equal(np.minimum(c1, c2), np.minimum(a, b))
        assert np.array_equal(np.maximum(c1, c2), np.maximum(a, b))
        d1, d2 = crossover(space, a, b, np.random.default_rng(seed))
        assert np.array_equal(c1, d1) and np.array_equal(c2, d2)


@pytest.mark.parametrize("cx_name", CROSSOVERS)
def test_crossover_seeds_differ(cx_name: str) -> None:
    space = SearchSpace()
    layout = space.layout
    a, b = layout.low.copy(), layout.high.copy()  # differ at every gene
    children = {CROSSOVERS[cx_name](space, a, b, np.random.default_rng(s))[0].tobytes() for s in range(20)}
    assert len(children) > 15


def test_crossover_unit_blocks_keeps_blocks_whole(
    slot_block: Callable[[SearchSpace, int, int], np.ndarray],
) -> None:
    space = SearchSpace()
    layout = space.layout
    a, b = layout.low.copy(), layout.high.copy()  # every gene tells its parent
    owned = np.zeros(layout.size, dtype=bool)
    mixed_children = 0
    for seed in range(20):
        c1, c2 = crossover_unit_blocks(space, a, b, np.random.default_rng(seed))
        sources = []
        for level in range(space.max_levels):
            for unit in range(space.max_units):
                idx = slot_block(space, level, unit)
                owned[idx] = True
                from_a = np.array_equal(c1[idx], a[idx])
                from_b = np.array_equal(c1[idx], b[idx])
                assert from_a != from_b, (seed, level, unit)
                # child 2 takes the other parent's block
                assert np.array_equal(c2[idx], b[idx] if from_a else a[idx])
                sources.append(from_a)
        mixed_children += len(set(sources)) == 2
    assert mixed_children >= 18
    # everything outside the unit blocks is the structural and training genes
    free = np.flatnonzero(~owned)
    expected = [
        layout.n_levels.start,
        *range(layout.n_units.start, layout.n_units.stop),
        layout.optimizer.start,
        layout.learning_rate.start,
        layout.batch_size.start,
        layout.weight_decay.start,
        layout.lr_schedule.start,
        layout.label_smoothing.start,
        layout.embedding.start,
    ]
    assert free.tolist() == expected


def test_crossover_unit_blocks_random_parents(
    slot_block: Callable[[SearchSpace, int, int], np.ndarray],
) -> None:
    space = SearchSpace(max_levels=3, max_units=3)
    for seed in range(20):
        a, b = parents(space, seed)
        c1, _ = crossover_unit_blocks(space, a, b, np.random.default_rng(seed))
        for level in range(3):
            for unit in range(3):
                idx = slot_block(space, level, unit)
                assert np.array_equal(c1[idx], a[idx]) or np.array_equal(c1[idx], b[idx])


def test_crossover_unit_blocks_swaps_structural_genes_genewise() -> None:
    space = SearchSpace()
    layout = space.layout
    a, b = layout.low.copy(), layout.high.copy()
    picks = (
        np.stack(
            [
                crossover_unit_blocks(space, a, b, np.random.default_rng(s))[0][layout.n_units]
                for s in range(200)
            ]
        )
        == layout.high[layout.n_units]
    )
    rate = picks.mean(axis=0)
    assert np.all((rate > 0.35) & (rate < 0.65))
    # n_units genes are drawn independently, not as one block
    assert 0 < np.mean(picks.all(axis=1)) < 0.2


def test_crossover_two_point_swaps_one_segment() -> None:
    space = SearchSpace()
    layout = space.layout
    a, b = layout.low.copy(), layout.high.copy()
    for seed in range(30):
        c1, c2 = crossover_two_point(space, a, b, np.random.default_rng(seed))
        swapped = np.flatnonzero(c1 != a)
        assert swapped.size > 0
        assert np.array_equal(swapped, np.arange(swapped[0], swapped[-1] + 1))
        assert swapped[0] > 0 and swapped[-1] < layout.size - 1
        assert np.array_equal(np.flatnonzero(c2 != b), swapped)


# --- mutation ------------------------------------------------------------------


def test_mutation_kinds() -> None:
    kinds = mutation_kinds()
    assert len(kinds) == len(set(kinds)) == 17
    assert {"n_levels", "n_units", "neurons", "skip_bit", "lateral_bit", "learning_rate"} <= set(kinds)


@pytest.mark.parametrize("space_name", ["default", "wide", "deep"])
def test_mutate_effective_changes_the_key(space_name: str) -> None:
    space = SPACES[space_name]
    layout = space.layout
    rng = np.random.default_rng(2024)
    blocks_touched: set[str] = set()
    for _ in range(400):
        parent = random_genome(space, rng)
        before = parent.copy()
        child = mutate_effective(space, parent, rng)
        assert np.array_equal(parent, before)
        assert within_bounds(space, child)
        assert decode(space, child).key != decode(space, parent).key
        changed = np.flatnonzero(child != parent)
        assert changed.size == 1  # one gene, one step
        i = int(changed[0])
        name = next(
            n for n in layout.block_names() if getattr(layout, n).start <= i < getattr(layout, n).stop
        )
        blocks_touched.add(name)
        if name in ("n_levels", "n_units", "neurons", "dropout", "learning_rate", "batch_size"):
            assert abs(int(child[i]) - int(parent[i])) == 1, name
    expected = {n for n in layout.block_names() if getattr(layout, n).stop > getattr(layout, n).start}
    if space.max_units == 1:
        expected.discard("lateral_mask")
    assert blocks_touched == expected


def test_mutate_effective_is_deterministic() -> None:
    space = SearchSpace()
    parent = random_genome(space, np.random.default_rng(0))
    first = [mutate_effective(space, parent, np.random.default_rng(s)) for s in range(10)]
    again = [mutate_effective(space, parent, np.random.default_rng(s)) for s in range(10)]
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=True))
    assert len({x.tobytes() for x in first}) > 5


def test_mutate_effective_in_a_tiny_space() -> None:
    space = SPACES["tiny"]
    rng = np.random.default_rng(1)
    for _ in range(50):
        parent = random_genome(space, rng)
        child = mutate_effective(space, parent, rng)
        assert decode(space, child).key != decode(space, parent).key


def test_mutate_effective_degenerate_space() -> None:
    """Only the batch-norm flip applies here: a try often fails, and after
    ``max_tries`` failures the parent's genes come back unchanged."""
    space = SearchSpace(
        max_levels=1,
        max_units=1,
        neuron_choices=(8,),
        activations=("relu",),
        dropout_choices=(0.0,),
        optimizers=("adam",),
        learning_rates=(1e-3,),
        batch_sizes=(32,),
    )
    parent = random_genome(space, np.random.default_rng(0))
    outcomes = set()
    for seed in range(40):
        child = mutate_effective(space, parent, np.random.default_rng(seed), max_tries=1)
        assert within_bounds(space, child)
        if np.array_equal(child, parent):
            outcomes.add("gave up")
        else:
            assert decode(space, child).key != decode(space, parent).key
            outcomes.add("changed")
    assert outcomes == {"gave up", "changed"}
    child = mutate_effective(space, parent, np.random.default_rng(0), max_tries=200)
    assert decode(space, child).key != decode(space, parent).key
    with pytest.raises(ValueError, match="max_tries"):
        mutate_effective(space, parent, np.random.default_rng(0), max_tries=0)


def test_mutate_effective_gives_up_after_max_tries(monkeypatch: pytest.MonkeyPatch) -> None:
    """With every try failing, the last attempted genome comes back."""
    import evonas.genome.operators as ops

    space = SearchSpace(max_levels=1, max_units=1)
    parent = random_genome(space, np.random.default_rng(0))
    monkeypatch.setattr(ops, "decode", lambda s, g: decode(s, parent))  # nothing "changes"
    child = mutate_effective(space, parent, np.random.default_rng(0), max_tries=5)
    assert within_bounds(space, child)
    assert np.count_nonzero(child != parent) <= 1
