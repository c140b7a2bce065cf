"""decode: the six decoding rules of DESIGN.md, each on a hand-built genome."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from evonas.genome import INPUT, SearchSpace, SpaceError, decode, random_genome

Build = Callable[..., np.ndarray]


def inputs_of(space: SearchSpace, genes: np.ndarray) -> dict[tuple[int, int], tuple]:
    return {u.id: u.inputs for u in decode(space, genes).units}


def test_settings_come_from_the_choice_tuples(space3: SearchSpace, build: Build) -> None:
    genes = build(
        space3,
        neurons={(0, 0): 4},
        activation={(0, 0): 2},
        dropout={(0, 0): 3},
        batchnorm=[(0, 0)],
        optimizer=3,
        learning_rate=2,
        batch_size=1,
    )
    arch = decode(space3, genes)
    (unit,) = arch.units
    assert (unit.neurons, unit.activation, unit.dropout, unit.batchnorm) == (64, "gelu", 0.3, True)
    assert (arch.optimizer, arch.learning_rate, arch.batch_size) == ("sgd", 1e-3, 32)
    assert arch.outputs == ((0, 0),)


def test_rule1_inactive_slots_are_ignored(space3: SearchSpace, build: Build) -> None:
    genes = build(space3, n_levels=2, n_units=[2, 1, 3])
    arch = decode(space3, genes)
    assert [u.id for u in arch.units] == [(0, 0), (1, 0)]  # L0U1 is dead (rule 5)
    # scribble over every gene of the inactive slots (L0U2, L1U1, L1U2, level 2)
    # and every bit that touches one of them
    layout = space3.layout
    rng = np.random.default_rng(0)
    scribbled = genes.copy()
    inactive = [(0, 2), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)]
    for name in ("neurons", "activation", "dropout", "batchnorm", "input_mask", "output_mask"):
        block = getattr(layout, name)
        for slot in inactive:
            i = block.start + layout.slot(*slot)
            scribbled[i] = rng.integers(layout.low[i], layout.high[i], endpoint=True)
    for pairs, block in ((layout.skip_pairs, layout.skip_mask), (layout.lateral_pairs, layout.lateral_mask)):
        for k, (source, target) in enumerate(pairs):
            if source in inactive or target in inactive:
                scribbled[block.start + k] = 1
    scribbled[layout.n_units.start + 2] = 1  # count of an inactive level
    assert not np.array_equal(scribbled, genes)
    assert decode(space3, scribbled) == arch
    assert decode(space3, scribbled).key == arch.key


def test_rule2_level0_reads_the_input(space3: SearchSpace, build: Build) -> None:
    genes = build(space3, n_levels=1, n_units=[3])
    assert inputs_of(space3, genes) == {(0, 0): (INPUT,), (0, 1): (INPUT,), (0, 2): (INPUT,)}
    # an input bit on level 0 changes nothing: the input is always read
    with_bit = build(space3, n_levels=1, n_units=[3], inputs=[(0, 1)])
    assert decode(space3, with_bit).key == decode(space3, genes).key


def test_rule2_default_vertical_edge(space3: SearchSpace, build: Build) -> None:
    # n_units = [2, 3, 1]: unit u of level l reads unit min(u, n_units[l-1]-1) of l-1
    genes = build(space3, n_levels=3, n_units=[2, 3, 1], outputs=[(1, 1), (1, 2), (0, 1)])
    assert inputs_of(space3, genes) == {
        (0, 0): (INPUT,),
        (0, 1): (INPUT,),
        (1, 0): ((0, 0),),
        (1, 1): ((0, 1),),
        (1, 2): ((0, 1),),
        (2, 0): ((1, 0),),
    }


def test_rule2_input_skip_and_lateral_bits(space3: SearchSpace, build: Build) -> None:
    genes = build(
        space3,
        n_levels=3,
        n_units=[2, 2, 2],
        inputs=[(2, 1)],
        skips=[((0, 0), (2, 1)), ((1, 1), (2, 1))],  # the second repeats the default edge
        laterals=[((2, 0), (2, 1))],
    )
    arch = decode(space3, genes)
    unit = arch.unit((2, 1))
    assert unit.inputs == (INPUT, (0, 0), (1, 1), (2, 0))  # sorted, no duplicate
    assert arch.unit((2, 0)).inputs == ((1, 0),)


def test_rule2_bits_to_or_from_inactive_slots_add_nothing(space3: SearchSpace, build: Build) -> None:
    plain = build(space3, n_levels=2, n_units=[2, 2])
    with_bits = build(
        space3,
        n_levels=2,
        n_units=[2, 2],
        skips=[((0, 2), (1, 0)), ((1, 0), (2, 0))],
        laterals=[((1, 1), (1, 2))],
    )
    assert decode(space3, with_bits) == decode(space3, plain)


def test_rule4_output_head(space3: SearchSpace, build: Build) -> None:
    genes = build(space3, n_levels=2, n_units=[3, 2], outputs=[(0, 2), (1, 1), (2, 0)])
    arch = decode(space3, genes)
    # last level's active units + active units with an output bit (2,0 is inactive)
    assert arch.outputs == ((0, 2), (1, 0), (1, 1))
    # an output bit on a last-level unit changes nothing
    same = build(space3, n_levels=2, n_units=[3, 2], outputs=[(0, 2)])
    assert decode(space3, same).key == arch.key


def test_rule5_dead_units_are_dropped(space3: SearchSpace, build: Build) -> None:
    # n_units = [3, 2, 1]: L2U0 <- L1U0 <- L0U0 is the only path to the head.
    # L1U1 reads L0U1 but feeds nobody; L0U2 feeds L1U1 through a skip bit
    # and laterally receives from L0U1: all of L0U1, L0U2, L1U1 are dead.
    genes = build(
        space3,
        n_levels=3,
        n_units=[3, 2, 1],
        skips=[((0, 2), (1, 1))],
        laterals=[((0, 1), (0, 2))],
    )
    arch = decode(space3, genes)
    assert [u.id for u in arch.units] == [(0, 0), (1, 0), (2, 0)]
    assert arch.outputs == ((2, 0),)
    # an output bit revives L1U1 and, through it, L0U1 and L0U2
    revived = build(
        space3,
        n_levels=3,
        n_units=[3, 2, 1],
        skips=[((0, 2), (1, 1))],
        laterals=[((0, 1), (0, 2))],
        outputs=[(1, 1)],
    )
    arch = decode(space3, revived)
    assert [u.id for u in arch.units] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 0)]
    assert arch.unit((1, 1)).inputs == ((0, 1), (0, 2))
    assert arch.unit((0, 2)).inputs == (INPUT, (0, 1))


def test_rule6_key_ignores_dead_unit_genes(space3: SearchSpace, build: Build) -> None:
    base = {"n_levels": 2, "n_units": [2, 1]}  # L0U1 is dead: L1U0 reads L0U0 only
    genes = build(space3, **base)
    key = decode(space3, genes).key
    changed = build(
        space3,
        **base,
        neurons={(0, 1): 7},
        activation={(0, 1): 4},
        dropout={(0, 1): 5},
        batchnorm=[(0, 1)],
        laterals=[((0, 0), (0, 1))],  # an edge into a dead unit
    )
    assert decode(space3, changed).key == key


def test_rule6_key_changes_with_live_genes(space3: SearchSpace, build: Build) -> None:
    base = {"n_levels": 2, "n_units": [2, 1]}
    key = decode(space3, build(space3, **base)).key
    variants = [
        build(space3, **base, neurons={(0, 0): 1}),
        build(space3, **base, activation={(1, 0): 1}),
        build(space3, **base, dropout={(1, 0): 1}),
        build(space3, **base, batchnorm=[(0, 0)]),
        build(space3, **base, inputs=[(1, 0)]),
        build(space3, **base, outputs=[(0, 1)]),
        build(space3, **base, skips=[((0, 1), (1, 0))]),
        build(space3, **base, optimizer=1),
        build(space3, **base, learning_rate=1),
        build(space3, **base, batch_size=1),
    ]
    keys = [decode(space3, g).key for g in variants]
    assert key not in keys
    assert len(set(keys)) == len(keys)
    assert all(len(k) == 16 and int(k, 16) >= 0 for k in keys)


def test_units_are_in_build_order() -> None:
    space = SearchSpace()
    rng = np.random.default_rng(3)
    for _ in range(50):
        arch = decode(space, random_genome(space, rng))
        ids = [u.id for u in arch.units]
        assert ids == sorted(ids)
        seen: set = {INPUT}
        for unit in arch.units:
            assert set(unit.inputs) <= seen
            assert list(unit.inputs) == sorted(unit.inputs, key=lambda s: (-1, -1) if s == INPUT else s)
            seen.add(unit.id)
        assert set(arch.outputs) <= seen


def test_decode_validates(space3: SearchSpace) -> None:
    with pytest.raises(SpaceError):
        decode(space3, np.zeros(5, dtype=np.int64))
    with pytest.raises(SpaceError):
        decode(space3, np.zeros(space3.layout.size, dtype=np.int64))  # n_levels = 0


def test_decode_does_not_change_input(space3: SearchSpace, build: Build) -> None:
    genes = build(space3, n_levels=3, n_units=[3, 3, 3])
    before = genes.copy()
    decode(space3, genes)
    assert np.array_equal(genes, before)
