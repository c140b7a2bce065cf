"""Numeric feature transforms and the target transform: fitted on train rows, saved, inverted (real Keras)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtri

from evonas.fitness import DataError, TrainSettings, evaluate_genome, load_dataset
from evonas.fitness.data import split_labels
from evonas.fitness.encoder import Encoder
from evonas.fitness.transforms import (
    LOG_SKEW,
    apply_quantile,
    apply_robust,
    choose_target_transform,
    fit_quantile,
    fit_robust,
    n_quantiles,
    skewness,
    smooth_clip,
)
from evonas.genome import SearchSpace, random_genome

SPACE = SearchSpace(max_levels=2, max_units=2, neuron_choices=(8, 16))
FAST = TrainSettings(max_epochs=3, patience=2)


def table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """A regression table with a skewed positive target, a heavy-tailed, a tied and a categorical column."""
    rng = np.random.default_rng(seed)
    area = rng.lognormal(4.0, 0.6, size=n)
    area[rng.random(n) < 0.1] = np.nan
    zeros = np.where(rng.random(n) < 0.6, 0.0, rng.integers(1, 50, size=n).astype(float))
    kind = rng.choice(np.array(["a", "b", "c"], dtype=object), size=n)
    price = np.exp(0.01 * np.nan_to_num(area, nan=50) + 0.01 * zeros + rng.normal(0, 0.5, n)) * 1000
    return pd.DataFrame({"area": area, "zeros": zeros, "kind": kind, "price": price})


# -- robust --------------------------------------------------------------------------------
def test_robust_centres_on_the_median_and_scales_by_the_iqr():
    values = np.arange(1.0, 102.0)  # median 51, quartiles 26 and 76
    assert fit_robust(values) == (51.0, 50.0)
    out = apply_robust(np.array([51.0, 101.0, 1.0, 1e9]), 51.0, 50.0)
    np.testing.assert_allclose(out[:3], [0.0, 1 / math.sqrt(1 + 1 / 9), -1 / math.sqrt(1 + 1 / 9)])
    assert 2.999 < out[3] < 3.0  # the smooth clip tends to 3


def test_smooth_clip_is_identity_near_zero_odd_and_bounded():
    u = np.array([0.0, 1e-4, -2.0, 1e300, -np.finfo(np.float64).max])
    out = smooth_clip(u)
    assert out[0] == 0.0 and math.isclose(out[1], 1e-4, rel_tol=1e-8)
    np.testing.assert_allclose(out[2], -2 / math.sqrt(1 + 4 / 9))
    assert np.all(np.abs(out) <= 3.0) and np.all(np.isfinite(out))


def test_robust_spread_falls_back_to_half_the_range_then_to_one():
    mostly_zero = np.array([0.0] * 90 + [10.0] * 10)  # IQR 0
    assert fit_robust(mostly_zero) == (0.0, 5.0)
    assert fit_robust(np.full(20, 7.0)) == (7.0, 1.0)  # constant: the value maps to 0
    assert apply_robust(np.array([7.0]), 7.0, 1.0)[0] == 0.0


# -- quantile ------------------------------------------------------------------------------
def test_quantile_knots_and_scores_on_distinct_values():
    values = np.arange(3000.0)
    knots, scores = fit_quantile(values)
    assert len(knots) == n_quantiles(3000) == 100
    np.testing.assert_allclose(knots, np.linspace(0, 2999, 100))
    probs = np.linspace(0, 1, 100)
    want = np.clip(ndtri(probs), -5, 5)
    np.testing.assert_allclose(scores, want)
    out = apply_quantile(np.array([1499.5, -10.0, 1e12, knots[10]]), knots, scores)
    assert abs(out[0]) < 1e-12  # the median maps to 0
    assert out[1] == -5.0 and out[2] == 5.0  # clamped outside the train range
    assert math.isclose(out[3], scores[10])


def test_quantile_ties_merge_into_one_knot_at_their_mean_probability():
    values = np.array([0.0] * 600 + list(np.linspace(1.0, 100.0, 400)))
    knots, scores = fit_quantile(values)
    assert knots[0] == 0.0 and knots[1] > 0.0 and np.all(np.diff(knots) > 0)
    probs = np.linspace(0, 1, n_quantiles(1000))
    tied = probs[np.quantile(values, probs) == 0.0]
    assert math.isclose(scores[0], float(ndtri(tied.mean())))
    assert apply_quantile(np.array([0.0]), knots, scores)[0] == scores[0]


def test_quantile_of_a_constant_column_is_zero():
    knots, scores = fit_quantile(np.full(50, 3.0))
    assert knots == (3.0,) and scores == (0.0,)
    np.testing.assert_array_equal(apply_quantile(np.array([-1.0, 3.0, 9.0]), knots, scores), 0.0)


# -- in the encoder --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["standard", "robust", "quantile"])
def test_only_numeric_columns_are_transformed_after_imputation(kind):
    rows = table()
    enc = Encoder.fit(
        rows, ["area", "zeros", "kind"], target="price", task="regression", numeric_transform=kind
    )
    x = enc.transform(rows).x.astype(np.float64)
    names = enc.feature_names
    assert names[:3] == ("area", "zeros", "area:missing") and sorted(names[3:]) == [
        "kind=a",
        "kind=b",
        "kind=c",
    ]
    filled = rows["area"].fillna(enc.numeric[0].median).to_numpy()
    col = enc.numeric[0]
    want = filled
    if kind == "robust":
        want = apply_robust(filled, col.centre, col.spread)
    if kind == "quantile":
        want = apply_quantile(filled, col.knots, col.scores)
    np.testing.assert_allclose(x[:, 0], want, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(x[:, 2], rows["area"].isna().to_numpy(dtype=float))  # indicator: 0/1
    np.testing.assert_array_equal(x[:, 3:].sum(axis=1), 1.0)  # one-hot untouched
    if kind == "robust":
        assert (col.centre, col.spread) == fit_robust(filled)
    if kind == "quantile":
        assert (col.knots, col.scores) == fit_quantile(filled)


@pytest.mark.parametrize("kind", ["standard", "robust", "quantile"])
def test_encoder_json_round_trip(kind):
    rows = table()
    enc = Encoder.fit(
        rows, ["area", "zeros", "kind"], target="price", task="regression", numeric_transform=kind
    )
    saved = json.loads(json.dumps(enc.to_dict()))
    assert saved["format"] == 2 and saved["numeric_transform"] == kind
    back = Encoder.from_dict(saved)
    assert back == enc
    np.testing.assert_array_equal(back.transform(rows).x, enc.transform(rows).x)


def test_an_old_encoder_json_reads_as_standard():
    rows = table()
    enc = Encoder.fit(rows, ["area", "zeros", "kind"], target="price", task="regression")
    old = enc.to_dict()
    old["format"] = 1
    del old["numeric_transform"]
    back = Encoder.from_dict(old)
    assert back.numeric_transform == "standard" and back == enc
    with pytest.raises(ValueError, match="encoder format 3"):
        Encoder.from_dict({**old, "format": 3})


def test_a_quantile_encoder_without_knots_is_refused():
    rows = table()
    d = Encoder.fit(
        rows, ["area", "kind"], target="price", task="regression", numeric_transform="quantile"
    ).to_dict()
    del d["numeric"][0]["knots"]
    with pytest.raises(ValueError, match="knots"):
        Encoder.from_dict(d)


@pytest.mark.parametrize("kind", ["robust", "quantile"])
def test_the_tables_are_fitted_on_train_rows_only(kind):
    rows = table(400)
    split = (0.6, 0.2, 0.2)
    base = load_dataset(rows, "price", split=split, numeric_transform=kind)
    # extreme rows that the hash split puts in val or test: the fitted tables must not move
    extra = table(200, seed=7).assign(area=lambda f: f["area"] * 1000, zeros=1e6)
    extra = extra[split_labels(extra, split) != "train"]
    assert len(extra) > 30
    more = load_dataset(
        pd.concat([rows, extra], ignore_index=True), "price", split=split, numeric_transform=kind
    )
    assert len(more.x_val) + len(more.x_test) == len(base.x_val) + len(base.x_test) + len(extra)
    assert more.encoder == base.encoder
    np.testing.assert_array_equal(more.x_train, base.x_train)
    train = rows[split_labels(rows, split) == "train"]
    refit = Encoder.fit(
        train, ["area", "zeros", "kind"], target="price", task="regression", numeric_transform=kind
    )
    assert refit.numeric == base.encoder.numeric
    assert base.audit["numeric_transform"] == kind


# -- the target ---------------------------------------------------------------------------------
def test_auto_logs_a_skewed_positive_target_and_not_a_symmetric_one():
    rng = np.random.default_rng(0)
    skewed = rng.lognormal(10, 0.8, size=2000)
    symmetric = rng.normal(100, 10, size=2000)
    assert skewness(skewed) > LOG_SKEW > abs(skewness(symmetric))
    chosen, facts = choose_target_transform("auto", skewed, "regression")
    assert chosen == "log" and facts["chosen"] == "log" and facts["train_skewness"] > LOG_SKEW
    assert choose_target_transform("auto", symmetric, "regression")[0] == "none"
    assert (
        choose_target_transform("auto", skewed - skewed.mean(), "regression")[0] == "none"
    )  # negative values
    assert choose_target_transform("log", symmetric, "regression")[0] == "log"
    assert choose_target_transform("log", skewed, "classification")[0] == "none"


def test_log_refuses_a_negative_train_target_naming_the_key():
    rows = table().assign(price=lambda f: f["price"] - 5000.0)
    with pytest.raises(DataError, match=r"data.target_transform = 'log' needs a target >= 0"):
        load_dataset(rows, "price", target_transform="log")
    with pytest.raises(DataError, match="unknown data.target_transform"):
        load_dataset(rows, "price", target_transform="sqrt")


def test_a_log_target_keeps_user_units_and_standardises_the_log():
    data = load_dataset(table(), "price", target_transform="auto")
    assert data.target_transform == "log"
    assert data.audit["target_transform"]["chosen"] == "log"
    logs = np.log1p(data.y_train.astype(np.float64))
    assert math.isclose(data.target_mean, logs.mean()) and math.isclose(data.target_std, logs.std())
    assert data.y_train.min() > 100  # user units
    z = data.model_targets(data.y_val)
    np.testing.assert_allclose(
        z, (np.log1p(data.y_val.astype(np.float64)) - logs.mean()) / logs.std(), rtol=1e-5
    )
    np.testing.assert_allclose(data.from_model_outputs(z), data.y_val, rtol=1e-5)
    plain = load_dataset(table(), "price", target_transform="none")
    assert plain.target_transform == "none" and plain.fingerprint != data.fingerprint


def test_with_target_scale_log_is_exp_of_the_rescaled_output_minus_one():
    import keras

    from evonas.fitness.model import with_target_scale

    inp = keras.Input((2,))
    net = keras.Model(inp, keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros")(inp))
    wrapped = with_target_scale(net, 11.0, 0.5, "log")
    x = np.array([[0.0, 0.0], [1.0, -0.5], [2.0, 1.0]], dtype=np.float32)
    raw = net.predict(x, verbose=0).reshape(-1).astype(np.float64)
    got = wrapped.predict(x, verbose=0).reshape(-1)
    np.testing.assert_allclose(got, np.expm1(raw * 0.5 + 11.0), rtol=1e-6)
    assert {type(layer).__name__ for layer in wrapped.layers} >= {"Rescaling", "Activation"}
@pytest.mark.slow  # more than 2 s (tests/conftest.py FAST_LIMIT_S)
def test_a_log_objective_is_the_rmse_of_the_saved_models_val_predictions(tmp_path):
    import keras

    data = load_dataset(table(), "price", target_transform="log", numeric_transform="quantile")
    path = tmp_path / "model.keras"
    genes = random_genome(SPACE, np.random.default_rng(0))
    record = evaluate_genome(SPACE, genes, data, FAST, run_seed=0, model_path=str(path))
    assert record["status"] == "ok", record["error"]
    model = keras.models.load_model(path)  # safe_mode, no custom objects
    pred = model.predict(data.x_val, verbose=0).reshape(-1).astype(np.float64)
    rmse = float(np.sqrt(np.mean((pred - data.y_val) ** 2)))
    assert math.isclose(record["objective"], rmse, rel_tol=1e-4)
    assert record["metrics"]["val_rmse"] == record["objective"]
    assert pred.min() > 0  # exp - 1 of the log scale: prices, not log-prices


@pytest.mark.parametrize("kind", ["robust", "quantile"])
def test_the_exported_model_applies_the_numeric_transform(kind):
    import keras
    import tensorflow as tf

    from evonas.fitness.export import FLT_MAX, export_model, input_names

    rows = table()
    enc = Encoder.fit(
        rows, ["area", "zeros", "kind"], target="price", task="regression", numeric_transform=kind
    )
    inp = keras.Input((enc.n_features,))
    identity = keras.Model(inp, keras.layers.Identity()(inp))  # the exported graph's encoded rows
    exported = export_model(enc, identity)
    probe = pd.DataFrame(
        {
            "area": [np.nan, np.inf, -np.inf, FLT_MAX, -FLT_MAX, 0.0, 55.0, 1e6, *rows["area"].head(40)],
            "zeros": [0.0, 1.0, 49.0, 50.0, -3.0, 0.0, 1e9, 2.5, *rows["zeros"].head(40)],
            "kind": ["a"] * 8 + list(rows["kind"].head(40)),
        }
    )
    names = input_names(enc)
    with np.errstate(over="ignore"):
        feed = {
            names[c]: probe[c].to_numpy(np.float64).astype(np.float32).reshape(-1, 1)
            for c in ("area", "zeros")
        }
    feed[names["kind"]] = tf.constant(probe["kind"].to_numpy(object).reshape(-1, 1))
    got = exported.predict(feed, verbose=0)
    want = enc.transform(probe).x
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
