"""What only a process shows: the installed ``evonas`` console script, its exit status and its two streams.

The other end-to-end tests run the command line in the test's process (``evonas`` in
tests/e2e/conftest.py), which captures what Python prints but not what native code
writes to the file descriptors (TensorFlow's start-up chatter), nor the console
script's entry point. Signals and a killed search are in test_cli_signals.py and
test_cli_resume.py, a lost Dask scheduler in test_cli_dask_lost.py, all real processes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from evonas.fitness.data import read_frame, split_labels

pytestmark = pytest.mark.slow  # a Python and TensorFlow start each (more than 2 s a test)

EVONAS = Path(sys.executable).with_name("evonas")  # the console script `make install` puts beside python


def console(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(EVONAS), *args], capture_output=True, text=True, timeout=300)


def test_bad_input_is_one_line_on_stderr_and_exit_2(tmp_path):
    out = tmp_path / "run"
    res = console("run", "--dataset", "ames", "--population", "1", "--out", str(out))
    assert res.returncode == 2
    assert res.stderr.splitlines() == ["evonas: error: search.population must be an integer >= 2, got 1"]
    assert res.stdout == "" and not out.exists()


def test_predict_writes_the_csv_alone_on_stdout_and_nothing_on_stderr(ames_run, tmp_path):
    """TensorFlow is imported and a model loaded here: none of its native chatter reaches the user."""
    frame, _, target, ids = read_frame("ames")
    rows = frame[split_labels(frame.drop(columns=list(ids)), (0.70, 0.15, 0.15)) == "test"].head(5)
    path = tmp_path / "houses.csv"
    rows.drop(columns=[target]).to_csv(path, index=False)
    res = console("predict", str(ames_run[1]), str(path))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "rownames,Order,PID,prediction" and len(lines) == 6
    assert all(float(line.rsplit(",", 1)[1]) > 0 for line in lines[1:])  # prices
    assert res.stderr == ""
