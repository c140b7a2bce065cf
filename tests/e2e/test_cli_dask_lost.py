"""A Dask scheduler lost mid-generation: the run stops within 60 s, one line; ``resume --local`` finishes it.

Each test starts its own cluster by hand, as a user would (a scheduler and two
workers on 127.0.0.1, from the repository root so the workers import this code:
``dask_cluster`` in conftest.py), because it loses the scheduler: killed (SIGKILL,
its connections close at once) or frozen (SIGSTOP, as a machine gone from the
network: nothing closes, nothing answers). The workers sleep 2 s before each
candidate (``EVONAS_FAULTS``), so a generation lasts long enough to lose the
scheduler in the middle of it.

The frozen scheduler is given up after ``EVONAS_DASK_LOST_AFTER_S`` = 10 s of
silence instead of the default 30 s (evolve/dask_engine.py): the same heartbeat,
ping and give-up path, with shorter waits; the killed one runs with the defaults.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Cluster, dask_cluster, evonas
from tests.e2e.conftest import jsonl as lines

pytestmark = [pytest.mark.slow, pytest.mark.dask]

# DASK_CONFIG with more candidates and one more generation: its generation 1 trains (with the
# workers' 2 s sleep) long enough to lose the scheduler in the middle of it
CONFIG = """
[data]
dataset = "digits"
[search]
population = 6
generations = 2
seed = 7
workers = 2
elites = 1
[training]
max_epochs = 2
patience = 1
[space]
max_levels = 2
max_units = 2
neuron_choices = [8, 16, 32, 64]
max_params = 20000
"""
STOP_WITHIN_S = 60
LOST_AFTER_S = 10  # EVONAS_DASK_LOST_AFTER_S for the frozen scheduler


@pytest.fixture
def cluster(tmp_path) -> Iterator[Cluster]:
    """A scheduler and two single-thread workers of its own, whose candidates each take 2 s longer."""
    with dask_cluster(tmp_path / "dask-logs", dict(os.environ), {"EVONAS_FAULTS": "sleep=2"}) as c:
        yield c


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lost-config") / "tiny.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def local_run(config, tmp_path_factory) -> Path:
    """The same search, uninterrupted, in this process (the serial engine: the same results)."""
    out = tmp_path_factory.mktemp("lost-local") / "local"
    res = evonas("run", str(config), "--engine", "serial", "--out", str(out), "--quiet")
    assert res.returncode == 0, res.stderr
    return out


@pytest.mark.parametrize(
    "how",
    [signal.SIGKILL, signal.SIGSTOP],
    ids=["killed", "frozen"],  # frozen: as a machine gone offline
)
def test_a_lost_scheduler_stops_the_run_in_one_line_and_resume_local_finishes_it(
    cluster, config, local_run, tmp_path, how
):
    out = tmp_path / "run"
    journal = out / "evaluations.jsonl"
    env = {**os.environ, "EVONAS_DASK_LOST_AFTER_S": str(LOST_AFTER_S)} if how == signal.SIGSTOP else None
    proc = subprocess.Popen(
        [sys.executable, "-m", "evonas", "run", str(config), "--scheduler", cluster.address]
        + ["--out", str(out), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:  # generation 0 done, generation 1 begun
            if (out / "checkpoint.json").exists() and any(r["generation"] == 1 for r in lines(journal)):
                break
            time.sleep(0.1)
        assert proc.poll() is None, f"the run ended first: {proc.returncode}, {proc.stderr.read()[-2000:]}"
        assert (out / "checkpoint.json").exists(), "generation 0 did not finish in time" + cluster.tail()
        os.killpg(cluster.scheduler.pid, how)
        lost_at = time.monotonic()
        try:
            _, stderr = proc.communicate(timeout=STOP_WITHIN_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the run still ran {STOP_WITHIN_S} s after the scheduler was lost" + cluster.tail())
        stopped_after = time.monotonic() - lost_at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(f"stopped {stopped_after:.1f} s after the scheduler was lost ({signal.Signals(how).name})")
    assert stopped_after < STOP_WITHIN_S
    if how == signal.SIGSTOP:  # given up for its silence (nothing closed), after EVONAS_DASK_LOST_AFTER_S
        silent = re.search(r"\(it did not answer for (\d+) s\)", stderr)
        assert silent and int(silent[1]) >= LOST_AFTER_S, stderr
    assert proc.returncode == 2, stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr, stderr
    assert stderr.startswith(f"evonas: error: lost the Dask scheduler at {cluster.address}"), stderr
    assert f"continue with: evonas resume {out} --local" in stderr, stderr
    # the run directory keeps its last checkpoint and its journal (generation 1 unfinished)
    assert json.loads((out / "checkpoint.json").read_text())["generation"] == 0
    before = lines(journal)
    assert {r["generation"] for r in before} == {0, 1}
    assert not (out / "test.json").exists()

    res = evonas("resume", str(out), "--local", "--quiet")
    assert res.returncode == 0, res.stderr
    assert "after generation 0" in res.stdout
    assert (out / "individuals.jsonl").read_bytes() == (local_run / "individuals.jsonl").read_bytes()
    assert json.loads((out / "test.json").read_text()) == json.loads((local_run / "test.json").read_text())
    after = lines(journal)
    assert after[: len(before)] == before  # the evaluations of the lost generation were kept and reused
    assert len({r["key"] for r in after}) == len(after), "an evaluation was trained twice"
