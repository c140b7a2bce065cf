"""The runner with ``search.replicates``: each replicate a new seed in the journal, a network judged by
the mean of its replicates, and a run stopped in the middle of a race resumes as if it had not stopped."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from evonas import RunConfig, resume_search, run_search
from evonas.evolve.api import load_data
from evonas.evolve.rundir import RunDir
from evonas.evolve.search import Search
from evonas.fitness import evaluate_genome, fold_data

pytestmark = pytest.mark.slow  # real (tiny) searches: more than 2 s a test

CONFIG = RunConfig().with_overrides(
    data={"dataset": "digits"},
    search={
        "population": 4,
        "generations": 2,
        "engine": "serial",
        "seed": 3,
        "refit": False,
        "replicates": 2,
    },
    training={"max_epochs": 2, "patience": 1},
    space={"max_levels": 2, "max_units": 2, "neuron_choices": [8, 16]},
)
QUIET = {"progress": False, "log": lambda line: None}


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def raced(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("raced") / "run"
    run_search(CONFIG, out, **QUIET)
    return out


def test_each_replicate_is_a_new_seed_in_the_journal_and_a_network_is_judged_by_the_mean(raced):
    journal = jsonl(raced / "evaluations.jsonl")
    by_key: dict[str, list[dict]] = {}
    for r in journal:
        by_key.setdefault(r["key"], []).append(r)
    for key, records in by_key.items():  # replicates 0, 1 in order, each once, each its own seed
        assert [r["replicate"] for r in records] == list(range(len(records))), key
        assert len(records) <= 2 and len({r["seed"] for r in records}) == len(records)
    assert any(len(records) == 2 for records in by_key.values())  # the race ran
    last = max(r["generation"] for r in jsonl(raced / "individuals.jsonl"))
    for row in jsonl(raced / "individuals.jsonl"):
        if row["generation"] != last or row["status"] != "ok":
            continue
        told = [r["objective"] for r in by_key[row["key"]] if r["generation"] <= last]
        assert math.isclose(row["objective"], math.fsum(told) / len(told), rel_tol=1e-12)
    best = json.loads((raced / "best/model.json").read_text())
    told = [r["objective"] for r in by_key[best["key"]]]
    assert best["replicates"] == len(told) == 2  # the incumbent was raced
    assert math.isclose(best["objective"], math.fsum(told) / 2, rel_tol=1e-12)
    test = json.loads((raced / "test.json").read_text())
    assert test["key"] == best["key"]


def test_a_run_stopped_in_the_middle_of_a_race_resumes_as_if_it_had_not_stopped(raced, tmp_path):
    stopped = tmp_path / "stopped"
    run_search(CONFIG.with_overrides(search={"generations": 1}), stopped, **QUIET)
    # what the uninterrupted run trained in generation 2 before "the stop": its first three evaluations
    done = [r for r in jsonl(raced / "evaluations.jsonl") if r["generation"] == 2][:3]
    assert [r["key"] for r in jsonl(stopped / "evaluations.jsonl")] == [
        r["key"] for r in jsonl(raced / "evaluations.jsonl") if r["generation"] <= 1
    ]
    with (stopped / "evaluations.jsonl").open("a") as f:
        f.writelines(json.dumps(r) + "\n" for r in done)
    resume_search(stopped, generations=2, **QUIET)
    assert (stopped / "individuals.jsonl").read_text() == (raced / "individuals.jsonl").read_text()
    assert (stopped / "best/model.json").read_text() == (raced / "best/model.json").read_text()
    slots = [(r["key"], r["replicate"]) for r in jsonl(stopped / "evaluations.jsonl")]
    assert sorted(slots) == sorted((r["key"], r["replicate"]) for r in jsonl(raced / "evaluations.jsonl"))


def test_a_number_of_trainings_stops_the_search_at_a_generation_boundary(tmp_path):
    config = CONFIG.with_overrides(search={"replicates": 1, "generations": 9})
    out = tmp_path / "run"
    shutil.rmtree(out, ignore_errors=True)
    run = RunDir.create(out, config)
    search = Search(run, config, load_data(config.data), **QUIET)
    assert search.run_generations(9, trainings=5) is False
    per_generation = {}
    for r in run.evaluations():
        per_generation[r["generation"]] = per_generation.get(r["generation"], 0) + 1
    assert search.trainings == len(run.evaluations()) >= 5
    assert search.trainings - per_generation[search.generation] < 5  # the generation that reached it ends
    assert search.generation < 9


def test_a_cross_validated_search_trains_replicate_r_on_fold_r(tmp_path):
    config = CONFIG.with_overrides(search={"replicates": 1, "folds": 3, "generations": 1})
    out = tmp_path / "run"
    run_search(config, out, **QUIET)
    journal = jsonl(out / "evaluations.jsonl")
    assert all(r["fold"] == r["replicate"] for r in journal)
    slots = [(r["key"], r["fold"]) for r in journal]
    assert len(slots) == len(set(slots)) and max(fold for _, fold in slots) == 2  # the incumbent: 3 folds
    best = json.loads((out / "best/model.json").read_text())
    assert best["replicates"] == 3
    # a fold's record is the network's training on that fold (the same seed: the same objective)
    data = load_data(config.data)
    space = config.space.for_data(data.task, embeddable=bool(data.ple_bins))
    genes = {r["key"]: r["genes"] for r in jsonl(out / "individuals.jsonl")}
    record = next(r for r in journal if r["fold"] == 2)
    again = evaluate_genome(
        space,
        np.asarray(genes[record["key"]]),
        fold_data(data, 2, 3),
        config.training,
        config.search.seed,
        replicate=2,
    )
    assert math.isclose(again["objective"], record["objective"], rel_tol=1e-4)


def test_a_time_budget_without_generations_bounds_the_search_by_itself(tmp_path):
    """Issue 35: with a budget and no ``generations`` the search runs until the budget stops it."""
    config = RunConfig().with_overrides(
        data={"dataset": "digits"},
        search={"population": 2, "elites": 1, "engine": "serial", "refit": False, "time_budget": "30s"},
        training={"max_epochs": 1, "patience": 1},
        space={"max_levels": 1, "max_units": 2, "neuron_choices": [8, 16]},
    )
    assert config.search.generations is None and math.isinf(config.search.generation_limit(True))
    lines: list[str] = []
    run_search(config, tmp_path / "run", progress=False, log=lines.append)
    last = json.loads((tmp_path / "run" / "checkpoint.json").read_text())["generation"]
    assert last > 5  # past the 5 generations a search without a budget runs
    stop = [line for line in lines if "stopped the search" in line]
    assert len(stop) == 1 and f"stopped the search after generation {last}, " in stop[0]
    assert "without --time-budget, up to generation 5" in stop[0]


def test_the_time_budget_counts_from_the_commands_start(tmp_path):
    """Issue 35: the budget covers the whole command: what ran before the search (loading the data,
    ``started`` seconds ago) is spent from it, so a budget already spent stops after generation 0."""
    import time

    config = CONFIG.with_overrides(search={"replicates": 1, "generations": 3, "time_budget": "60s"})
    lines: list[str] = []
    run_search(config, tmp_path / "run", progress=False, log=lines.append, started=time.perf_counter() - 60)
    assert json.loads((tmp_path / "run" / "checkpoint.json").read_text())["generation"] == 0
    stop = [line for line in lines if "stopped the search" in line]
    assert len(stop) == 1 and "after generation 0 of 3, 1 min" in stop[0], stop


def test_a_cross_validated_search_can_retrain_on_every_pooled_row_instead_of_averaging_its_folds(tmp_path):
    """``search.refit = "rows"`` with folds: the best retrained on the train and validation rows for
    the mean of its folds' best epochs (no fold models kept), as without folds."""
    config = CONFIG.with_overrides(search={"replicates": 1, "folds": 3, "generations": 1, "refit": "rows"})
    run_search(config, tmp_path / "run", **QUIET)
    refit = json.loads((tmp_path / "run" / "best/refit.json").read_text())
    assert refit["status"] in ("ok", "rejected") and "kind" not in refit and refit["epochs"] >= 1
    data = load_data(config.data)
    assert refit["rows"] == len(data.y_train) + len(data.y_val)
    assert not (tmp_path / "run" / "best/folds").exists()
