"""Smoke test of benchmarks/selection.py: both modes on digits, tiny budgets, then the report alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.benchmarks.conftest import run_benchmark

pytestmark = pytest.mark.slow  # real searches (more than 2 s a test)

TINY = ["--tables", "digits", "--seeds", "1", "--budget", "2", "--population", "2", "--max-epochs", "1"]
TINY += ["--engine", "serial"]


def run(*args: str, cwd: Path) -> str:
    return run_benchmark("selection", *args, cwd=cwd)


def test_the_front_and_the_strategies_are_measured_and_reported(tmp_path):
    results = ["--results", str(tmp_path / "results")]
    run("--front", *TINY, "--methods", "nsga2,random", *results, cwd=tmp_path)
    run("--strategies", *TINY, *results, cwd=tmp_path)
    files = sorted(p.name for p in (tmp_path / "results").glob("*.json"))
    assert files == [
        "front__digits__nsga2__seed0.json",
        "front__digits__random__seed0.json",
        "strategies__digits__aging__seed0.json",
        "strategies__digits__random__seed0.json",
        "strategies__digits__tournament__seed0.json",
    ]
    nsga2 = json.loads((tmp_path / "results" / files[0]).read_text())
    assert nsga2["trainings"] >= 2 and nsga2["front"] and len(nsga2["points"]) >= len(nsga2["front"])
    random = json.loads((tmp_path / "results" / files[1]).read_text())
    assert random["trainings"] == 2  # exactly the budget, one population
    report = run("--report-only", *results, cwd=tmp_path)
    assert "| digits | nsga2 |" in report and "| digits | random |" in report
    row = next(line for line in report.splitlines() if line.startswith("| digits | nsga2 |"))
    hv = float(row.split("|")[3].split()[0])
    assert 0 <= hv <= 1
    assert "aging / tournament" in report and "| digits |" in report.split("aging / tournament")[1]
