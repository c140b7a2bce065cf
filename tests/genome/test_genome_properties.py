"""Property-based checks with hypothesis (skipped where hypothesis is not installed)."""

from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from evonas.genome import (  # noqa: E402
    SearchSpace,
    crossover_two_point,
    crossover_unit_blocks,
    decode,
    diff,
    mutate_effective,
    random_genome,
)

FAST = settings(max_examples=40, deadline=None)

spaces = st.builds(
    SearchSpace,
    max_levels=st.integers(1, 5),
    max_units=st.integers(1, 5),
    connection_probability=st.sampled_from([0.0, 0.2, 0.5, 1.0]),
)
seeds = st.integers(0, 2**32 - 1)


def in_bounds(space: SearchSpace, genes: np.ndarray) -> bool:
    layout = space.layout
    return (
        genes.dtype == np.int64
        and genes.shape == (layout.size,)
        and bool(np.all((genes >= layout.low) & (genes <= layout.high)))
    )


@FAST
@given(space=spaces, seed=seeds)
def test_operators_stay_in_bounds_and_leave_inputs_alone(space: SearchSpace, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = random_genome(space, rng), random_genome(space, rng)
    a0, b0 = a.copy(), b.copy()
    for crossover in (crossover_unit_blocks, crossover_two_point):
        c1, c2 = crossover(space, a, b, np.random.default_rng(seed))
        assert in_bounds(space, c1) and in_bounds(space, c2)
        assert np.array_equal(np.sort(np.stack([c1, c2]), axis=0), np.sort(np.stack([a, b]), axis=0))
    child = mutate_effective(space, a, np.random.default_rng(seed))
    assert in_bounds(space, child)
    assert decode(space, child).key != decode(space, a).key
    assert np.array_equal(a, a0) and np.array_equal(b, b0)


@FAST
@given(space=spaces, seed=seeds)
def test_decoded_architecture_is_consistent(space: SearchSpace, seed: int) -> None:
    arch = decode(space, random_genome(space, np.random.default_rng(seed)))
    ids = [u.id for u in arch.units]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    # every live unit reaches the output head
    consumers: dict = {uid: set() for uid in ids}
    for unit in arch.units:
        for src in unit.inputs:
            if src != "input":
                consumers[src].add(unit.id)
    for uid in reversed(ids):
        assert uid in arch.outputs or consumers[uid]
    # the last level feeds the head entirely
    last = [uid for uid in ids if uid[0] == arch.n_levels - 1]
    assert set(last) <= set(arch.outputs)
    assert arch.n_params(7, 2) > 0
    assert diff(arch, arch) == []
    assert "\n" not in arch.describe()
