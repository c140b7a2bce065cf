"""GeneLayout: block sizes, contiguity, bounds, pair ordering, validation."""

from __future__ import annotations

import numpy as np
import pytest

from evonas.genome import SearchSpace, SpaceError, layout_for


def test_default_sizes_by_hand() -> None:
    layout = SearchSpace().layout
    lengths = {
        name: getattr(layout, name).stop - getattr(layout, name).start for name in layout.block_names()
    }
    # L = U = 4: 16 unit slots; skip pairs = C(4,2) level pairs * 4 * 4 units;
    # lateral pairs = 4 levels * C(4,2) unit pairs
    assert lengths == {
        "n_levels": 1,
        "n_units": 4,
        "neurons": 16,
        "activation": 16,
        "dropout": 16,
        "batchnorm": 16,
        "input_mask": 16,
        "skip_mask": 96,
        "lateral_mask": 24,
        "output_mask": 16,
        "optimizer": 1,
        "learning_rate": 1,
        "batch_size": 1,
        "weight_decay": 1,
        "lr_schedule": 1,
        "label_smoothing": 1,
        "embedding": 1,
        # a table's space has no conv level: every conv block is empty
        **{name: 0 for name in ("n_conv", "filters", "kernel", "conv_activation", "conv_dropout")},
        **{name: 0 for name in ("conv_batchnorm", "pooling", "conv_skip", "readout")},
    }
    assert layout.size == 1 + 4 + 5 * 16 + 96 + 24 + 16 + 7 == 228
    assert layout.low.shape == layout.high.shape == (228,)


def test_smallest_space() -> None:
    layout = SearchSpace(max_levels=1, max_units=1).layout
    assert layout.size == 1 + 1 + 5 + 0 + 0 + 1 + 7
    assert layout.skip_pairs == () and layout.lateral_pairs == ()


@pytest.mark.parametrize(("levels", "units"), [(1, 1), (2, 3), (4, 4), (5, 2)])
def test_slices_are_contiguous_and_cover(levels: int, units: int) -> None:
    layout = SearchSpace(max_levels=levels, max_units=units).layout
    names = layout.block_names()
    assert names[0] == "n_levels" and names[-1] == "readout" and len(names) == 26
    position = 0
    for name in names:
        block = getattr(layout, name)
        assert block.start == position, name
        assert block.stop >= block.start and block.step is None
        position = block.stop
    assert position == layout.size


def test_bounds() -> None:
    space = SearchSpace(max_levels=3, max_units=2, neuron_choices=(8, 16, 32))
    layout = space.layout
    expected = {
        "n_levels": (1, 3),
        "n_units": (1, 2),
        "neurons": (0, 2),
        "activation": (0, 4),
        "dropout": (0, 5),
        "batchnorm": (0, 1),
        "input_mask": (0, 1),
        "skip_mask": (0, 1),
        "lateral_mask": (0, 1),
        "output_mask": (0, 1),
        "optimizer": (0, 3),
        "learning_rate": (0, 5),
        "batch_size": (0, 5),
    }
    for name, (low, high) in expected.items():
        block = getattr(layout, name)
        assert np.all(layout.low[block] == low), name
        assert np.all(layout.high[block] == high), name
    assert layout.low.dtype == layout.high.dtype == np.int64
    with pytest.raises(ValueError):
        layout.low[0] = 5  # shared by every caller: read-only


def test_skip_pairs_count_and_order() -> None:
    layout = SearchSpace(max_levels=3, max_units=2).layout
    pairs = layout.skip_pairs
    assert len(pairs) == 3 * 2 * 2  # level pairs (0,1) (0,2) (1,2), 2x2 units
    assert all(l1 < l2 for (l1, _), (l2, _) in pairs)
    assert len(set(pairs)) == len(pairs)
    keys = [(l2, u2, l1, u1) for (l1, u1), (l2, u2) in pairs]
    assert keys == sorted(keys)
    assert pairs[:4] == (
        ((0, 0), (1, 0)),
        ((0, 1), (1, 0)),
        ((0, 0), (1, 1)),
        ((0, 1), (1, 1)),
    )


def test_lateral_pairs_count_and_order() -> None:
    layout = SearchSpace(max_levels=2, max_units=3).layout
    pairs = layout.lateral_pairs
    assert len(pairs) == 2 * 3  # C(3,2) per level
    assert all(l1 == l2 and u1 < u2 for (l1, u1), (l2, u2) in pairs)
    keys = [(level, u2, u1) for (level, u1), (_, u2) in pairs]
    assert keys == sorted(keys)
    assert pairs[:3] == (((0, 0), (0, 1)), ((0, 0), (0, 2)), ((0, 1), (0, 2)))


def test_slot() -> None:
    layout = SearchSpace(max_levels=3, max_units=4).layout
    assert layout.slot(0, 0) == 0
    assert layout.slot(2, 1) == 9
    with pytest.raises(IndexError):
        layout.slot(3, 0)
    with pytest.raises(IndexError):
        layout.slot(0, 4)


def test_layout_for_matches_property() -> None:
    space = SearchSpace(max_units=2)
    assert layout_for(space) is space.layout


def test_validate_returns_int64_copy() -> None:
    layout = SearchSpace().layout
    genes = layout.low.astype(np.int32)
    out = layout.validate(genes)
    assert out.dtype == np.int64
    out[0] = 3
    assert genes[0] == 1
    assert layout.validate(list(layout.high)).tolist() == layout.high.tolist()
    assert layout.validate(layout.low.astype(float)).dtype == np.int64


def test_validate_rejects() -> None:
    layout = SearchSpace(max_levels=2, max_units=2).layout
    with pytest.raises(SpaceError, match="length"):
        layout.validate(np.zeros(layout.size - 1, dtype=np.int64))
    with pytest.raises(SpaceError, match="length"):
        layout.validate(np.ones((1, layout.size), dtype=np.int64))
    with pytest.raises(SpaceError, match="integers"):
        layout.validate(layout.low + 0.5)
    with pytest.raises(SpaceError, match="integers"):
        layout.validate(np.array(["1"] * layout.size))
    too_many = layout.low.copy()
    too_many[layout.n_units.start + 1] = 3
    with pytest.raises(SpaceError, match=r"n_units\[1\]"):
        layout.validate(too_many)
    bad_bit = layout.low.copy()
    bad_bit[layout.lateral_mask.start] = 2
    with pytest.raises(SpaceError, match="lateral_mask"):
        layout.validate(bad_bit)
