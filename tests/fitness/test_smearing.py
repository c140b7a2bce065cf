"""training.smearing: Duan's factor on a log target, fitted on the train rows, inside the saved model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evonas.fitness import SettingsError, TrainSettings, evaluate_genome, load_dataset, refit_genome
from evonas.fitness.evaluate import forward
from evonas.genome import SearchSpace


@pytest.fixture(scope="module")
def wages():
    """A skewed target with a wide multiplicative noise (log residuals of about 0.5, as wages have)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    y = np.exp(2.0 + x @ [0.4, -0.3, 0.2] + rng.normal(scale=0.5, size=600))
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y})
    data = load_dataset(frame, "y", target_transform="log")
    assert data.target_transform == "log"
    return data


@pytest.mark.slow  # three trainings (more than 2 s)
def test_the_factor_is_fitted_on_the_train_rows_and_saved_in_the_model(wages, build, tmp_path):
    import keras

    space = SearchSpace(max_levels=1, max_units=1)
    genes = build(space, n_levels=1, n_units=(1,), neurons={(0, 0): 3})
    plain = TrainSettings(max_epochs=8, patience=3)
    smeared = TrainSettings(max_epochs=8, patience=3, smearing=True)
    a = evaluate_genome(space, genes, wages, plain, 1, model_path=str(tmp_path / "plain.keras"))
    b = evaluate_genome(space, genes, wages, smeared, 1, model_path=str(tmp_path / "smeared.keras"))
    assert "smear" not in a and b["smear"] > 1.05  # exp(0.5**2 / 2) = 1.13 for the true model
    assert b["epochs"] == a["epochs"]  # the same training; only its predictions change
    p = forward(keras.models.load_model(tmp_path / "plain.keras"), wages.x_val).reshape(-1)
    q = forward(keras.models.load_model(tmp_path / "smeared.keras"), wages.x_val).reshape(-1)
    np.testing.assert_allclose((q + 1) / (p + 1), b["smear"], rtol=1e-4)  # float32's rounding
    rmse = float(np.sqrt(np.mean((q - wages.y_val) ** 2)))
    assert b["objective"] == pytest.approx(rmse, rel=1e-4)  # the val RMSE is the saved model's
    assert b["objective"] < a["objective"]  # the mean, not the median, is what the RMSE scores
    refit = refit_genome(space, genes, wages, smeared, 1, a["best_epoch"], str(tmp_path / "refit.keras"))
    assert refit["status"] == "ok" and refit["smear"] > 1.0 and refit["smear"] != b["smear"]  # train+val rows


def test_smearing_must_be_true_false_or_auto():
    with pytest.raises(SettingsError, match='training.smearing must be true, false or "auto"'):
        TrainSettings(smearing="yes")


def test_auto_smears_where_a_training_fits_large_rows_or_more():
    from evonas.fitness import LARGE_ROWS

    auto = TrainSettings()
    assert auto.smearing == "auto"
    assert not auto.smears(LARGE_ROWS - 1) and auto.smears(LARGE_ROWS)
    assert auto.for_rows(LARGE_ROWS).smearing is True and auto.for_rows(600).smearing is False
    assert TrainSettings(smearing=False).smears(10**6) is False
    assert TrainSettings(smearing=True).for_rows(10).smearing is True


def test_a_run_decides_auto_once_from_its_rows_and_saves_it(tmp_path):
    from evonas.evolve.config import RunConfig, for_dataset

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=20_000)})
    frame["y"] = np.exp(frame["a"] + rng.normal(scale=0.3, size=20_000))
    large = load_dataset(frame, "y", target_transform="log")  # 14,000 train rows
    config = for_dataset(RunConfig(), large)
    assert config.training.smearing is True
    path = tmp_path / "config.toml"
    path.write_text(config.dumps())
    assert RunConfig.load_saved(path).training.smearing is True
    # a configuration saved before training.smearing existed keeps the predictions it had
    path.write_text(config.dumps().replace("smearing = true\n", ""))
    assert RunConfig.load_saved(path).training.smearing is False
