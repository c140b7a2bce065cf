"""The Keras reference trainer: settings, records, determinism, refit, the fallback (real training)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evonas.fitness import (
    SettingsError,
    TrainSettings,
    evaluate_genome,
    load_dataset,
    refit_genome,
    score_test,
)
from evonas.fitness.evaluate import _train
from evonas.fitness.trainers import trainer_for
from evonas.fitness.trainers.compiled import compiled_supports
from evonas.fitness.trainers.plain import ACTIVATIONS
from evonas.genome import KNOWN_ACTIVATIONS, SearchSpace, decode
from tests.conftest import curved_prices

ROOT = Path(__file__).resolve().parents[2]
SPACE = SearchSpace(max_levels=2, max_units=2)
KERAS = TrainSettings(max_epochs=2, patience=2, trainer="keras")


@pytest.fixture(scope="module")
def regression_data():
    return curved_prices(300)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture
def genes(build):
    """Batch norm and dropout on, a lateral: what can make two trainings differ."""
    return build(
        SPACE,
        n_levels=2,
        n_units=(2, 1),
        neurons={(0, 0): 3, (0, 1): 2, (1, 0): 3},
        batchnorm=[(0, 0)],
        dropout={(0, 1): 2},
        laterals=[((0, 0), (0, 1))],
        learning_rate=3,
        batch_size=2,
    )


def test_settings_name_the_trainer_and_reject_unknown_ones():
    assert TrainSettings().trainer == "compiled"
    assert TrainSettings.from_dict({"trainer": "keras"}).trainer == "keras"
    assert TrainSettings.from_dict(TrainSettings(trainer="keras").to_dict()) == TrainSettings(trainer="keras")
    with pytest.raises(
        SettingsError, match=r"training\.trainer must be one of 'compiled', 'keras', got 'fit'"
    ):
        TrainSettings(trainer="fit")
    with pytest.raises(SettingsError, match="training.trainer"):
        TrainSettings.from_dict({"trainer": 3})


@pytest.mark.slow  # more than 2 s (tests/conftest.py FAST_LIMIT_S)
def test_keras_records_are_deterministic_and_follow_the_seed(regression_data, genes):
    first = evaluate_genome(SPACE, genes, regression_data, KERAS, run_seed=1)
    assert first["status"] == "ok", first
    assert first["objective"] == first["metrics"]["val_rmse"] and first["epochs"] == 2
    assert 1 <= first["best_epoch"] <= 2
    again = evaluate_genome(SPACE, genes, regression_data, KERAS, run_seed=1)
    assert again["objective"] == first["objective"]
    other = evaluate_genome(SPACE, genes, regression_data, KERAS, run_seed=2)
    assert other["objective"] != first["objective"]


@pytest.mark.slow  # more than 2 s (tests/conftest.py FAST_LIMIT_S)
def test_keras_classification_record_saves_and_scores(digits, genes, tmp_path):
    path = tmp_path / "m.keras"
    rec = evaluate_genome(SPACE, genes, digits, KERAS, run_seed=0, model_path=str(path))
    assert rec["status"] == "ok", rec
    assert rec["objective"] == rec["metrics"]["val_loss"] and rec["metrics"]["val_accuracy"] > 0.3
    score = score_test(str(path), digits)
    assert 0.3 * rec["objective"] < score["test_loss"] < 3 * rec["objective"]


@pytest.mark.slow  # more than 2 s (tests/conftest.py FAST_LIMIT_S)
def test_history_has_the_compiled_trainers_keys(digits, genes):
    arch = decode(SPACE, genes)
    _, compiled = _train(arch, digits, 5, 2, 3, trainer="compiled")
    _, fitted = _train(arch, digits, 5, 2, 3, trainer="keras")
    assert set(fitted) == set(compiled) == {"loss", "val_loss", "val_accuracy"}
    assert all(len(v) == 2 and all(isinstance(x, float) for x in v) for v in fitted.values())
@pytest.mark.slow  # more than 2 s (tests/conftest.py FAST_LIMIT_S)
def test_keras_refit_trains_the_given_epochs(regression_data, genes, tmp_path):
    path = tmp_path / "refit.keras"
    rec = refit_genome(SPACE, genes, regression_data, KERAS, 0, epochs=3, model_path=str(path))
    assert rec["status"] == "ok" and rec["epochs"] == 3 and path.exists(), rec
    assert rec["rows"] == len(regression_data.x_train) + len(regression_data.x_val)


def test_compiled_trainer_supports_every_activation_a_space_may_name(genes):
    assert KNOWN_ACTIVATIONS <= ACTIVATIONS
    assert compiled_supports(decode(SPACE, genes)) is None
    assert trainer_for(decode(SPACE, genes), "compiled") == "compiled"
    assert trainer_for(decode(SPACE, genes), "keras") == "keras"
@pytest.mark.slow  # more than 2 s (tests/conftest.py FAST_LIMIT_S)
def test_an_activation_without_a_written_out_form_trains_with_keras(regression_data, genes):
    """An architecture built outside a search space, with a Keras activation plain.py does not write out."""
    arch = decode(SPACE, genes)
    odd = dataclasses.replace(
        arch, units=(dataclasses.replace(arch.units[0], activation="softplus"),) + arch.units[1:]
    )
    assert "softplus" in (compiled_supports(odd) or "")
    assert trainer_for(odd, "compiled") == "keras"
    model, history = _train(odd, regression_data, 3, 2, 3, trainer="compiled")
    assert len(history["loss"]) == 2 and all(np.isfinite(history["val_loss"]))
    assert model.get_layer(f"{odd.units[0].name}_dense").activation.__name__ == "softplus"


SCRIPT = """
import sys


class NoTensorFlow:  # as on a machine without TensorFlow: any import of it fails
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow":
            raise ModuleNotFoundError(f"No module named {name!r}")


sys.meta_path.insert(0, NoTensorFlow())
import numpy as np, pandas as pd, keras
from evonas.fitness import build_model, load_dataset
from evonas.fitness.trainers.keras_fit import train_keras
from evonas.fitness.model import make_optimizer
from evonas.genome import SearchSpace, decode, random_genome
assert keras.backend.backend() == "jax"
rng = np.random.default_rng(0)
x = rng.normal(size=(200, 4))
frame = pd.DataFrame(x, columns=list("abcd"))
frame["y"] = 3 * x[:, 0] - x[:, 1] ** 2
data = load_dataset(frame, "y")
space = SearchSpace(max_levels=2, max_units=2)
arch = decode(space, random_genome(space, np.random.default_rng(1)))
runs = []
for _ in range(2):
    keras.utils.set_random_seed(4)
    model = build_model(arch, data.n_features, 1, "regression", data.feature_mean, data.feature_var, 4)
    runs.append(train_keras(model, arch, make_optimizer(arch.optimizer, arch.learning_rate), data, 2, 3, 4))
assert runs[0] == runs[1] and len(runs[0]["val_loss"]) == 2, runs
print("ok", "tensorflow" in sys.modules)
"""


def test_keras_trainer_runs_on_jax_without_tensorflow():
    """What ``benchmarks/gpu_checks.sh`` relies on (skipped where JAX is not installed)."""
    pytest.importorskip("jax")
    env = dict(os.environ, KERAS_BACKEND="jax")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, cwd=ROOT, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["ok", "False"]
