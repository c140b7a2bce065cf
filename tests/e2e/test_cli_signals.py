"""SIGTERM (how clusters and CI preempt a job) stops a search like Ctrl-C: exit 143, resumable (real runs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import DIGITS_SEARCH, copy_run, evonas

pytestmark = pytest.mark.slow  # real searches (more than 2 s a test)

# the shared digits search (its digits_full run is on the serial engine) on two loky workers: SIGTERM must
# stop them too, and the resumed run must end as the uninterrupted one on the other engine
TINY = [*DIGITS_SEARCH, "--workers", "2"]


def journal_lines(path: Path) -> int:
    return len([x for x in path.read_text().splitlines() if x.strip()]) if path.exists() else 0


def stderr_lines(err: str) -> list[str]:
    """stderr without loky's resource-tracker warnings (a rare race of killing its workers at exit,
    printed by the tracker process; the Ctrl-C path shows it too)."""
    lines = err.strip().splitlines()
    noise = [i for i, x in enumerate(lines) if "resource_tracker" in x]
    drop = set(noise) | {i + 1 for i in noise if i + 1 < len(lines) and "warnings.warn(" in lines[i + 1]}
    return [x for i, x in enumerate(lines) if i not in drop]


def worker_pids(pid: int) -> list[int]:
    """The live child processes of ``pid`` (the loky workers), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


def test_sigterm_stops_cleanly_and_resume_gives_the_uninterrupted_run(digits_full, tmp_path):
    full = digits_full  # the same search run to generation 2 in one go (shared: tests/e2e/conftest.py)

    run = tmp_path / "terminated"
    proc = subprocess.Popen(
        [sys.executable, "-m", "evonas", "run", *TINY, "--generations", "2", "--out", str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the signal goes to the evonas process alone, as `kill PID` sends it
        env={**os.environ, "EVONAS_FAULTS": "sleep=0.7"},  # time to stop it, however fast training is
    )
    journal = run / "evaluations.jsonl"
    deadline = time.time() + 300
    workers: list[int] = []
    try:
        while time.time() < deadline and proc.poll() is None:
            if (run / "checkpoint.json").exists() and journal_lines(journal) >= 5:
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the run finished before it could be stopped"
        workers = worker_pids(proc.pid)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 143, err
    hint = f"evonas: terminated; finished evaluations are saved in {run}; continue with: evonas resume {run}"
    assert stderr_lines(err) == [hint]
    assert "Traceback" not in err + out
    assert workers, "the run had no worker processes to stop"
    deadline = time.time() + 30
    while time.time() < deadline and any(alive(w) for w in workers):
        time.sleep(0.2)
    assert not any(alive(w) for w in workers), "a loky worker kept running after SIGTERM"
    assert not (run / "lock").exists()
    assert (run / "checkpoint.json").exists() and journal_lines(journal) >= 5
    before = journal.read_text()

    res = evonas("resume", str(run))
    assert res.returncode == 0, res.stderr
    assert (run / "individuals.jsonl").read_bytes() == (full / "individuals.jsonl").read_bytes()
    assert journal.read_text().startswith(before)  # nothing finished before the stop was lost
    keys = [json.loads(x)["key"] for x in journal.read_text().splitlines() if x.strip()]
    assert len(keys) == len(set(keys)), "an evaluation finished before SIGTERM was trained again"
    assert json.loads((run / "best/model.json").read_text()) == json.loads(
        (full / "best/model.json").read_text()
    )


def test_sigterm_during_resume_stops_it_the_same_way(digits_gen1, tmp_path):
    """The resume trains in its own process here (the serial engine of ``digits_gen1``)."""
    run = copy_run(digits_gen1[1], tmp_path / "first")  # the search stopped after generation 1
    proc = subprocess.Popen(
        [sys.executable, "-m", "evonas", "resume", str(run), "--generations", "3", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "EVONAS_FAULTS": "sleep=0.7"},
    )
    journal = run / "evaluations.jsonl"
    start = journal_lines(journal)
    deadline = time.time() + 300
    try:
        while time.time() < deadline and proc.poll() is None and journal_lines(journal) < start + 2:
            time.sleep(0.1)
        assert proc.poll() is None, "the resume finished before it could be stopped"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 143, err
    assert stderr_lines(err) == [
        f"evonas: terminated; finished evaluations are saved in {run}; continue with: evonas resume {run}"
    ]
    assert "Traceback" not in err + out
    assert not (run / "lock").exists() and (run / "checkpoint.json").exists()
