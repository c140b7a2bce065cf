"""check_space_fits on image data: the smallest network pools or reads out globally."""

from __future__ import annotations

import pytest

from evonas.evolve.api import check_space_fits, smallest_network_params
from evonas.evolve.config import ConfigError
from evonas.fitness import load_dataset
from evonas.genome import SearchSpace


def test_the_smallest_image_network_pools_or_reads_out_globally() -> None:
    digits = load_dataset("digits", images=True)
    space = SearchSpace(
        max_levels=1, max_units=1, max_conv_levels=2, filter_choices=(4,), neuron_choices=(2,)
    )
    # 1 conv level of 4 3x3 filters (40) -> global pooling (4 wide) -> 2 neurons (10) -> 10 classes (30)
    assert smallest_network_params(space, digits) == 40 + 10 + 30
    check_space_fits(SearchSpace(**{**space.to_dict(), "max_params": 80}), digits)
    with pytest.raises(ConfigError, match="8x8x1 images through 1 conv level of 4 filters"):
        check_space_fits(SearchSpace(**{**space.to_dict(), "max_params": 79}), digits)
