"""Smoke test of benchmarks/selection.py: both modes on digits, tiny budgets, then the report alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "selection.py"
TINY = ["--tables", "digits", "--seeds", "1", "--budget", "2", "--population", "2", "--max-epochs", "1"]


def run(*args: str, cwd: Path) -> str:
    done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600,
                          cwd=cwd)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


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
