"""The ensemble model (the mean of its members' outputs) and its test score (score_test, several paths)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from fitness.ensemble import average_models
from fitness.evaluate import score_test
from tests.conftest import FLOAT32_ULPS, assert_float32_close

keras = pytest.importorskip("keras")


def _member(seed: int, outputs: int, softmax: bool) -> keras.Model:
    keras.utils.set_random_seed(seed)
    x = keras.Input(shape=(4,))
    h = keras.layers.Dense(8, activation="relu", name="hidden")(x)
    out = keras.layers.Dense(outputs, activation="softmax" if softmax else None, name="output")(h)
    return keras.Model(x, out, name="lattice")  # the same name for every member, as saved by a search


def _saved(tmp_path, outputs: int, softmax: bool) -> list[str]:
    paths = []
    for i in range(3):
        path = str(tmp_path / f"m{i}.keras")
        _member(i, outputs, softmax).save(path)
        paths.append(path)
    return paths


def test_the_ensemble_predicts_the_mean_and_loads_without_custom_objects(tmp_path):
    paths = _saved(tmp_path, 3, softmax=True)
    members = [keras.models.load_model(p) for p in paths]
    model = average_models(members, ["member_4", "member_9", "member_1"])
    model.save(tmp_path / "ensemble.keras")
    back = keras.models.load_model(tmp_path / "ensemble.keras")
    x = np.random.default_rng(0).normal(size=(20, 4)).astype("float32")
    mean = np.mean([keras.models.load_model(p).predict(x, verbose=0) for p in paths], axis=0)
    assert_float32_close(back.predict(x, verbose=0), mean)  # one merged model: another summation order
    with pytest.raises(ValueError, match="one distinct name per model"):
        average_models(members, ["a", "a", "b"])


def test_the_ensemble_test_score_of_a_regression_is_that_of_the_mean_prediction(tmp_path):
    paths = _saved(tmp_path, 1, softmax=False)
    rng = np.random.default_rng(1)
    data = SimpleNamespace(task="regression", x_test=rng.normal(size=(30, 4)).astype("float32"))
    data.y_test = rng.normal(size=30)
    mean = np.mean([keras.models.load_model(p).predict(data.x_test, verbose=0) for p in paths], axis=0)
    expected = np.sqrt(np.mean((mean.reshape(-1).astype("float64") - data.y_test) ** 2))
    got = score_test(paths, data)
    # score_test predicts through evonas' forward, the expectation through keras predict: float32 rounding
    rounding = FLOAT32_ULPS * float(np.spacing(np.float32(np.max(np.abs(mean)))))
    assert got["test_rows"] == 30 and got["test_rmse"] == pytest.approx(expected, abs=rounding)
    assert score_test(paths[:1], data) == score_test(paths[0], data)  # one path: the single model's score


def test_the_ensemble_cross_entropy_is_that_of_the_mean_probabilities(tmp_path):
    paths = _saved(tmp_path, 3, softmax=True)
    rng = np.random.default_rng(2)
    data = SimpleNamespace(task="classification", x_test=rng.normal(size=(40, 4)).astype("float32"))
    data.y_test = rng.integers(0, 3, size=40)
    proba = np.mean([keras.models.load_model(p).predict(data.x_test, verbose=0) for p in paths], axis=0)
    got = score_test(paths, data)
    picked = proba.astype("float64")[np.arange(40), data.y_test]
    assert got["test_loss"] == pytest.approx(-np.mean(np.log(picked)), rel=1e-5)
    assert got["test_accuracy"] == np.mean(np.argmax(proba, axis=1) == data.y_test)
