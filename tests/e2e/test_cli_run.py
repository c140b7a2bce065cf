"""End to end: the real `evonas` command line, real Keras training, tiny budgets."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import TINY, evonas, jsonl

pytestmark = pytest.mark.slow  # real searches (more than 2 s a test)


@pytest.fixture(scope="module")
def ames_runs(ames_run, tmp_path_factory):
    """The same seed twice: once on two loky workers (the shared ``ames_run``), once on the serial engine."""
    a, run_a = ames_run
    root = tmp_path_factory.mktemp("ames-in-process")
    b = evonas(
        "run", "--dataset", "ames", *TINY, "--seed", "3", "--engine", "serial", "--out", str(root / "b"),
    )
    return run_a, root / "b", a, b


def test_ames_run_writes_the_run_directory_and_reports(ames_runs):
    run, _, a, _ = ames_runs
    assert a.returncode == 0, a.stderr
    for name in (
        "config.toml",
        "data.json",
        "evaluations.jsonl",
        "individuals.jsonl",
        "best/model.keras",
        "test.json",
    ):
        assert (run / name).exists(), name
    assert not (run / "models").exists()  # scratch models are cleaned up
    out = a.stdout
    assert "gen   0 |" in out and "gen   1 |" in out
    assert "Best 5 genomes" in out and "val RMSE" in out
    assert "test RMSE" in out and "held-out rows" in out
    individuals = jsonl(run / "individuals.jsonl")
    assert [i["generation"] for i in individuals] == [0] * 4 + [1] * 4
    assert {i["operator"] for i in individuals[:4]} == {"init"}
    ids = {i["id"] for i in individuals}
    for ind in individuals[4:]:
        assert ind["parents"] and set(ind["parents"]) <= ids
    best = json.loads((run / "best/model.json").read_text())
    ok = [i for i in individuals if i["status"] == "ok"]
    assert best["objective"] == min(i["objective"] for i in ok)


def test_same_seed_gives_identical_individuals_whatever_the_engine(ames_runs):
    run_a, run_b, _, b = ames_runs
    assert b.returncode == 0, b.stderr
    assert "one candidate at a time in this process" in b.stdout
    assert (run_a / "individuals.jsonl").read_text() == (run_b / "individuals.jsonl").read_text()
    assert json.loads((run_a / "test.json").read_text()) == json.loads((run_b / "test.json").read_text())


def test_an_architecture_already_evaluated_is_not_trained_again(ames_runs):
    run, _, _, _ = ames_runs
    individuals = jsonl(run / "individuals.jsonl")
    evaluations = jsonl(run / "evaluations.jsonl")
    keys = [e["key"] for e in evaluations]
    assert len(keys) == len(set(keys)) == len({i["key"] for i in individuals})
    elites = [i for i in individuals if i["operator"] == "elite"]
    assert elites and all(i["cached"] for i in elites)
    assert sum(not i["cached"] for i in individuals) == len(evaluations)


def test_show_summarises_a_run(ames_runs):
    run, _, _, _ = ames_runs
    shown = evonas("show", str(run))
    assert shown.returncode == 0, shown.stderr
    assert (
        "By generation" in shown.stdout and "Best 5 genomes" in shown.stdout and "test RMSE" in shown.stdout
    )


def test_mnist5k_classification_run(mnist_run):
    res, out = mnist_run
    assert res.returncode == 0, res.stderr
    assert "val loss" in res.stdout and "test accuracy" in res.stdout
    test = json.loads((out / "test.json").read_text())
    assert test["test_accuracy"] > 0.3  # 10 classes, chance is 0.1
    evaluations = jsonl(out / "evaluations.jsonl")
    assert all(0 <= e["metrics"]["val_accuracy"] <= 1 for e in evaluations if e["status"] == "ok")
