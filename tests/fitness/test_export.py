"""The exported raw-rows model: same outputs as encoder + network, standard layers only (real Keras)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evonas.fitness import TrainSettings, evaluate_genome, load_dataset
from evonas.fitness.encoder import MISSING, Encoder
from evonas.fitness.export import FLT_MAX, OUTPUT, export_model, input_names
from evonas.genome import SearchSpace, random_genome

SPACE = SearchSpace(max_levels=2, max_units=2, neuron_choices=(8, 16))
FAST = TrainSettings(max_epochs=2, patience=1)


def raw_frame(task: str, n: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    size = rng.normal(50, 10, size=n)
    size[rng.random(n) < 0.15] = np.nan
    rooms = rng.integers(1, 6, size=n).astype(float)
    kind = rng.choice(np.array(["flat", "house", "loft"], dtype=object), size=n)
    kind[rng.random(n) < 0.1] = None
    y = 3 * np.nan_to_num(size, nan=50) + 20 * rooms + np.where(kind == "house", 40, 0) + rng.normal(0, 5, n)
    frame = pd.DataFrame({"size m2": size, "rooms": rooms, "kind": kind})
    frame["y"] = y if task == "regression" else np.where(y < 200, "low", np.where(y < 240, "mid", "high"))
    return frame


def trained(task: str, tmp_path_factory):
    import keras

    data = load_dataset(raw_frame(task), "y")
    assert data.task == task
    path = tmp_path_factory.mktemp(task) / "model.keras"
    genes = random_genome(SPACE, np.random.default_rng(0))
    record = evaluate_genome(SPACE, genes, data, FAST, run_seed=0, model_path=str(path))
    assert record["status"] == "ok", record["error"]
    return data.encoder, keras.models.load_model(path)


@pytest.fixture(scope="module")
def regression(tmp_path_factory):
    return trained("regression", tmp_path_factory)


@pytest.fixture(scope="module")
def classification(tmp_path_factory):
    return trained("classification", tmp_path_factory)


# the rows the encoder sees, and how the same rows are given to the exported model (text "" = missing)
ROWS = pd.DataFrame(
    {
        "size m2": [np.nan, np.inf, -np.inf, 1e39, -1e300, FLT_MAX, 48.5, 0.0, -3.0, 61.0],
        "rooms": [3.0, np.nan, 2.0, 1.0, 5.0, 4.0, np.inf, 2.0, 3.0, 1.0],
        "kind": [None, "house", "castle", None, "flat", "loft", "", "house", None, "flat"],
    }
)
FED_TEXT = ["", "house", "castle", MISSING, "flat", "loft", "", "house", "", "flat"]


def feed(encoder: Encoder, rows: pd.DataFrame, text: dict[str, list[str]]) -> dict:
    import tensorflow as tf

    names = input_names(encoder)
    out = {}
    with np.errstate(over="ignore"):
        for col in encoder.numeric:
            out[names[col.name]] = rows[col.name].to_numpy(np.float64).astype(np.float32).reshape(-1, 1)
    for col in encoder.categorical:
        out[names[col.name]] = tf.constant(np.array(text[col.name], dtype=object).reshape(-1, 1))
    return out


def reference(encoder: Encoder, model, rows: pd.DataFrame) -> np.ndarray:
    # the row given "" in a text column is missing: the encoder reads it as None (as read_table_file does)
    return model.predict(encoder.transform(rows).x, verbose=0)


@pytest.mark.parametrize("task", ["regression", "classification"])
@pytest.mark.slow  # both over 2 s (regression 2.3 s in the fresh-clone fast tier, 2026-12-07)
def test_exported_model_predicts_as_encoder_and_network(task, request):
    encoder, model = request.getfixturevalue(task)
    assert any(c.indicator for c in encoder.numeric)  # the NaN train sizes give a "size m2:missing" column
    assert MISSING in encoder.categorical[0].levels
    exported = export_model(encoder, model)
    rows = ROWS.assign(kind=ROWS["kind"].replace("", None))
    want = reference(encoder, model, rows)
    got = exported.predict(feed(encoder, ROWS, {"kind": FED_TEXT}), verbose=0)
    assert got.shape == want.shape
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * scale)
    if task == "classification":
        np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)


def test_exported_model_reuses_the_trained_weights(regression):
    encoder, model = regression
    exported = export_model(encoder, model)
    inner = exported.get_layer(model.name)
    assert inner is model
    assert exported.layers[-1].name == OUTPUT
    assert sorted(i.name for i in exported.inputs) == sorted(["size_m2", "rooms", "kind"])
    dtypes = {i.name: str(i.dtype) for i in exported.inputs}
    assert dtypes == {"size_m2": "float32", "rooms": "float32", "kind": "string"}


def test_saved_file_loads_in_safe_mode_with_standard_layers_only(classification, tmp_path):
    import keras

    encoder, model = classification
    path = tmp_path / "raw.keras"
    export_model(encoder, model).save(path)
    loaded = keras.models.load_model(path)  # default safe_mode, no custom_objects
    modules = {type(layer).__module__.split(".")[0] for layer in loaded._flatten_layers()}
    assert modules == {"keras"}
    names = {type(layer).__name__ for layer in loaded._flatten_layers()}
    assert "Lambda" not in names
    want = reference(encoder, model, ROWS.assign(kind=ROWS["kind"].replace("", None)))
    got = loaded.predict(feed(encoder, ROWS, {"kind": FED_TEXT}), verbose=0)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_the_standard_layer_behaviour_the_nan_handling_relies_on():
    import keras

    x = np.array([[np.nan], [np.inf], [-np.inf], [FLT_MAX], [-FLT_MAX], [1.5], [0.0]], dtype=np.float32)
    buckets = keras.layers.Discretization(bin_boundaries=[-FLT_MAX, float("inf")], output_mode="int")(x)
    b = np.asarray(buckets).ravel()
    assert b[0] in (0, 2) and b[1:].tolist() == [2, 0, 1, 1, 1, 1]
    tiny = float(np.finfo(np.float32).smallest_subnormal)
    relu = np.asarray(keras.layers.ReLU(threshold=tiny, max_value=FLT_MAX)(x)).ravel()
    assert relu.tolist() == [0.0, FLT_MAX, 0.0, FLT_MAX, 0.0, 1.5, 0.0]


def test_input_names_are_safe_unique_and_avoid_the_graph_names():
    rows = pd.DataFrame(
        {"a b": [1.0, 2.0], "a_b": [1.0, 2.0], "_x": [1.0, 2.0], "prediction": ["u", "v"], "ok.1": ["u", "v"]}
    )
    encoder = Encoder.fit(rows, list(rows.columns), target="y", task="regression")
    assert input_names(encoder) == {
        "a b": "a_b",
        "a_b": "a_b_2",
        "_x": "col__x",
        "prediction": "prediction_2",
        "ok.1": "ok.1",
    }


def test_a_model_of_another_width_is_refused(regression):
    encoder, model = regression
    other = Encoder.fit(pd.DataFrame({"z": [1.0, 2.0]}), ["z"], target="y", task="regression")
    with pytest.raises(ValueError, match="features"):
        export_model(other, model)
    assert encoder.n_features == model.inputs[0].shape[-1]


@pytest.mark.parametrize(
    "train",
    [
        pd.DataFrame({"only": [1.0, 2.0, 4.0]}),  # one numeric column, no indicator: no Concatenate at all
        pd.DataFrame({"kind": ["a", "b", "a"]}),  # text only, no "<missing>" level: "" is unseen
    ],
)
def test_a_single_column_exports_too(train):
    import keras

    encoder = Encoder.fit(train, list(train.columns), target="y", task="regression")
    inputs = keras.Input(shape=(encoder.n_features,), name="features")
    model = keras.Model(inputs, keras.layers.Dense(1, name="output")(inputs), name="evonas_single")
    rows = pd.DataFrame({c: [np.nan, 3.0] if c == "only" else [None, "b"] for c in train.columns})
    text = {c: ["", "b"] for c in train.columns if c == "kind"}
    got = export_model(encoder, model).predict(feed(encoder, rows, text), verbose=0)
    np.testing.assert_allclose(got, reference(encoder, model, rows), atol=1e-6)
