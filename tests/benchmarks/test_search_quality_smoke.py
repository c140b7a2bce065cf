"""Smoke test of the peer benchmark: every evonas, KerasTuner and scikit-learn method, a tiny budget,
real training, one seed (the pytabkit, CatBoost and LightGBM peers: test_search_quality_peers_smoke.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.benchmarks.conftest import run_benchmark

METHODS = [
    "evonas-genetic",
    "evonas-random",
    "kt-random",
    "kt-hyperband",
    "hgb-default",
    "hgb-tuned",
    "linear",
]


@pytest.mark.slow
def test_search_quality_runs_every_method_and_writes_table_and_picture(tmp_path):
    results, report = tmp_path / "results", tmp_path / "report"
    out = run_benchmark(
        "search_quality",
        "--dataset", "digits", "--budget", "3", "--seeds", "1", "--max-epochs", "2", "--patience", "1",
        "--methods", ",".join(METHODS), "--results", str(results), "--report-dir", str(report),
        "--set", "search.ensemble=2", "--set", 'search.engine="serial"', "--set", "space.max_levels=2",
        "--set", "space.max_units=2", "--set", "space.neuron_choices=[8, 16, 32]",
        cwd=tmp_path,
    )  # fmt: skip
    assert "target among the features: no" in out
    assert "identical feature rows across splits" in out and "split sizes: train" in out

    found = {json.loads(p.read_text())["method"]: json.loads(p.read_text()) for p in results.glob("*.json")}
    assert sorted(found) == sorted(METHODS)
    genetic = found["evonas-genetic"]
    for method in ("evonas-genetic", "evonas-random", "kt-random", "kt-hyperband"):
        r = found[method]
        # the others get exactly as many trainings as the genetic search used
        assert r["trainings"] == genetic["trainings"] >= 3, (method, r["trainings"])
        assert len(r["curve"]) == r["trainings"]
        assert all(a >= b for a, b in zip(r["curve"], r["curve"][1:]))  # best so far never worsens
        assert r["val"] == min(r["curve"]) or method.startswith("kt-")
    for method in ("evonas-genetic", "evonas-random"):  # every trained candidate is kept, described
        candidates = found[method]["candidates"]
        assert len(candidates) == found[method]["trainings"]
        assert min(c["objective"] for c in candidates if c["objective"] is not None) == found[method]["val"]
        for c in candidates:
            assert c["units"] >= c["levels"] >= 1 and c["params"] > 0
            assert {"skip", "lateral", "input", "output", "batchnorm"} <= set(c)
    for method in ("evonas-genetic", "evonas-random"):  # --set search.ensemble=2: the delivered ensemble
        r = found[method]
        assert r["overrides"]["search"] == {"ensemble": 2, "engine": "serial"} and r["ensemble"] == 2
        assert r["overrides"]["space"] == {"max_levels": 2, "max_units": 2, "neuron_choices": [8, 16, 32]}
        curve = r["ensemble_curve"]
        assert [row["k"] for row in curve] == [1, 2]
        # the refitted ensemble of both members is what is delivered: on the single split the plain mean
        assert r["weights"] is None and r["test"] == curve[-1]["refit"]
        assert curve[0]["own"] == r["test_single"] and curve[0]["refit"] == r["test_single_refit"]
        assert all(0.0 <= row[kind] <= 1.0 for row in curve for kind in ("own", "refit", "both"))
    for r in found.values():
        assert 0.0 <= r["test"] <= 1.0 and 0.0 <= r["val_accuracy"] <= 1.0  # digits: accuracy
        assert r["val"] > 0 and r["seconds"] > 0
    # ten classes: every trained method beats chance on the test split
    assert found["linear"]["test"] > 0.8 and found["hgb-default"]["test"] > 0.8

    table = (report / "digits.md").read_text()
    for method in METHODS:
        assert f"| {method} |" in table
    assert "Which wiring goes with better networks" in table and "| lateral connections" in table
    assert (report / "digits-best-so-far.png").stat().st_size > 10_000


def test_set_options_are_read_as_toml_values_and_checked_against_the_config():
    from benchmarks.search_quality import parse_sets

    assert parse_sets(["search.ensemble=3", "search.refit=false", "data.target_transform=none"]) == {
        "search": {"ensemble": 3, "refit": False},
        "data": {"target_transform": "none"},
    }
    assert parse_sets(['space.embeddings=["none"]']) == {"space": {"embeddings": ["none"]}}
    for bad in ("ensemble=3", "search.ensemble", "search.ensemble=0", "search.nonsense=1"):
        with pytest.raises(ValueError, match="--set"):
            parse_sets([bad])


def _result(directory: Path, dataset: str, method: str, seed: int | None, test: float, **extra) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    row = {"method": method, "seed": seed, "dataset": dataset, "task": "regression", "test": test}
    row.update(val=test, seconds=1.0, trainings=1, curve=[test], selected="defaults")
    row.update(extra)
    name = f"{dataset}__{method}__{'ref' if seed is None else f'seed{seed}'}.json"
    (directory / name).write_text(json.dumps(row))


def test_overlay_results_replace_a_method_and_the_suite_table_counts_wins(tmp_path):
    from benchmarks.report import load_results
    from benchmarks.search_quality import main

    base, over = tmp_path / "peers", tmp_path / "evonas"
    scores = [(10.0, 12.0, 9.0), (11.0, 12.5, 9.5), (30.0, 13.0, 9.9)]  # evonas, realmlp-td, catboost
    for seed, (ours, realmlp, catboost) in enumerate(scores):
        _result(base, "ames", "evonas-genetic", seed, 50.0)  # an older run: replaced by the overlay's
        _result(over, "ames", "evonas-genetic", seed, ours, selected="1 level [1]")
        _result(base, "ames", "realmlp-td", seed, realmlp)
        _result(base, "ames", "catboost-default", seed, catboost)
    _result(over, "computers", "evonas-genetic", 0, 100.0, selected="conv 16k3-relu -> flatten | 1 level")
    _result(base, "computers", "realmlp-td", 0, 101.0)
    _result(base, "computers", "catboost-default", 0, 99.0)

    found = load_results(base, "ames", [over])
    assert [r["test"] for r in found["evonas-genetic"]] == [10.0, 11.0, 30.0]  # the overlay's, all seeds
    assert {r["source"] for r in found["evonas-genetic"]} == {"evonas"}
    assert [r["test"] for r in load_results(base, "ames")["evonas-genetic"]] == [50.0] * 3

    args = ["--suite", "--report-only", "--results", str(base), "--overlay", str(over)]
    assert main(args) == 0
    table = (base / "report" / "suite.md").read_text()  # beside the results, not in docs/
    assert "| evonas-genetic | 11 | 100 (1) (images) |" in table  # medians; one seed; a conv search
    # ames: median 11 beats realmlp-td's 12.5, not catboost's 9.5; computers: 100 beats 101, not 99
    assert "better than realmlp-td on 2 of 2 (ames, computers); than catboost-default on 0 of 2." in table
    assert f"--overlay {over}" in table and "evonas: evonas-genetic (ames, computers)" in table
    with pytest.raises(SystemExit):  # results are written to --results only
        main(["--dataset", "ames", "--overlay", str(over), "--results", str(base)])
