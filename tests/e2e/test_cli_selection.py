"""Every selection strategy on real tiny searches, and the multi-objective front.

The conformance suite's end-to-end half (the pure half is
``tests/evolve/test_selection.py``), parametrised over the registry: a strategy's
search is reproducible by seed and engine: stopped after generation 1 on a Dask
cluster and resumed there, it writes the same ``individuals.jsonl``, ``front.csv``
and trainings as the uninterrupted local run (the serial engine). Each run has two objectives (val and the
parameter count, both functions of the genome), so every strategy keeps a front.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from evonas.evolve.objectives import dominates
from evonas.evolve.selection import STRATEGIES
from evonas.fitness.data import read_frame
from tests.e2e.conftest import dask_cluster, evonas, jsonl

pytestmark = pytest.mark.slow  # real searches (more than 2 s a test)

CONFIG = """
[data]
dataset = "digits"
[search]
population = 4
generations = 2
seed = 5
engine = "serial"
refit = false
objectives = "val,params"
[training]
max_epochs = 1
patience = 1
[space]
max_levels = 2
max_units = 2
neuron_choices = [8, 16, 32]
embeddings = ["none"]
"""
NAMES = sorted(STRATEGIES)


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("selection") / "tiny.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def uninterrupted(config, tmp_path_factory) -> dict[str, Path]:
    """Each strategy's search, uninterrupted, in this process (the serial engine)."""
    runs = {}
    for name in NAMES:
        out = tmp_path_factory.mktemp(f"full-{name}") / "run"
        res = evonas("run", str(config), "--selection", name, "--out", str(out), "--quiet")
        assert res.returncode == 0, res.stderr
        runs[name] = out
    return runs


@pytest.fixture(scope="module")
def on_dask(config, tmp_path_factory) -> dict[str, Path]:
    """Each strategy's search on one Dask cluster (a scheduler and two workers on 127.0.0.1), stopped
    after generation 1 and resumed there to generation 2 (the run's own engine, the cluster)."""
    tmp = tmp_path_factory.mktemp("dask-selection")
    runs = {}
    with dask_cluster(tmp / "logs", dict(os.environ), {}) as cluster:
        for name in NAMES:
            out = tmp / name
            args = ["run", str(config), "--selection", name, "--generations", "1"]
            res = evonas(*args, "--scheduler", cluster.address, "--out", str(out), "--quiet")
            assert res.returncode == 0, res.stderr + cluster.tail()
            assert json.loads((out / "checkpoint.json").read_text())["generation"] == 1
            done = evonas("resume", str(out), "--generations", "2", "--quiet")
            assert done.returncode == 0, done.stderr + cluster.tail()
            runs[name] = out
    return runs


def same_run(a: Path, b: Path) -> None:
    assert (a / "individuals.jsonl").read_text() == (b / "individuals.jsonl").read_text()
    assert (a / "front.csv").read_text() == (b / "front.csv").read_text()
    assert (
        json.loads((a / "checkpoint.json").read_text())["loop"]["pool"]
        == json.loads((b / "checkpoint.json").read_text())["loop"]["pool"]
    )


@pytest.mark.dask
@pytest.mark.parametrize("name", NAMES)
def test_stopped_then_resumed_is_the_uninterrupted_run(uninterrupted, on_dask, name):
    """Stopped after generation 1, resumed to 2: the uninterrupted run (both on the cluster here)."""
    assert json.loads((on_dask[name] / "checkpoint.json").read_text())["generation"] == 2
    same_run(on_dask[name], uninterrupted[name])


@pytest.mark.dask
@pytest.mark.parametrize("name", NAMES)
def test_a_dask_run_is_the_local_run(uninterrupted, on_dask, name):
    """Every generation trained on the cluster, the same individuals, front and trainings as locally."""
    same_run(on_dask[name], uninterrupted[name])
    trained = jsonl(on_dask[name] / "evaluations.jsonl")
    assert all(str(r["worker"]).startswith("tcp://") for r in trained)
    assert without_timing(trained) == without_timing(jsonl(uninterrupted[name] / "evaluations.jsonl"))


def without_timing(records: list[dict]) -> list[dict]:
    """Journal records without where and when they trained, in key order."""
    drop = ("seconds", "worker")
    return sorted(({k: v for k, v in r.items() if k not in drop} for r in records), key=lambda r: r["key"])


@pytest.mark.parametrize("name", NAMES)
def test_the_strategy_breeds_as_documented(uninterrupted, name):
    rows = jsonl(uninterrupted[name] / "individuals.jsonl")
    sizes = [len([r for r in rows if r["generation"] == g]) for g in (0, 1, 2)]
    elites = [r for r in rows if r["operator"] == "elite"]
    pool = [
        p["id"] for p in json.loads((uninterrupted[name] / "checkpoint.json").read_text())["loop"]["pool"]
    ]
    if STRATEGIES[name].ELITES:  # tournament: 2 elites and 2 children a generation, the pool is the last one
        assert sizes == [4, 4, 4] and len(elites) == 4
        assert pool == [r["id"] for r in rows if r["generation"] == 2]
        for g in (1, 2):  # the best architecture so far is in every generation
            earlier = [r for r in rows if r["generation"] < g and r["status"] == "ok"]
            best = min(earlier, key=lambda r: (r["objective"], r["id"]))["key"]
            assert best in {r["key"] for r in rows if r["generation"] == g}
    else:  # aging, nsga2: no copies; population - elites = 2 children a generation
        assert sizes == [4, 2, 2] and not elites
    if name == "aging":  # the 4 youngest
        assert pool == sorted(r["id"] for r in rows)[-4:]


@pytest.mark.parametrize("name", NAMES)
def test_no_member_of_the_front_is_dominated_by_any_evaluation(uninterrupted, name):
    run = uninterrupted[name]
    front = pd.read_csv(run / "front.csv")
    assert list(front.columns) == ["id", "val", "params", "architecture"]
    journal = [r for r in jsonl(run / "evaluations.jsonl") if r["status"] == "ok"]
    individuals = {r["id"]: r for r in jsonl(run / "individuals.jsonl")}
    points = [(float(r["objective"]), float(r["params"])) for r in journal]
    for m in front.itertuples():
        mine = (m.val, float(m.params))
        assert not any(dominates(p, mine) for p in points), m
        assert individuals[m.id]["objective"] == m.val and individuals[m.id]["params"] == m.params
    # and it is complete: every distinct non-dominated network is on it
    undominated = {p for p in points if not any(dominates(q, p) for q in points)}
    assert undominated == {(m.val, float(m.params)) for m in front.itertuples()}


def test_show_report_lineage_and_predict_work_on_the_front(uninterrupted, tmp_path):
    run = uninterrupted["nsga2"]
    front = pd.read_csv(run / "front.csv")
    show = evonas("show", str(run))
    assert show.returncode == 0, show.stderr
    assert f"Pareto front of val and params ({len(front)} distinct networks" in show.stdout
    assert all(f"#{i}" in show.stdout for i in front["id"])
    report = evonas("report", str(run), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "report" / "report.html").read_text()
    assert (tmp_path / "report" / "front.png").stat().st_size > 1000
    assert all(f'id="lineage-{i}"' in page for i in front["id"])
    member = int(front["id"].iloc[-1])  # the smallest network
    lineage = evonas("lineage", str(run), "--id", str(member))
    assert lineage.returncode == 0 and f"#{member}" in lineage.stdout, lineage.stderr
    rows = tmp_path / "rows.csv"
    read_frame("digits")[0].head(5).to_csv(rows, index=False)
    pred = evonas("predict", str(run), str(rows), "--id", str(member), "--out", str(tmp_path / "p.csv"))
    assert pred.returncode == 0, pred.stderr
    assert len(pd.read_csv(tmp_path / "p.csv")) == 5


def test_a_latency_search_times_every_success_and_keeps_its_front(config, tmp_path):
    out = tmp_path / "latency"
    res = evonas("run", str(config), "--objectives", "val,latency", "--generations", "1", "--out", str(out))
    assert res.returncode == 0, res.stderr
    ok = [r for r in jsonl(out / "evaluations.jsonl") if r["status"] == "ok"]
    assert ok and all(r["latency_ms"] > 0 and r["latency_spread_ms"] >= 0 for r in ok)
    front = pd.read_csv(out / "front.csv")
    assert list(front.columns) == ["id", "val", "latency", "latency_spread", "architecture"]
    points = [(r["objective"], r["latency_ms"]) for r in ok]
    assert not any(dominates(p, (m.val, m.latency)) for p in points for m in front.itertuples())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--objectives", "val,size"], "search.objectives must be val, val,params or val,latency"),
        (["--selection", "nsga2"], "search.selection = 'nsga2' needs two objectives"),
        (["--selection", "best"], "argument --selection: invalid choice: 'best'"),
    ],
)
def test_bad_objectives_or_selection_exit_2_in_one_line(tmp_path, args, message):
    out = tmp_path / "never"
    res = evonas("run", "--dataset", "digits", *args, "--out", str(out))
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert message in res.stderr and not out.exists()
