"""A Dask scheduler lost mid-generation: the run stops within 60 s, one line; ``resume --local`` finishes it.

Each test starts its own cluster by hand, as a user would (a scheduler and two
workers on 127.0.0.1, from the repository root so the workers import this code),
because it loses the scheduler: killed (SIGKILL, its connections close at once)
or frozen (SIGSTOP, as a machine gone from the network: nothing closes, nothing
answers). The workers sleep 2 s before each candidate (``EVONAS_FAULTS``), so a
generation lasts long enough to lose the scheduler in the middle of it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import distributed
import pytest

pytestmark = pytest.mark.dask

ROOT = Path(__file__).resolve().parents[2]
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


def evonas(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evolve.cli", *args, "--quiet"], capture_output=True, text=True, timeout=600
    )


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen]
    logs: Path

    def tail(self) -> str:
        return "\n".join(f"--- {p.name}\n" + p.read_text()[-3000:] for p in sorted(self.logs.glob("*.log")))


@pytest.fixture
def cluster(tmp_path) -> Iterator[Cluster]:
    """A scheduler and two single-thread workers of its own, whose candidates each take 2 s longer."""
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    commands = [
        ("scheduler", env, ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port)]),
        *[
            (
                f"w{i}",
                {**env, "EVONAS_FAULTS": "sleep=2"},
                ["distributed.cli.dask_worker", address, "--host", "127.0.0.1", "--nthreads", "1"]
                + ["--nworkers", "1", "--memory-limit", "0", "--name", f"w{i}"],
            )
            for i in (1, 2)
        ],
    ]
    procs: list[subprocess.Popen] = []
    try:
        for name, proc_env, args in commands:
            with open(logs / f"{name}.log", "w") as log:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", *args, "--no-dashboard"],
                        cwd=ROOT,
                        env=proc_env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # a process group: a nanny and its worker go together
                    )
                )
        with distributed.Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=120)
        yield Cluster(address, procs[0], procs[1:], logs)
    finally:
        for proc in reversed(procs):  # workers first; SIGKILL: a stopped (SIGSTOP) scheduler ignores SIGTERM
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in procs:
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lost-config") / "tiny.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def local_run(config, tmp_path_factory) -> Path:
    """The same search, uninterrupted, on local workers."""
    out = tmp_path_factory.mktemp("lost-local") / "local"
    res = evonas("run", str(config), "--out", str(out))
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
    proc = subprocess.Popen(
        [sys.executable, "-m", "evolve.cli", "run", str(config), "--scheduler", cluster.address]
        + ["--out", str(out), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
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
    assert proc.returncode == 2, stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr, stderr
    assert stderr.startswith(f"evonas: error: lost the Dask scheduler at {cluster.address}"), stderr
    assert f"continue with: evonas resume {out} --local" in stderr, stderr
    # the run directory keeps its last checkpoint and its journal (generation 1 unfinished)
    assert json.loads((out / "checkpoint.json").read_text())["generation"] == 0
    before = lines(journal)
    assert {r["generation"] for r in before} == {0, 1}
    assert not (out / "test.json").exists()

    res = evonas("resume", str(out), "--local")
    assert res.returncode == 0, res.stderr
    assert "after generation 0" in res.stdout
    assert (out / "individuals.jsonl").read_bytes() == (local_run / "individuals.jsonl").read_bytes()
    assert json.loads((out / "test.json").read_text()) == json.loads((local_run / "test.json").read_text())
    after = lines(journal)
    assert after[: len(before)] == before  # the evaluations of the lost generation were kept and reused
    assert len({r["key"] for r in after}) == len(after), "an evaluation was trained twice"
