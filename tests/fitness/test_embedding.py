"""The ``ple`` embedding: bins fitted on train rows, the fixed layers, the network the genome says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evonas.fitness import TrainSettings, build_model, evaluate_genome, load_dataset
from evonas.fitness.data import scale_features
from evonas.fitness.embedding import MAX_FEATURES, encode, fit_bins, layer_weights, width
from evonas.fitness.runtime import import_tensorflow
from evonas.genome import SearchSpace, decode

tf = import_tensorflow()
SPACE = SearchSpace(max_levels=2, max_units=2)


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=300),
            "b": rng.exponential(size=300),
            "flat": np.ones(300),
            "kind": rng.choice(["x", "y"], size=300),
        }
    )
    frame["y"] = np.sin(3 * frame["a"]) + (frame["b"] > 1) + rng.normal(scale=0.1, size=300)
    return frame


def test_bins_are_train_quantiles_and_skip_constant_columns():
    x = np.column_stack([np.arange(9.0), np.zeros(9)])
    bins = fit_bins(x, [0, 1], bins=4)
    assert bins == ((0, (0.0, 2.0, 4.0, 6.0, 8.0)),)
    assert width(bins) == 4
    x = np.random.default_rng(0).normal(size=(50, MAX_FEATURES + 1))
    assert len(fit_bins(x, range(MAX_FEATURES))) == MAX_FEATURES
    assert fit_bins(x, range(MAX_FEATURES + 1)) == ()  # image-like data: no bins, no ple choice


def test_encoding_is_below_inside_above_each_bin():
    bins = ((0, (0.0, 1.0, 3.0)),)
    kernel, bias = layer_weights(bins, n_features=2)
    assert kernel.shape == (2, 2) and not kernel[1].any()  # feature 1 is not encoded
    out = encode(np.array([[-1.0, 5.0], [0.5, 5.0], [2.0, 5.0], [9.0, 5.0]]), bins)
    np.testing.assert_allclose(out[:, 2:], [[0, 0], [0.5, 0], [1, 0.5], [1, 1]])
    np.testing.assert_allclose(out[:, :2], [[-1, 5], [0.5, 5], [2, 5], [9, 5]])
@pytest.mark.slow  # more than 2 s (tests/conftest.py FAST_LIMIT_S)
def test_image_data_has_no_bins_and_its_search_space_no_ple():
    data = load_dataset("digits")  # 64 pixel columns: encoded; mnist5k's 784 are not
    assert data.ple_bins and SPACE.for_data(data.task, bool(data.ple_bins)) is SPACE
    mnist = load_dataset("mnist5k")
    assert mnist.ple_bins == () and SPACE.for_data(mnist.task, False).embeddings == ("none",)


def test_dataset_bins_come_from_the_train_rows_of_the_numeric_features(table):
    data = load_dataset(table, "y")
    assert [j for j, _ in data.ple_bins] == [0, 1]  # a and b; flat is constant, kind is one-hot
    scaled = scale_features(data.x_train, data.feature_mean, data.feature_var)
    assert data.ple_bins == fit_bins(scaled, [0, 1])
    # the val and test rows play no part: bins of the train rows alone, not of all rows
    everything = np.concatenate([data.x_train, data.x_val, data.x_test])
    assert data.ple_bins != fit_bins(scale_features(everything, data.feature_mean, data.feature_var), [0, 1])


def test_a_ple_network_has_the_fixed_layers_and_counts_its_parameters(table, build):
    data = load_dataset(table, "y")
    genes = build(SPACE, n_levels=1, n_units=(1,), neurons={(0, 0): 2}, embedding=1)
    arch = decode(SPACE, genes)
    assert arch.embedding == "ple" and "ple" in arch.describe()
    model = build_model(
        arch, data.n_features, 1, "regression", data.feature_mean, data.feature_var, 0, data.ple_bins
    )
    binned = model.get_layer("ple_bins")
    assert not binned.trainable and model.get_layer("ple").max_value == 1.0
    assert model.get_layer("L0U0_dense").kernel.shape[0] == data.n_features + width(data.ple_bins)
    assert model.count_params() == data.n_params(arch)  # the fixed Normalization holds no weights
    kernel, bias = layer_weights(data.ple_bins, data.n_features)
    np.testing.assert_array_equal(binned.get_weights()[0], kernel)
    np.testing.assert_array_equal(binned.get_weights()[1], bias)
    plain = decode(SPACE, build(SPACE, n_levels=1, n_units=(1,), neurons={(0, 0): 2}))
    assert data.n_params(arch) > data.n_params(plain)


@pytest.mark.parametrize("trainer", ["compiled", pytest.param("keras", marks=pytest.mark.slow)])
def test_a_ple_network_trains_and_its_saved_model_scores_the_objective(table, build, tmp_path, trainer):
    import keras

    data = load_dataset(table, "y")
    genes = build(SPACE, n_levels=1, n_units=(1,), neurons={(0, 0): 4}, embedding=1, learning_rate=3)
    path = str(tmp_path / "m.keras")
    settings = TrainSettings(max_epochs=6, patience=6, trainer=trainer)
    record = evaluate_genome(SPACE, genes, data, settings, run_seed=0, model_path=path)
    assert record["status"] == "ok", record["error"]
    model = keras.models.load_model(path)
    pred = model.predict(data.x_val, verbose=0).reshape(-1)
    rmse = float(np.sqrt(np.mean((pred.astype("float64") - data.y_val) ** 2)))
    assert rmse == pytest.approx(record["objective"], rel=1e-4)
