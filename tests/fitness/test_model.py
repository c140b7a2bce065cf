"""The Keras model really has the wiring the genome asks for."""

from __future__ import annotations

import numpy as np
import pytest

from evonas.fitness import build_model
from evonas.fitness.runtime import import_tensorflow
from evonas.genome import SearchSpace, decode
from tests.conftest import layer_feeds

import_tensorflow()


@pytest.fixture
def wired(build):
    space = SearchSpace(max_levels=3, max_units=2)
    genes = build(
        space,
        n_levels=3,
        n_units=(2, 2, 1),
        neurons={(0, 0): 2, (0, 1): 3, (1, 0): 2, (1, 1): 2, (2, 0): 1},
        skips=[((0, 1), (2, 0))],
        laterals=[((1, 0), (1, 1))],
        inputs=[(1, 1)],
        outputs=[(1, 1)],
        batchnorm=[(1, 1)],
        dropout={(2, 0): 1},
    )
    return space, genes, decode(space, genes)


def test_skip_and_lateral_bits_become_concatenate_inputs(wired):
    _, _, arch = wired
    model = build_model(arch, 5, 1, "regression", np.zeros(5), np.ones(5))
    feeds = layer_feeds(model)
    # skip L0U1 -> L2U0 and the default vertical edge L1U0 -> L2U0
    assert feeds["L2U0_concat"] == {"L0U1_dense", "L1U0_dense"}
    # lateral L1U0 -> L1U1, default vertical L0U1 -> L1U1, input bit -> raw (scaled) input
    assert feeds["L1U1_concat"] == {"L1U0_dense", "L0U1_dense", "scale"}
    assert feeds["L1U1_bn"] == {"L1U1_concat"}
    assert feeds["L1U1_dense"] == {"L1U1_bn"}
    # level-0 units read the input; L1U0 reads only its default edge (no Concatenate)
    assert feeds["L0U0_dense"] == {"scale"} and feeds["L1U0_dense"] == {"L0U0_dense"}
    # output head: last level (through its dropout) plus the unit with the output bit
    assert feeds["head_concat"] == {"L2U0_dropout", "L1U1_dense"}
    assert feeds["output"] == {"head_concat"}


def test_without_the_bits_the_connections_are_gone(wired, build):
    space, genes, _ = wired
    plain = build(space, n_levels=3, n_units=(2, 2, 1), outputs=[(1, 1)], base=genes)
    layout = space.layout
    plain[layout.skip_mask] = 0
    plain[layout.lateral_mask] = 0
    plain[layout.input_mask] = 0
    model = build_model(decode(space, plain), 5, 1, "regression", np.zeros(5), np.ones(5))
    feeds = layer_feeds(model)
    assert "L2U0_concat" not in feeds and feeds["L2U0_dense"] == {"L1U0_dense"}
    assert "L1U1_concat" not in feeds and feeds["L1U1_bn"] == {"L0U1_dense"}


def test_parameter_count_matches_keras(wired):
    _, _, arch = wired
    for task, n_out in (("regression", 1), ("classification", 4)):
        model = build_model(arch, 7, n_out, task, np.zeros(7), np.ones(7))
        assert model.count_params() == arch.n_params(7, n_out)
