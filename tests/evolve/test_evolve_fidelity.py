"""Multi-fidelity: the rules (evolve.fidelity) and a short training being the start of the full one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evonas.evolve.fidelity import complete, is_short, promoted, rung_epochs, rung_rows
from evonas.fitness import TrainSettings, evaluate_genome, load_dataset
from evonas.genome import SearchSpace


def _short(key, objective, epochs=6, best=5, individual=0, cap=6, status="ok"):
    return {
        "key": key,
        "objective": objective,
        "epochs": epochs,
        "best_epoch": best,
        "epoch_cap": cap,
        "individual": individual,
        "status": status,
    }


def test_rung_is_a_fifth_of_the_cap_rounded_up():
    assert [rung_epochs(n) for n in (1, 5, 6, 30, 31)] == [1, 1, 2, 6, 7]


def test_complete_when_early_stopping_already_ended_it():
    assert complete(_short("a", 1.0, epochs=4, best=2), patience=4)  # stopped before the cap
    assert complete(_short("a", 1.0, epochs=6, best=2), patience=4)  # stopped at the cap by patience
    assert not complete(_short("a", 1.0, epochs=6, best=5), patience=4)  # still improving
    assert complete(_short("a", None, status="failed"), patience=4)
    assert is_short(_short("a", 1.0)) and not is_short({"key": "a"})


def test_promotes_the_best_quarter_of_the_open_ones_at_least_one():
    records = [_short(f"k{i}", float(10 - i), individual=i) for i in range(8)]
    records.append(_short("done", 0.0, epochs=3, best=1, individual=9))  # complete: never promoted
    assert promoted(records, patience=4) == ["k7", "k6"]
    assert promoted(records[:1], patience=4) == ["k0"]
    ties = [_short("b", 1.0, individual=5), _short("a", 1.0, individual=2)] + [
        _short(f"x{i}", 2.0, individual=10 + i) for i in range(6)
    ]
    assert promoted(ties, patience=4) == ["a", "b"]  # ties by individual id
    assert promoted([records[-1]], patience=4) == []


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    frame["y"] = rng.normal(size=300)  # noise: the validation loss soon stops improving
    return load_dataset(frame, "y")


@pytest.mark.slow  # more than 2 s (tests/conftest.py FAST_LIMIT_S)
@pytest.mark.parametrize("trainer", ["compiled", "keras"])
def test_a_short_training_is_the_start_of_the_full_one(table, build, trainer):
    """The same first epochs: a short training that early stopping ended records what the full one does."""
    space = SearchSpace(max_levels=1, max_units=1)
    genes = build(space, n_levels=1, n_units=(1,), neurons={(0, 0): 3}, learning_rate=5, lr_schedule=1)
    settings = TrainSettings(max_epochs=20, patience=2, trainer=trainer)
    full = evaluate_genome(space, genes, table, settings, run_seed=3)
    assert full["status"] == "ok" and full["epochs"] < 20  # early stopping ended it
    short = evaluate_genome(space, genes, table, settings, run_seed=3, epoch_cap=full["epochs"])
    assert short["epoch_cap"] == full["epochs"] and complete(short, settings.patience)
    assert (short["objective"], short["best_epoch"], short["epochs"]) == (
        full["objective"],
        full["best_epoch"],
        full["epochs"],
    )
    first = evaluate_genome(space, genes, table, settings, run_seed=3, epoch_cap=1)
    assert first["epochs"] == 1 and first["objective"] > full["objective"]


def test_a_row_sample_on_large_tables_only_a_quarter_at_least_the_minimum():
    assert rung_rows(43_112) == 10_778  # a quarter
    assert rung_rows(19_680) == 5_000  # the minimum
    assert rung_rows(10_000) == 5_000 and rung_rows(9_999) is None  # never more than half
    assert rung_rows(1_000, minimum=200) == 250


def test_a_row_sample_is_short_and_never_complete():
    sample = {**_short("a", 1.0, epochs=3, best=1, cap=None), "row_cap": 5000}
    assert sample["epoch_cap"] is None and is_short(sample)
    assert not complete(sample, patience=1)  # early stopping ended it, but on a quarter of the rows
    assert complete({**sample, "status": "failed", "objective": None}, patience=1)
    assert promoted([sample], patience=1) == ["a"]


def test_a_row_sample_training_fits_the_sample_and_says_so(table, build):
    space = SearchSpace(max_levels=1, max_units=1)
    genes = build(space, n_levels=1, n_units=(1,), neurons={(0, 0): 3})
    settings = TrainSettings(max_epochs=3, patience=2)
    rows = len(table.y_train)
    sample = evaluate_genome(space, genes, table, settings, run_seed=3, row_cap=rows // 4)
    full = evaluate_genome(space, genes, table, settings, run_seed=3)
    assert sample["status"] == full["status"] == "ok"
    assert sample["row_cap"] == rows // 4 and "row_cap" not in full
    assert sample["objective"] != full["objective"]
    assert "row_cap" not in evaluate_genome(space, genes, table, settings, run_seed=3, row_cap=rows)
