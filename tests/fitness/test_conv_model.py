"""An image genome's Keras model has the conv levels and skips it encodes; it trains, deterministically."""

from __future__ import annotations

import numpy as np
import pytest

from evonas.fitness import build_model, evaluate_genome, load_dataset
from evonas.fitness.cost import estimated_seconds
from evonas.fitness.runtime import import_tensorflow
from evonas.fitness.settings import TrainSettings
from evonas.fitness.trainers import trainer_for
from evonas.genome import SearchSpace, decode, random_genome
from tests.conftest import layer_feeds

import_tensorflow()

SPACE = SearchSpace(
    max_levels=2,
    max_units=2,
    max_conv_levels=4,
    neuron_choices=(16, 32),
    filter_choices=(4, 8),
    embeddings=("none",),
)


def _genes(n_conv: int = 3, skip: bool = True) -> np.ndarray:
    layout = SPACE.layout
    g = layout.low.copy()
    g[layout.n_conv] = n_conv
    g[layout.pooling.start + 0] = 1  # C0 max-pools
    g[layout.pooling.start + 1] = 2  # C1 avg-pools
    g[layout.conv_batchnorm.start + 1] = 1
    g[layout.conv_dropout.start + 2] = 1
    g[layout.filters.start + 2] = 1
    g[layout.readout] = 1  # global average
    if skip:
        g[layout.conv_skip.start + layout.conv_skip_pairs.index((0, 2))] = 1
    return g


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", images=True)


def test_the_model_has_the_conv_levels_and_the_skip(digits) -> None:
    arch = decode(SPACE, _genes())
    model = build_model(
        arch, 64, 10, "classification", digits.feature_mean, digits.feature_var, 0, image_shape=(8, 8, 1)
    )
    feeds = layer_feeds(model)
    assert feeds["image"] == {"scale"} and feeds["C0_conv"] == {"image"}
    assert feeds["C0_pool"] == {"C0_conv"} and model.get_layer("C0_pool").__class__.__name__ == "MaxPooling2D"
    assert feeds["C1_conv"] == {"C0_pool"} and feeds["C1_bn"] == {"C1_conv"} and feeds["C1_act"] == {"C1_bn"}
    assert model.get_layer("C1_pool").__class__.__name__ == "AveragePooling2D"
    # the skip C0 -> C2: C0's 4x4 output pooled by 2 to C1's 2x2, concatenated with C1's output
    assert feeds["C2_from_C0"] == {"C0_pool"} and model.get_layer("C2_from_C0").pool_size == (2, 2)
    assert feeds["C2_concat"] == {"C2_from_C0", "C1_pool"}
    assert feeds["C2_conv"] == {"C2_concat"} and feeds["C2_dropout"] == {"C2_conv"}
    assert model.get_layer("C2_conv").filters == 8 and tuple(model.get_layer("C2_conv").input.shape) == (
        None,
        2,
        2,
        8,
    )
    assert feeds["readout"] == {"C2_dropout"} and model.get_layer("readout").__class__.__name__ == (
        "GlobalAveragePooling2D"
    )
    assert feeds["L0U0_dense"] == {"readout"}
    assert model.count_params() == digits.n_params(arch)
    # without the skip bit the level reads only the one below
    plain = build_model(
        decode(SPACE, _genes(skip=False)), 64, 10, "classification", digits.feature_mean, digits.feature_var,
        image_shape=(8, 8, 1),
    )  # fmt: skip
    assert "C2_from_C0" not in layer_feeds(plain) and layer_feeds(plain)["C2_conv"] == {"C1_pool"}


@pytest.mark.slow  # 3.2 s in the fresh-clone fast tier (2026-12-07)
def test_parameter_counts_match_keras_for_random_image_genomes(digits) -> None:
    rng = np.random.default_rng(11)
    for _ in range(25):
        arch = decode(SPACE, random_genome(SPACE, rng))
        model = build_model(
            arch, 64, 10, "classification", digits.feature_mean, digits.feature_var, 1, image_shape=(8, 8, 1)
        )
        assert model.count_params() == digits.n_params(arch), arch.describe()


def test_a_conv_model_needs_the_image_shape(digits) -> None:
    with pytest.raises(ValueError, match="needs the image shape"):
        build_model(
            decode(SPACE, _genes()), 64, 10, "classification", digits.feature_mean, digits.feature_var
        )


@pytest.mark.slow  # more than 2 s (tests/conftest.py FAST_LIMIT_S)
def test_image_genomes_train_with_keras_deterministically(digits) -> None:
    space = SPACE.for_data("classification", embeddable=False)
    genes = _genes()
    assert trainer_for(decode(space, genes), "compiled") == "keras"
    settings = TrainSettings(max_epochs=2, patience=2)
    first = evaluate_genome(space, genes, digits, settings, run_seed=3)
    again = evaluate_genome(space, genes, digits, settings, run_seed=3)
    assert first["status"] == "ok" and first["epochs"] == 2, first["error"]
    assert first["objective"] == again["objective"] and first["metrics"] == again["metrics"]
    other = evaluate_genome(space, genes, digits, settings, run_seed=4)
    assert other["objective"] != first["objective"]
    # the cost model counts the conv work: more filters, a longer estimate
    wide = genes.copy()
    wide[space.layout.filters.start : space.layout.filters.start + 3] = 1
    assert estimated_seconds(space, wide, digits, settings) > estimated_seconds(
        space, genes, digits, settings
    )


@pytest.mark.slow  # more than 2 s (tests/conftest.py FAST_LIMIT_S)
def test_parameter_counts_match_keras_on_odd_image_sizes_with_skips() -> None:
    """Halvings round up ("same" padding): a skip across two poolings still meets the level below it."""
    space = SearchSpace(
        max_levels=1,
        max_units=1,
        max_conv_levels=4,
        filter_choices=(3, 5),
        neuron_choices=(4,),
        embeddings=("none",),
    )
    layout = space.layout
    rng = np.random.default_rng(2)
    for shape in ((7, 9, 2), (28, 28, 1), (5, 3, 3)):
        width = int(np.prod(shape))
        for _ in range(12):
            genes = random_genome(space, rng)
            genes[layout.n_conv] = 4
            genes[layout.pooling] = rng.integers(1, 3, size=4)  # every level pools
            genes[layout.conv_skip] = 1
            arch = decode(space, genes)
            model = build_model(
                arch, width, 3, "classification", np.zeros(width), np.ones(width), image_shape=shape
            )
            assert model.count_params() == arch.n_params(width, 3, image_shape=shape), (
                shape,
                arch.describe(),
            )
            assert model.get_layer("C3_from_C0").pool_size == (4, 4)
