"""``--multi-fidelity``: short trainings first, the best quarter in full; resumed mid-way, the same run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evonas.evolve import fidelity
from tests.e2e.conftest import DIGITS_SEARCH, evonas

pytestmark = pytest.mark.slow  # real searches (more than 2 s a test)

# the small digits space of the shared runs (tests/e2e/tiny.toml), 6 candidates of 5 epochs
TINY = [*DIGITS_SEARCH, "--population", "6", "--max-epochs", "5", "--patience", "2", "--seed", "3"]
TINY += ["--engine", "serial", "--multi-fidelity", "--no-refit"]


def journal(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "evaluations.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    run = tmp_path_factory.mktemp("fidelity") / "full"
    res = evonas("run", *TINY, "--generations", "1", "--out", str(run))
    assert res.returncode == 0, res.stderr
    assert "multi-fidelity (1 epoch first, the best quarter in full)" in res.stdout
    return run


def test_short_trainings_then_the_best_quarter_in_full(uninterrupted):
    records = journal(uninterrupted)
    for generation in (0, 1):
        mine = [r for r in records if r["generation"] == generation]
        short = [r for r in mine if r.get("epoch_cap") is not None]
        full = [r for r in mine if r.get("epoch_cap") is None]
        assert short and all(r["epoch_cap"] == 1 and r["epochs"] == 1 for r in short)  # a fifth of 5
        assert len({r["key"] for r in short}) == len(short)
        # every full training continues a short one, the best of the still improving ones
        assert {r["key"] for r in full} <= {r["key"] for r in short}
        open_ = sorted(
            (r for r in short if r["status"] == "ok"), key=lambda r: (r["objective"], r["individual"])
        )
        assert {r["key"] for r in full} == {r["key"] for r in open_[: len(full)]}
        assert len(full) == max(1, -(-len(open_) // 4))
        assert all(r["epochs"] > 1 for r in full)
    # an individual's result is its key's last record: the full one where there is one
    last = {r["key"]: r for r in records}
    for ind in map(json.loads, (uninterrupted / "individuals.jsonl").read_text().splitlines()):
        if ind["status"] == "ok":
            assert ind["objective"] == last[ind["key"]]["objective"]


def test_stopped_between_the_two_stages_and_resumed_is_the_uninterrupted_run(uninterrupted, tmp_path):
    run = tmp_path / "stopped"
    first = evonas("run", *TINY, "--generations", "1", "--time-budget", "1s", "--out", str(run))
    assert first.returncode == 0, first.stderr
    assert json.loads((run / "checkpoint.json").read_text())["generation"] == 0
    # the process that stopped in generation 1 had journaled its short trainings and one full one
    # (what it would have written: every training is a function of the run seed and the key)
    later = [r for r in journal(uninterrupted) if r["generation"] == 1]
    short = [r for r in later if r.get("epoch_cap") is not None]
    full = [r for r in later if r.get("epoch_cap") is None]
    with (run / "evaluations.jsonl").open("a") as out:
        for record in short + full[:1]:
            out.write(json.dumps(record) + "\n")
    done = evonas("resume", str(run))
    assert done.returncode == 0, done.stderr
    assert (run / "individuals.jsonl").read_text() == (uninterrupted / "individuals.jsonl").read_text()
    resumed = [r for r in journal(run) if r["generation"] == 1]
    trained_again = resumed[len(short) + 1 :]  # only the missing full ones, in completion order
    assert {r["key"]: r["objective"] for r in trained_again} == {r["key"]: r["objective"] for r in full[1:]}


@pytest.fixture
def large(monkeypatch):
    """Digits' train rows made a large table: the minimum of a row sample lowered to 200 rows (in this
    process: the serial engine trains here, so the patched minimum reaches every training)."""
    monkeypatch.setattr(fidelity, "ROW_RUNG_MIN", 200)


@pytest.fixture(scope="module")
def rows_uninterrupted(tmp_path_factory):
    run = tmp_path_factory.mktemp("fidelity") / "rows"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fidelity, "ROW_RUNG_MIN", 200)
        res = evonas("run", *TINY, "--generations", "1", "--out", str(run))
    assert res.returncode == 0, res.stderr
    return run, res


def test_on_a_large_table_the_short_trainings_fit_a_row_sample(rows_uninterrupted):
    """Every new candidate first fits a quarter of the train rows with the whole epoch cap, the best
    quarter of each generation then all rows."""
    run, res = rows_uninterrupted
    train_rows = json.loads((run / "data.json").read_text())["rows"]["train"]
    sample = fidelity.rung_rows(train_rows, minimum=200)
    assert sample is not None and 200 <= sample <= train_rows // 2
    assert f"multi-fidelity (a sample of {sample:,} train rows first, the best quarter on all)" in res.stdout
    records = journal(run)
    for generation in (0, 1):
        mine = [r for r in records if r["generation"] == generation]
        short = [r for r in mine if r.get("row_cap") is not None]
        full = [r for r in mine if r.get("row_cap") is None]
        assert short and all(r["row_cap"] == sample and r.get("epoch_cap") is None for r in short)
        assert any(r["epochs"] > 1 for r in short)  # the whole epoch cap (5), not a fifth of it (1)
        open_ = sorted(
            (r for r in short if r["status"] == "ok"), key=lambda r: (r["objective"], r["individual"])
        )
        assert len(full) == max(1, -(-len(open_) // 4))  # none is complete: a sample is not all rows
        assert {r["key"] for r in full} == {r["key"] for r in open_[: len(full)]}
    last = {r["key"]: r for r in records}
    for ind in map(json.loads, (run / "individuals.jsonl").read_text().splitlines()):
        if ind["status"] == "ok":
            assert ind["objective"] == last[ind["key"]]["objective"]


def test_a_row_sample_run_stopped_between_the_stages_resumes_as_uninterrupted(
    rows_uninterrupted, large, tmp_path
):
    run = tmp_path / "stopped"
    first = evonas("run", *TINY, "--generations", "1", "--time-budget", "1s", "--out", str(run))
    assert first.returncode == 0, first.stderr
    assert json.loads((run / "checkpoint.json").read_text())["generation"] == 0
    later = [r for r in journal(rows_uninterrupted[0]) if r["generation"] == 1]
    short = [r for r in later if r.get("row_cap") is not None]
    with (run / "evaluations.jsonl").open("a") as out:  # generation 1's samples, not its full trainings
        for record in short:
            out.write(json.dumps(record) + "\n")
    done = evonas("resume", str(run))
    assert done.returncode == 0, done.stderr
    uninterrupted = rows_uninterrupted[0] / "individuals.jsonl"
    assert (run / "individuals.jsonl").read_text() == uninterrupted.read_text()
    trained_again = [r for r in journal(run) if r["generation"] == 1][len(short) :]
    assert trained_again and all(r.get("row_cap") is None for r in trained_again)  # only the full ones
