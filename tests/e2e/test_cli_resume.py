"""Resume: identical to an uninterrupted run, after a clean stop or a SIGKILL mid-generation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import DIGITS as TINY
from tests.e2e.conftest import evonas
from tests.e2e.conftest import jsonl as lines

pytestmark = pytest.mark.slow  # real searches (more than 2 s a test)


def final_state(run: Path) -> tuple[str, list, dict]:
    cp = json.loads((run / "checkpoint.json").read_text())
    return (
        (run / "individuals.jsonl").read_text(),
        cp["loop"]["pool"],
        json.loads((run / "best/model.json").read_text()),
    )


@pytest.fixture(scope="module")
def uninterrupted(digits_full):
    """The same search run to generation 2 in one go (shared: tests/e2e/conftest.py)."""
    return digits_full


def test_stop_after_a_generation_then_resume_is_identical(uninterrupted, digits_gen1, digits_resumed):
    first, stopped = digits_gen1  # generation 1, in its own process; then resumed, in a copy
    assert first.returncode == 0, first.stderr
    trained_before = len(lines(stopped / "evaluations.jsonl"))
    again, run = digits_resumed
    assert again.returncode == 0, again.stderr
    assert f"{trained_before} evaluations in the journal are reused" in again.stdout
    assert final_state(run) == final_state(uninterrupted)
    assert json.loads((run / "test.json").read_text()) == json.loads(
        (uninterrupted / "test.json").read_text()
    )


def test_sigkill_mid_generation_then_resume_is_identical_and_trains_nothing_twice(uninterrupted, tmp_path):
    run = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "evonas", "run", *TINY, "--generations", "2", "--out", str(run)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "EVONAS_FAULTS": "sleep=0.7"},  # time to kill it, however fast training is
    )
    journal = run / "evaluations.jsonl"
    deadline = time.time() + 300
    try:  # kill once generation 1 has started finishing evaluations
        while time.time() < deadline and proc.poll() is None:
            if journal.exists() and any(r["generation"] == 1 for r in lines(journal)):
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    before = lines(journal)
    assert (run / "lock").exists()  # left behind by the killed process: stale, taken over on resume
    res = evonas("resume", str(run))
    assert res.returncode == 0, res.stderr
    assert final_state(run) == final_state(uninterrupted)
    after = lines(journal)
    keys = [r["key"] for r in after]
    assert len(keys) == len(set(keys)), "an evaluation finished before the kill was trained again"
    assert after[: len(before)] == before
    assert not (run / "lock").exists()


def test_resume_errors_leave_the_run_untouched(uninterrupted, tmp_path):
    res = evonas("resume", str(tmp_path / "missing"))
    assert res.returncode == 2 and "run directory not found" in res.stderr
    run = tmp_path / "copy"
    run.mkdir()
    for name in ("config.toml", "data.json", "evaluations.jsonl", "individuals.jsonl"):
        (run / name).write_bytes((uninterrupted / name).read_bytes())
    snapshot = {p.name: p.read_bytes() for p in run.iterdir()}

    (run / "checkpoint.json").write_text('{"format": 1, "generation": ')  # truncated
    res = evonas("resume", str(run))
    assert res.returncode == 2 and "corrupt or truncated" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1

    cp = json.loads((uninterrupted / "checkpoint.json").read_text())
    (run / "checkpoint.json").write_text(json.dumps({**cp, "format": 99}))
    res = evonas("resume", str(run))
    assert res.returncode == 2 and "format 99" in res.stderr

    (run / "checkpoint.json").write_text(json.dumps(cp))
    (run / "lock").write_text(json.dumps({"pid": os.getpid(), "host": os.uname().nodename}))
    res = evonas("resume", str(run))
    assert res.returncode == 2 and f"in use by process {os.getpid()}" in res.stderr
    (run / "lock").unlink()
    (run / "checkpoint.json").unlink()
    assert {p.name: p.read_bytes() for p in run.iterdir()} == snapshot


def test_ctrl_c_stops_cleanly_and_resume_continues(uninterrupted, tmp_path):
    run = tmp_path / "ctrl-c"
    proc = subprocess.Popen(
        [sys.executable, "-m", "evonas", "run", *TINY, "--generations", "2", "--out", str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "EVONAS_FAULTS": "sleep=0.7"},  # time to interrupt it, however fast training is
        # a background shell starts its jobs with SIGINT ignored; the child must see Ctrl-C as a user would
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 300
    while time.time() < deadline and not (run / "checkpoint.json").exists():
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"continue with: evonas resume {run}" in err and "Traceback" not in err
    assert not (run / "lock").exists()
    res = evonas("resume", str(run))
    assert res.returncode == 0, res.stderr
    assert final_state(run) == final_state(uninterrupted)


def test_killed_before_the_first_checkpoint_resumes_from_generation_0(uninterrupted, tmp_path):
    run = tmp_path / "early"
    run.mkdir()
    for name in ("config.toml", "data.json"):
        (run / name).write_bytes((uninterrupted / name).read_bytes())
    gen0 = [r for r in lines(uninterrupted / "evaluations.jsonl") if r["generation"] == 0][:2]
    (run / "evaluations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in gen0) + '{"key": "abc')
    res = evonas("resume", str(run))
    assert res.returncode == 0, res.stderr
    assert "from generation 0" in res.stdout
    assert final_state(run) == final_state(uninterrupted)
    keys = [r["key"] for r in lines(run / "evaluations.jsonl")]  # the cut line was dropped
    assert len(keys) == len(set(keys)) and keys[:2] == [r["key"] for r in gen0]
