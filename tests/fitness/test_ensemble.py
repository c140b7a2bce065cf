"""The ensemble model (the mean of its members' outputs) and its test score (score_test, several paths)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from evonas.fitness.ensemble import average_models, ensemble_loss, greedy_weights
from evonas.fitness.evaluate import score_test
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


def test_greedy_selection_leaves_out_a_member_that_does_not_help_and_mixes_two_that_do():
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    noise = rng.normal(size=200)
    a, b = y + noise, y - noise  # errors that cancel: the mean of a and b is exact
    bad = y + 3.0 * noise  # the same errors as a, three times larger: it can only hurt
    counts = greedy_weights([a, bad, b], y, "regression", rounds=10)
    assert counts == [5, 0, 5] and sum(counts) == 10
    # one good member alone: it takes every round
    assert greedy_weights([a, bad], y, "regression", rounds=7) == [7, 0]
    # classification: the cross-entropy of the weighted class probabilities
    labels = np.array([0, 1, 1, 0])
    sure = np.array([[0.9, 0.1], [0.1, 0.9], [0.2, 0.8], [0.8, 0.2]])
    wrong = sure[:, ::-1]
    assert greedy_weights([wrong, sure], labels, "classification", rounds=5) == [0, 5]
    want = -np.mean(np.log([0.9, 0.9, 0.8, 0.8]))
    assert ensemble_loss(sure, labels, "classification") == pytest.approx(want)


def test_a_weighted_ensemble_and_its_test_scores_use_the_weights(tmp_path):
    """average_models with unequal weights is the weighted mean (Rescaling then Add: standard layers), and
    score_test with the same weights scores it (regression, and the classification cross-entropy)."""
    paths = _saved(tmp_path, 1, softmax=False)
    members = [keras.models.load_model(p) for p in paths]
    model = average_models(members, ["member_4", "member_9", "member_1"], weights=[3, 1, 0.5])
    model.save(tmp_path / "weighted.keras")
    back = keras.models.load_model(tmp_path / "weighted.keras")
    rng = np.random.default_rng(3)
    data = SimpleNamespace(task="regression", x_test=rng.normal(size=(30, 4)).astype("float32"))
    data.y_test = rng.normal(size=30)
    w = np.array([3, 1, 0.5]) / 4.5
    outs = np.asarray([m.predict(data.x_test, verbose=0) for m in members], dtype="float64")
    want = np.tensordot(w, outs, axes=1)
    assert_float32_close(back.predict(data.x_test, verbose=0), want)
    expected = np.sqrt(np.mean((want.reshape(-1) - data.y_test) ** 2))
    rounding = FLOAT32_ULPS * float(np.spacing(np.float32(np.max(np.abs(want)))))
    assert score_test(paths, data, [3, 1, 0.5])["test_rmse"] == pytest.approx(expected, abs=rounding)
    with pytest.raises(ValueError, match="positive weight"):
        average_models(members, ["a", "b", "c"], weights=[1, 0, 1])

    (tmp_path / "c").mkdir()
    paths = _saved(tmp_path / "c", 3, softmax=True)
    data = SimpleNamespace(task="classification", x_test=data.x_test, y_test=rng.integers(0, 3, size=30))
    outs = [keras.models.load_model(p).predict(data.x_test, verbose=0) for p in paths]
    proba = np.tensordot(w, np.asarray(outs, dtype="float64"), axes=1)
    got = score_test(paths, data, [3, 1, 0.5])
    picked = proba[np.arange(30), data.y_test]
    assert got["test_loss"] == pytest.approx(-np.mean(np.log(picked)), rel=1e-5)
    assert got["test_accuracy"] == np.mean(np.argmax(proba, axis=1) == data.y_test)
