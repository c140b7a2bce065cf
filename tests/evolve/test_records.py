"""evolve.records (the typed records of a run) and evolve.delivered (what a run delivers, decided once)."""

from __future__ import annotations

import pytest

from evonas.evolve.config import RunConfig
from evonas.evolve.delivered import delivered_model
from evonas.evolve.records import Evaluation, Refit, TestRecord
from evonas.evolve.rundir import BEST, ENSEMBLE, REFIT, RunDir


def test_an_evaluation_reads_a_journal_line_and_keeps_the_fields_it_does_not_name():
    line = {"key": "k1", "status": "ok", "objective": 2.5, "metrics": {"val_rmse": 2.5}, "params": 10,
            "epochs": 9, "seconds": 1.5, "seed": 7, "error": None, "best_epoch": 5, "generation": 3,
            "individual": 12, "replicate": 1}  # fmt: skip
    e = Evaluation.from_dict(line)
    assert e.ok and e.chosen_epochs == 5 and e.replicate == 1 and e.epoch_cap is None
    assert e.extra == {"generation": 3, "individual": 12}
    older = Evaluation.from_dict({"key": "k2", "status": "ok", "objective": 1.0, "epochs": 6})
    assert older.chosen_epochs == 6  # no best_epoch (an older journal): all it trained
    failed = Evaluation.from_dict(
        {"key": "k3", "status": "failed", "objective": None, "epochs": 0, "error": "x"}
    )
    assert not failed.ok and failed.error == "x"
    assert Evaluation.from_dict({"key": "k4", "status": "ok", "epochs": 4, "epoch_cap": 4}).epoch_cap == 4
    # no status (no journal line lacks one): an objective makes it a success, none a failure
    assert Evaluation.from_dict({"key": "k5", "objective": 1.0, "epochs": 3}).ok
    assert not Evaluation.from_dict({"key": "k6", "objective": None}).ok
    with pytest.raises(AttributeError):
        e.status = "failed"  # type: ignore[misc]  (frozen)


def test_a_refit_record_says_how_it_was_made():
    rows = Refit.from_dict({"status": "ok", "key": "k", "id": 3, "epochs": 12, "rows": 900})
    assert rows.ok and rows.kind == "rows" and rows.epochs == 12
    folds = Refit.from_dict({"status": "ok", "kind": "folds", "folds": 5, "trained": 2, "rows": 900})
    assert folds.kind == "folds" and folds.trained == 2
    rejected = Refit.from_dict({"status": "rejected", "error": "fits worse"})
    assert rejected.status == "rejected" and not rejected.ok and rejected.error == "fits worse"


BEST_ONLY = {"id": 4, "key": "k", "test_rmse": 10.0, "test_rows": 50}


@pytest.mark.parametrize(
    ("extra", "delivered", "figure"),
    [
        ({}, "best", 10.0),
        ({"refit": {"test_rmse": 9.0, "rows": 90, "epochs": 3}}, "refit", 9.0),
        ({"refit": {"error": "fits worse", "rejected": True}}, "best", 10.0),
        ({"refit": {"error": "boom"}}, "best", 10.0),
        ({"refit": {"test_rmse": 9.0}, "ensemble": {"ids": [4, 5], "test_rmse": 8.0}}, "ensemble", 8.0),
        (
            {
                "refit": {"test_rmse": 9.0},
                "ensemble": {"ids": [4, 5], "test_rmse": 8.0, "refit": {"test_rmse": 7.0}},
            },
            "ensemble refit",
            7.0,
        ),
    ],
)
def test_the_test_record_names_the_delivered_model_and_its_figure(extra, delivered, figure):
    test = TestRecord.from_dict({**BEST_ONLY, **extra})
    assert test.delivered == delivered
    assert test.delivered_scores() == {"test_rmse": figure}
    assert test.best == {"test_rmse": 10.0} and test.rows == 50 and test.id == 4


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"model")
    return path


def test_the_delivered_model_is_the_ensemble_then_the_refit_then_the_best(tmp_path):
    run = RunDir.create(tmp_path / "run", RunConfig())
    assert delivered_model(run, 1) is None  # no generation finished yet

    run.write_json(BEST, {"id": 4, "key": "k4", "objective": 1.0})
    best = _touch(run.best_model_path)
    d = delivered_model(run, 1)
    assert d is not None and d.paths == (best,) and d.ids == (4,) and not d.refitted and not d.ensemble

    run.write_json(REFIT, {"status": "rejected", "key": "k4", "id": 4, "error": "fits worse"})
    assert delivered_model(run, 1).paths == (best,)  # the refit guard kept the search's model
    refit = _touch(run.refit_model_path)
    run.write_json(REFIT, {"status": "ok", "key": "k4", "id": 4, "epochs": 3, "rows": 90})
    d = delivered_model(run, 1)
    assert d.paths == (refit,) and d.refitted
    run.write_json(REFIT, {"status": "ok", "key": "an older best", "id": 2, "epochs": 3, "rows": 90})
    assert delivered_model(run, 1).paths == (best,)  # a refit of another network is not the best's

    members = [
        {"id": 4, "key": "k4", "refit": {"status": "ok"}, "weight": 3},
        {"id": 7, "key": "k7", "refit": {"status": "failed"}, "weight": 1},
        {"id": 9, "key": "k9", "refit": {"status": "ok"}, "weight": 0},
    ]
    for m in members:
        _touch(run.member_model_path(m["id"]))
        _touch(run.member_refit_path(m["id"]))
    run.write_json(ENSEMBLE, {"size": 3, "members": members})
    d = delivered_model(run, 3)
    assert d.ensemble and d.ids == (4, 7) and d.keys == ("k4", "k7") and d.weights == (3.0, 1.0)
    assert d.paths == (run.member_refit_path(4), run.member_model_path(7)) and d.refitted
    assert delivered_model(run, 1).paths == (best,)  # the same run, read as without an ensemble


def test_fidelity_reads_only_short_trainings():
    from evonas.evolve.fidelity import complete

    short = {"key": "k", "status": "ok", "objective": 1.0, "epochs": 6, "best_epoch": 6, "epoch_cap": 6}
    assert not complete(short, patience=2)  # still improving at its cap
    assert complete({**short, "best_epoch": 3}, patience=2)  # early stopping would have stopped it
    assert complete({**short, "status": "failed", "objective": None}, patience=2)
    with pytest.raises(ValueError, match="no epoch_cap"):
        complete({k: v for k, v in short.items() if k != "epoch_cap"}, patience=2)
