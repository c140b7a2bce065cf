"""space.batch_scale: the batch-size choices scaled with the rows a training fits."""

from __future__ import annotations

import pytest

from evonas.genome import SearchSpace, SpaceError, decode, textbook_genome
from evonas.genome.space import BATCH_ROWS, batch_scale_for


def test_the_scale_is_one_up_to_batch_rows_then_doubles_with_the_rows():
    assert batch_scale_for(1) == batch_scale_for(BATCH_ROWS) == 1
    assert batch_scale_for(2 * BATCH_ROWS) == 2
    assert batch_scale_for(4 * BATCH_ROWS) == 4
    assert batch_scale_for(10**9) == 64  # MAX_BATCH_SCALE


def test_for_rows_sets_an_unset_scale_and_keeps_a_set_one():
    assert SearchSpace().batch_scale is None
    assert SearchSpace().for_rows(4 * BATCH_ROWS).batch_scale == 4
    assert SearchSpace(batch_scale=1).for_rows(4 * BATCH_ROWS).batch_scale == 1
    space = SearchSpace(batch_scale=2)
    assert space.for_rows(100) is space


def test_a_network_trains_with_the_scaled_batch_size():
    space = SearchSpace(max_conv_levels=0)
    genes = textbook_genome(space)
    assert decode(space, genes).batch_size == 64
    scaled = SearchSpace(max_conv_levels=0, batch_scale=4)
    assert scaled.batches == (64, 128, 256, 512, 1024, 2048)
    assert decode(scaled, genes).batch_size == 256  # the same gene: the third choice


def test_the_scale_round_trips_and_unset_is_left_out():
    assert "batch_scale" not in SearchSpace().to_dict()
    space = SearchSpace(batch_scale=8)
    assert SearchSpace.from_dict(space.to_dict()) == space


@pytest.mark.parametrize("bad", [0, 3, 128, 2.0, "4", True])
def test_a_scale_that_is_not_a_power_of_two_up_to_64_is_refused(bad):
    with pytest.raises(SpaceError, match="space.batch_scale"):
        SearchSpace(batch_scale=bad)
