"""Run directory I/O: atomic writes, JSON Lines journal, refusing to reuse directories."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from evonas.evolve.config import RunConfig
from evonas.evolve.rundir import RunDir, RunDirError, append_jsonl, read_jsonl, write_atomic


def test_jsonl_round_trip_and_pandas_reads_it(tmp_path):
    path = tmp_path / "e.jsonl"
    rows = [{"id": i, "objective": i / 3, "genes": [1, 2]} for i in range(3)]
    append_jsonl(path, rows[:2])
    append_jsonl(path, rows[2:])
    assert list(read_jsonl(path)) == rows
    assert pd.read_json(path, lines=True)["id"].tolist() == [0, 1, 2]


def test_half_written_last_line_is_ignored_but_corruption_elsewhere_is_an_error(tmp_path):
    path = tmp_path / "e.jsonl"
    append_jsonl(path, [{"id": 0}, {"id": 1}])
    with open(path, "a") as f:
        f.write('{"id": 2, "obj')
    assert [r["id"] for r in read_jsonl(path)] == [0, 1]
    path.write_text('{"id": 0}\n{"id"\n{"id": 2}\n')
    with pytest.raises(RunDirError, match="line 2"):
        list(read_jsonl(path))


def test_write_atomic_replaces_whole_file_and_leaves_no_temporaries(tmp_path):
    path = tmp_path / "c.json"
    write_atomic(path, "old")
    write_atomic(path, "new")
    assert path.read_text() == "new"
    assert os.listdir(tmp_path) == ["c.json"]


def test_create_refuses_existing_runs_and_foreign_directories(tmp_path):
    cfg = RunConfig().for_data(images=False, rows=1000)  # as every run saves it: resolved on its data
    run = RunDir.create(tmp_path / "r", cfg)
    assert run.config() == cfg
    with pytest.raises(RunDirError, match="already holds an evonas run"):
        RunDir.create(tmp_path / "r", cfg)
    other = tmp_path / "other"
    other.mkdir()
    (other / "x").write_text("mine")
    with pytest.raises(RunDirError, match="not an empty directory"):
        RunDir.create(other, cfg)
    assert (other / "x").read_text() == "mine" and len(os.listdir(other)) == 1
    RunDir.create(tmp_path / "empty-is-fine", cfg)


def test_unwritable_output_directory(tmp_path):
    if os.geteuid() == 0:
        target = tmp_path / "file"
        target.write_text("")
        with pytest.raises(RunDirError, match="cannot write|not a directory"):
            RunDir.create(target / "sub", RunConfig())
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(RunDirError, match="cannot write"):
            RunDir.create(locked / "sub", RunConfig())


def test_open_errors(tmp_path):
    with pytest.raises(RunDirError, match="not found"):
        RunDir.open(tmp_path / "nope")
    with pytest.raises(RunDirError, match="not an evonas run"):
        RunDir.open(tmp_path)


def test_drop_partial_line_lets_appends_start_clean(tmp_path):
    from evonas.evolve.rundir import drop_partial_line

    path = tmp_path / "e.jsonl"
    append_jsonl(path, [{"id": 0}])
    with open(path, "a") as f:
        f.write('{"id": 1, "ob')
    drop_partial_line(path)
    append_jsonl(path, [{"id": 2}])
    assert [r["id"] for r in read_jsonl(path)] == [0, 2]
    drop_partial_line(path)  # a clean file is left as it is
    assert [r["id"] for r in read_jsonl(path)] == [0, 2]
