"""The refit guard: a refit must fit the train+val rows at least as well as the search's model (Keras)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evonas.evolve.records import Evaluation
from evonas.fitness import TrainSettings, evaluate_genome, load_dataset, refit_genome
from evonas.fitness.evaluate import fit_loss, train_and_val
from evonas.genome import SearchSpace
from tests.conftest import curved_prices

SPACE = SearchSpace(max_levels=2, max_units=2)
SETTINGS = TrainSettings(max_epochs=25, patience=25)


@pytest.fixture(scope="module")
def data():
    return curved_prices(400)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory, build_genes):
    """A genome trained as the search trains it (25 epochs), its model saved: the reference."""
    path = tmp_path_factory.mktemp("guard") / "own.keras"
    record = evaluate_genome(SPACE, build_genes, data, SETTINGS, 0, model_path=str(path))
    assert record["status"] == "ok", record
    return record, path


@pytest.fixture(scope="module")
def build_genes():
    layout = SPACE.layout
    g = layout.low.copy()
    g[layout.n_levels] = 1
    g[layout.neurons.start] = SPACE.neuron_choices.index(64)
    g[layout.learning_rate] = SPACE.learning_rates.index(1e-2)
    g[layout.batch_size] = SPACE.batch_sizes.index(32)
    return layout.validate(g)


def test_a_refit_trained_as_the_search_chose_is_kept_with_both_losses(data, trained, build_genes, tmp_path):
    record, own = trained
    epochs = Evaluation.from_dict(record).chosen_epochs
    path = tmp_path / "refit.keras"
    rec = refit_genome(SPACE, build_genes, data, SETTINGS, 0, epochs, str(path), reference_path=str(own))
    assert rec["status"] == "ok" and path.is_file(), rec
    assert rec["fit_loss"] <= rec["reference_fit_loss"]
    assert rec["reference_fit_loss"] == pytest.approx(fit_loss(own, train_and_val(data)))


def test_a_refit_that_fits_the_rows_worse_than_the_search_model_is_rejected(
    data, trained, build_genes, tmp_path
):
    _, own = trained
    path = tmp_path / "refit.keras"  # one epoch instead of the 25 the search trained: a refit gone astray
    rec = refit_genome(SPACE, build_genes, data, SETTINGS, 0, 1, str(path), reference_path=str(own))
    assert rec["status"] == "rejected", rec
    assert rec["fit_loss"] > rec["reference_fit_loss"] > 0
    assert "fits the train+val rows worse than the search's model" in rec["error"]
    # without a reference the same refit is kept: the guard is the only difference
    plain = refit_genome(SPACE, build_genes, data, SETTINGS, 0, 1, str(tmp_path / "plain.keras"))
    assert plain["status"] == "ok" and "fit_loss" not in plain


def test_fit_loss_is_the_rmse_in_target_units_or_the_cross_entropy(data, trained, build_genes, tmp_path):
    _, own = trained
    rows = train_and_val(data)
    rmse = fit_loss(own, rows)
    assert 0 < rmse < float(np.std(rows.y_train))  # better than predicting the mean, in the target's units
    digits = load_dataset("digits")
    path = tmp_path / "digits.keras"
    record = evaluate_genome(SPACE, build_genes, digits, TrainSettings(max_epochs=3), 0, model_path=str(path))
    assert record["status"] == "ok", record
    loss = fit_loss(path, train_and_val(digits))
    assert 0 < loss < math.log(10)  # a cross-entropy, below chance's
