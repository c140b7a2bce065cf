"""The dask engine on a real cluster (a scheduler and two workers on 127.0.0.1): same results as local.

The cluster is started by hand, as a user would (``dask scheduler``, ``dask worker``),
from the repository root so the workers import this code (``dask_cluster``, in
conftest.py). Its scheduler allows one
retry per task (``allowed-failures = 1``, Dask's default is 3) and its workers inject
a fault (``EVONAS_FAULTS``) that kills them for networks above ``DEADLY`` parameters;
the searches that must match a local run cap ``max_params`` below that, so the fault
never fires there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import distributed
import pytest

from tests.e2e.conftest import DASK_DEADLY as DEADLY
from tests.e2e.conftest import Cluster, dask_cluster, free_port
from tests.e2e.conftest import evonas as _evonas
from tests.e2e.conftest import jsonl as lines

pytestmark = [pytest.mark.slow, pytest.mark.dask]

TIMING = ("seconds", "worker")  # the only fields of a record that depend on where and when it ran


def evonas(*args: str) -> subprocess.CompletedProcess:
    return _evonas(*args, "--quiet")


@dataclass
class ClusterClient(Cluster):
    """The cluster with a client of this process, to watch and steer its workers."""

    client: distributed.Client | None = None

    def worker_pids(self) -> dict[str, int]:
        return self.client.run(os.getpid)

    def setups(self) -> dict[str, dict[str, int]]:
        from evonas.evolve.worker import setup_counts

        return self.client.run(setup_counts)

    def datasets(self) -> dict[str, list[str]]:
        """The names of the datasets each worker keeps (the installed module's, as the engine's)."""
        from evonas.evolve.worker import dataset_names

        return self.client.run(lambda: sorted(dataset_names()))

    def faults(self, spec: str) -> None:
        """Set ``EVONAS_FAULTS`` in the running workers (a worker the nanny restarts gets the fixture's).

        A lambda, pickled by value: it reaches the worker's own ``os.environ``
        (a bound ``os.environ.__setitem__`` would carry a copy of this process's).
        """
        self.client.run(lambda value: os.environ.__setitem__("EVONAS_FAULTS", value), spec)
        seen = self.client.run(lambda: os.environ.get("EVONAS_FAULTS"))
        assert set(seen.values()) == {spec}, seen


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[ClusterClient]:
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
    faults = {"EVONAS_FAULTS": f"exit_above={DEADLY}"}
    with dask_cluster(tmp_path_factory.mktemp("dask-logs"), env, faults) as c:
        client = distributed.Client(c.address, timeout=60, set_as_default=False)
        try:
            yield ClusterClient(**vars(c), client=client)
        finally:
            client.close()


@pytest.fixture(scope="module")
def config(dask_config) -> Path:
    return dask_config


@pytest.fixture(scope="module")
def local_run(dask_local_run) -> Path:
    return dask_local_run


def final_state(run: Path) -> tuple[bytes, list, dict, dict]:
    return (
        (run / "individuals.jsonl").read_bytes(),
        json.loads((run / "checkpoint.json").read_text())["loop"]["pool"],
        json.loads((run / "best/model.json").read_text()),
        json.loads((run / "test.json").read_text()),
    )


def evaluations_by_key(run: Path) -> dict[str, dict]:
    records = lines(run / "evaluations.jsonl")
    return {r["key"]: {k: v for k, v in r.items() if k not in TIMING} for r in records}


def test_dask_run_is_identical_to_the_local_run_and_sends_the_data_once(cluster, config, local_run, tmp_path):
    before = cluster.setups()
    out = tmp_path / "dask"
    res = evonas("run", str(config), "--scheduler", cluster.address, "--out", str(out))
    assert res.returncode == 0, res.stderr + cluster.tail()
    assert f"on the Dask cluster at {cluster.address}" in res.stdout
    assert final_state(out) == final_state(local_run)
    assert evaluations_by_key(out) == evaluations_by_key(local_run)
    evaluations = lines(out / "evaluations.jsonl")
    assert {r["worker"] for r in evaluations} <= set(cluster.worker_pids()), "not trained on the cluster"
    assert len(evaluations) > len(cluster.worker_pids())
    # the dataset reached each worker once (one plugin setup), however many candidates it trained
    after = cluster.setups()
    new = {w: {k: n for k, n in counts.items() if k not in before.get(w, {})} for w, counts in after.items()}
    assert all(list(counts.values()) == [1] for counts in new.values()), new
    assert len({name for counts in new.values() for name in counts}) == 1
    # ... and the run removed it from the workers when it ended
    assert cluster.datasets() == {w: [] for w in after}


def test_a_worker_killed_mid_generation_is_replaced_and_its_candidate_retried(
    cluster, config, local_run, tmp_path
):
    out = tmp_path / "killed"
    cluster.faults(f"exit_above={DEADLY},sleep=1.5")  # every training lasts long enough to be caught at it
    proc = subprocess.Popen(
        [sys.executable, "-m", "evonas", "run", str(config), "--scheduler", cluster.address]
        + ["--out", str(out), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    victim = None
    try:
        deadline = time.time() + 300
        while victim is None and time.time() < deadline and proc.poll() is None:
            busy = {w: keys for w, keys in cluster.client.processing().items() if keys}
            for worker, keys in busy.items():
                training = [k for k in keys if str(k).startswith("evonas-train-")]
                if training:
                    time.sleep(0.3)  # well into the training, not merely assigned
                    if training[0] in cluster.client.processing().get(worker, ()):
                        victim = worker, cluster.worker_pids()[worker], str(training[0]).split("-")[2]
                        os.kill(victim[1], signal.SIGKILL)
                        break
            time.sleep(0.1)
        assert victim is not None, "no worker was seen training" + (
            f" (the run ended first: exit {proc.returncode}, {proc.stderr.read()[-2000:]})"
            if proc.poll() is not None
            else ""
        )
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        cluster.client.wait_for_workers(2, timeout=120)  # the nanny started a new worker process
        cluster.faults(f"exit_above={DEADLY}")
    assert proc.returncode == 0, stderr + cluster.tail()
    worker, pid, key = victim
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    retried = evaluations_by_key(out)[key]
    assert retried["status"] == "ok"
    assert next(r for r in lines(out / "evaluations.jsonl") if r["key"] == key)["worker"] != worker
    assert final_state(out) == final_state(local_run)


def test_a_local_run_interrupted_mid_generation_resumes_on_dask_with_the_same_result(
    cluster, config, local_run, tmp_path
):
    out = tmp_path / "split"
    proc = subprocess.Popen(  # the serial engine: generation 1 trains its candidates one after another
        [sys.executable, "-m", "evonas", "run", str(config), "--engine", "serial", "--out", str(out)]
        + ["--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "EVONAS_FAULTS": "sleep=0.7"},  # time to interrupt it, however fast training is
        # a background shell starts its jobs with SIGINT ignored; the child must see Ctrl-C as a user would
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    journal = out / "evaluations.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if journal.exists() and any(r["generation"] == 1 for r in lines(journal)):
            break
        time.sleep(0.1)
    assert proc.poll() is None, "the local run finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    before = lines(journal)
    config_before = (out / "config.toml").read_text()

    res = evonas("resume", str(out), "--scheduler", cluster.address)
    assert res.returncode == 0, res.stderr + cluster.tail()
    assert "after generation 0" in res.stdout
    assert final_state(out) == final_state(local_run)
    after = lines(journal)
    assert after[: len(before)] == before
    assert len({r["key"] for r in after}) == len(after), "an evaluation was trained twice"
    assert all(isinstance(r["worker"], int) for r in before)  # local pids, then Dask worker addresses
    assert all(str(r["worker"]).startswith("tcp://") for r in after[len(before) :])
    assert (out / "config.toml").read_text() == config_before  # the engine override is for this resume only


def test_a_candidate_that_kills_every_worker_it_runs_on_is_recorded_as_failed(cluster, config, tmp_path):
    deadly = tmp_path / "deadly.toml"  # same search, but networks above DEADLY are allowed: they kill workers
    text = config.read_text().replace(f"max_params = {DEADLY}", "max_params = 2000000")
    # wider units: two of the first generation's networks go above DEADLY (each death restarts a worker,
    # about 10 s: more deadly candidates would only make the test longer)
    deadly.write_text(text.replace("[8, 16, 32, 64]", "[8, 16, 32, 64, 128]"))  # neuron_choices
    out = tmp_path / "deadly"
    res = evonas("run", str(deadly), "--scheduler", cluster.address, "--out", str(out))
    assert res.returncode == 0, res.stderr + cluster.tail()
    evaluations = lines(out / "evaluations.jsonl")
    died = [r for r in evaluations if "KilledWorker" in (r["error"] or "")]
    assert died, f"seed 7 has networks above {DEADLY} parameters: {[r['params'] for r in evaluations]}"
    assert all(r["status"] == "failed" and r["params"] > DEADLY for r in died), "a bystander was blamed"
    reason = "worker process died while training, 2 times with this candidate alone (KilledWorker)"
    assert all(reason in r["error"] for r in died)
    assert {r["key"] for r in died} == {r["key"] for r in evaluations if r["params"] > DEADLY}
    assert any(r["status"] == "ok" for r in evaluations)
    assert {i["generation"] for i in lines(out / "individuals.jsonl")} == {0, 1}
    cluster.client.wait_for_workers(2, timeout=120)


def test_an_unreachable_scheduler_is_a_clear_error_before_anything_is_written(config, tmp_path):
    out = tmp_path / "never"
    start = time.perf_counter()
    res = evonas("run", str(config), "--scheduler", f"tcp://127.0.0.1:{free_port()}", "--out", str(out))
    assert res.returncode == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert time.perf_counter() - start < 60
    assert not out.exists()
