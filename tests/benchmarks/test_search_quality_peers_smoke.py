"""Smoke test of the benchmark's peers, its time budget and its suite table, on one small table.

Sacramento (932 rows), one seed: evonas' genetic search on a budget of minutes, the linear
reference, and whichever of RealMLP (pytabkit), CatBoost and LightGBM are installed (the
``bench`` extra); a peer whose library is missing must be skipped with one line, not fail.
RealMLP trains 4 epochs here instead of its 256.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from tests.benchmarks.conftest import run_benchmark

pytestmark = pytest.mark.slow  # real searches (more than 2 s a test)

PEERS = {"realmlp-td": "pytabkit", "realmlp-hpo": "pytabkit", "catboost-default": "catboost",
         "lightgbm-default": "lightgbm"}  # fmt: skip
MINUTES = 0.2


def test_peers_time_budget_and_suite_table(tmp_path):
    results, report = tmp_path / "results", tmp_path / "report"
    methods = ["evonas-genetic", "linear", *PEERS]
    common = ["--results", str(results), "--report-dir", str(report)]
    out = run_benchmark(
        "search_quality", "--dataset", "sacramento", "--minutes", str(MINUTES), "--seeds", "1",
        "--max-epochs", "2", "--patience", "1", "--realmlp-epochs", "4", "--methods", ",".join(methods),
        *common, cwd=tmp_path,
    )  # fmt: skip
    assert "target among the features: no" in out and "identifier columns dropped: ['rownames']" in out
    installed = [m for m, module in PEERS.items() if importlib.util.find_spec(module) is not None]
    for method, module in PEERS.items():
        assert (f"{method}: skipped ({module} is not installed" in out) == (method not in installed)

    found = {json.loads(p.read_text())["method"]: json.loads(p.read_text()) for p in results.glob("*.json")}
    assert sorted(found) == sorted(["evonas-genetic", "linear", *installed])
    split = {r["dataset"] for r in found.values()}
    assert split == {"sacramento"} and {r["task"] for r in found.values()} == {"regression"}
    genetic = found["evonas-genetic"]
    assert genetic["minutes"] == MINUTES and genetic["generations"] >= 1
    assert genetic["trainings"] == len(genetic["curve"]) >= 10  # generation 0 (population 10) always runs
    for method in installed:
        r = found[method]
        assert r["seed"] == 0 and r["val"] > 0 and r["test"] > 0 and r["seconds"] > 0
        if not method.startswith("realmlp"):  # RealMLP trains 4 epochs here: no quality to expect
            assert r["test"] < 2 * found["linear"]["test"], (method, r["test"])  # price RMSE: a real fit
    if "realmlp-hpo" in found:  # time-matched: M minutes, at least one configuration trained
        hpo = found["realmlp-hpo"]
        assert hpo["time_limit_s"] == MINUTES * 60 and hpo["trainings"] >= 1 and hpo["realmlp_epochs"] == 4

    table = (report / "sacramento.md").read_text()
    assert "--minutes 0.2" in table
    for method in found:
        assert f"| {method} |" in table

    run_benchmark("search_quality", "--suite", "--report-only", *common, cwd=tmp_path)
    lines = (report / "suite.md").read_text().splitlines()
    assert "| method | sacramento RMSE |" in lines
    rows = [line for line in lines if line.startswith("| linear |")]
    assert len(rows) == 3  # the metric, the ratios, the wall time
    assert rows[0] == f"| linear | {found['linear']['test']:,.0f} |"
