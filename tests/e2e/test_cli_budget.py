"""``--time-budget``: a search stops between generations, finishes as a completed run, and resumes exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import DIGITS, evonas

pytestmark = pytest.mark.slow  # real searches (more than 2 s a test)

TINY = DIGITS  # the search of the shared digits_full run (tests/e2e/conftest.py), there to generation 2


def final_state(run: Path) -> tuple[str, list, dict, dict]:
    cp = json.loads((run / "checkpoint.json").read_text())
    return (
        (run / "individuals.jsonl").read_text(),
        cp["loop"]["pool"],
        json.loads((run / "best/model.json").read_text()),
        json.loads((run / "test.json").read_text()),
    )


@pytest.fixture
def uninterrupted(digits_full: Path) -> Path:
    """The same search to generation 2 without a budget (read only)."""
    return digits_full


def test_a_tiny_budget_stops_after_generation_0_and_a_resume_without_one_gives_the_uninterrupted_run(
    uninterrupted, tmp_path
):
    run = tmp_path / "budget"
    first = evonas("run", *TINY, "--generations", "2", "--time-budget", "1s", "--out", str(run))
    assert first.returncode == 0, first.stderr
    assert "time budget 1.0 s" in first.stdout
    stop = [line for line in first.stdout.splitlines() if "stopped the search" in line]
    assert len(stop) == 1 and "time budget of 1.0 s stopped the search after generation 0 of 2" in stop[0]
    assert f"continue with: evonas resume {run} --time-budget DURATION" in stop[0]
    # then it finished as a completed run does: refit, one test score, the summary
    assert json.loads((run / "checkpoint.json").read_text())["generation"] == 0
    assert "refit" in json.loads((run / "test.json").read_text())
    assert "Best genome #" in first.stdout and "Refitted on train+val" in first.stdout
    assert 'time_budget = "1s"' in (run / "config.toml").read_text()

    again = evonas("resume", str(run), "--time-budget", "1s")  # its own budget: too short for a generation
    assert again.returncode == 0, again.stderr
    assert "stopped the search after generation 0 of 2" in again.stdout
    assert json.loads((run / "checkpoint.json").read_text())["generation"] == 0

    done = evonas("resume", str(run))  # no budget: up to search.generations
    assert done.returncode == 0, done.stderr
    assert "stopped the search" not in done.stdout
    assert final_state(run) == final_state(uninterrupted)


def test_a_budget_that_fits_changes_nothing(uninterrupted, tmp_path):
    run = tmp_path / "roomy"
    res = evonas("run", *TINY, "--generations", "2", "--time-budget", "1h", "--out", str(run))
    assert res.returncode == 0, res.stderr
    assert "stopped the search" not in res.stdout
    assert final_state(run) == final_state(uninterrupted)


@pytest.mark.parametrize("value", ["abc", "0", "-5m", "1h30"])
def test_a_bad_budget_exits_2_with_one_line_and_writes_nothing(uninterrupted, tmp_path, value):
    out = tmp_path / "never"
    res = evonas("run", *TINY, f"--time-budget={value}", "--out", str(out))
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        f"evonas: error: search.time_budget must be a duration such as 90s, 10m, 1h30m or a number of "
        f"seconds > 0, got {value!r}"
    ]
    assert not out.exists()
    before = (uninterrupted / "individuals.jsonl").read_text()
    res = evonas("resume", str(uninterrupted), f"--time-budget={value}")
    assert res.returncode == 2 and "search.time_budget must be a duration" in res.stderr
    assert (uninterrupted / "individuals.jsonl").read_text() == before
