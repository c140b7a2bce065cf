"""A search with a log target and quantile features: predict, export and the objective in user units."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evonas.fitness.data import read_frame, split_labels
from tests.conftest import assert_float32_close
from tests.e2e.conftest import evonas, export_feed

pytestmark = pytest.mark.slow  # real searches (more than 2 s a test)

CONFIG = """
[data]
dataset = "ames"
numeric_transform = "quantile"
target_transform = "log"
[search]
population = 4
generations = 1
seed = 5
engine = "serial"
[training]
max_epochs = 3
patience = 1
[space]
max_levels = 2
max_units = 2
neuron_choices = [8, 16, 32]
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("transforms")
    (tmp / "ames.toml").write_text(CONFIG)
    out = tmp / "run"
    res = evonas("run", str(tmp / "ames.toml"), "--out", str(out), "--quiet")
    assert res.returncode == 0, res.stderr
    return out


def split_rows(side: str) -> tuple[pd.DataFrame, str]:
    frame, _, target, ids = read_frame("ames")
    labels = split_labels(frame.drop(columns=list(ids)), (0.70, 0.15, 0.15))
    return frame[labels == side].reset_index(drop=True), target


def test_the_run_records_both_transforms(run):
    data = json.loads((run / "data.json").read_text())
    assert data["target_transform"] == "log"
    assert data["audit"]["target_transform"]["chosen"] == "log"
    assert data["audit"]["numeric_transform"] == "quantile"
    encoder = json.loads((run / "encoder.json").read_text())
    assert encoder["format"] == 2 and encoder["numeric_transform"] == "quantile"
    assert all(len(c["knots"]) == len(c["scores"]) > 0 for c in encoder["numeric"])


def test_the_objective_is_the_rmse_of_the_inverted_val_predictions(run):
    import keras

    from evonas.evolve.api import load_data
    from evonas.evolve.config import RunConfig

    data = load_data(RunConfig.load(run / "config.toml").data)
    best = json.loads((run / "best" / "model.json").read_text())
    model = keras.models.load_model(run / "best" / "model.keras")
    pred = model.predict(data.x_val, verbose=0).reshape(-1).astype(np.float64)
    assert pred.min() > 1000  # prices, not log prices
    rmse = float(np.sqrt(np.mean((pred - data.y_val) ** 2)))
    assert rmse == pytest.approx(best["objective"], rel=1e-4)


def test_predict_and_export_give_the_saved_models_prices(run, tmp_path):
    import keras

    from evonas.fitness.encoder import Encoder

    rows, target = split_rows("test")
    path = tmp_path / "rows.csv"
    rows.to_csv(path, index=False)
    res = evonas("predict", str(run), str(path), "--out", str(tmp_path / "p.csv"))
    assert res.returncode == 0, res.stderr
    predicted = pd.read_csv(tmp_path / "p.csv")["prediction"].to_numpy()
    encoder = Encoder.from_dict(json.loads((run / "encoder.json").read_text()))
    model = keras.models.load_model(run / "best" / "refit.keras")  # refit is on by default
    want = model.predict(encoder.transform(rows).x, verbose=0).reshape(-1)
    assert_float32_close(predicted, want, log=True)  # forward and keras predict: other summation orders
    test = json.loads((run / "test.json").read_text())
    rmse = float(np.sqrt(np.mean((predicted - rows[target].to_numpy()) ** 2)))
    assert rmse == pytest.approx(test["refit"]["test_rmse"], rel=1e-6)

    exported_path = tmp_path / "model.keras"
    res = evonas("export", str(run), "--to", str(exported_path))
    assert res.returncode == 0, res.stderr
    exported = keras.models.load_model(exported_path)
    got = exported.predict(export_feed(encoder, rows), verbose=0).reshape(-1)
    np.testing.assert_allclose(got, predicted, rtol=1e-4)
