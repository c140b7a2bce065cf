"""Shared by the end-to-end tests: the command line run in this process or in a real one, the tiny
searches, a Dask cluster.

:func:`evonas` runs ``evonas ARGS`` through :func:`evolve.cli.main` in the test's
process (no Python and TensorFlow start per command), and the tiny searches train
on the serial engine (no worker process to start) unless workers are what a test
is about. :func:`evonas_process` and the tests that start ``python -m evolve.cli``
themselves keep what only a process shows: the console script, native output on
the file descriptors, signals, a killed search, a dying worker's process.

A tiny search that several tests only read is run once per session, by whichever
pytest process asks first (:func:`shared`; the session-scoped fixtures below: each
returns the finished run, some also the ``CompletedProcess`` of the command that
made it). Tests must not change these runs: one that resumes, interrupts or
rewrites a run works on a copy (:func:`copy_run`), and the tests that compare a
run with "the same search, uninterrupted" compare it with these. A run's directory
holds no absolute path, so a copy resumes as the original would.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import working_directory

ROOT = Path(__file__).resolve().parents[2]

# a search of 4 candidates, 1 generation after the first, 2 epochs: the command-line flags
TINY = ["--population", "4", "--generations", "1", "--max-epochs", "2", "--patience", "1", "--quiet"]
# the digits search that is resumed, interrupted and stopped (add --generations and an engine)
DIGITS_SEARCH = [str(Path(__file__).with_name("tiny.toml")), "--quiet"]
# ... in the test's process, one candidate at a time: no worker process to start (the same results as on
# loky's workers: test_cli_run.py and test_cli_signals.py compare the two)
DIGITS = [*DIGITS_SEARCH, "--engine", "serial"]
# the same budget as a configuration file, on a smaller space (prepend a [data] table)
TINY_CONFIG = """
[search]
population = 4
generations = 1
seed = 3
engine = "serial"
[training]
max_epochs = 2
patience = 1
[space]
max_levels = 2
max_units = 2
neuron_choices = [8, 16, 32]
"""
ALL_FAIL = {**os.environ, "EVONAS_FAULTS": "raise_above=0"}  # every candidate has more than 0 parameters

# The Dask searches: networks above DASK_DEADLY parameters kill the workers that inject that fault
# (tests/e2e/test_cli_dask.py), so the searches that must match a local run stay below it.
DASK_DEADLY = 20_000
DASK_CONFIG = f"""
[data]
dataset = "digits"
[search]
population = 4
generations = 1
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
max_params = {DASK_DEADLY}
embeddings = ["none"]  # ple inputs would put most networks over max_params: refused at once, untrained
"""


def evonas(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``evonas ARGS`` run in this process (:func:`evolve.cli.main`), its exit status and output captured.

    What the command prints through Python (``print``, ``sys.stdout``/``sys.stderr``,
    warnings) is captured as text; ``env`` replaces ``os.environ`` and ``cwd`` the
    working directory while it runs. An exception that escapes ``main`` becomes exit
    status 1 with its traceback on stderr, as in a process. What only a process shows
    (the console script, output written by native code, signals, a dying search
    process) is tested with :func:`evonas_process`.
    """
    from evonas.evolve.cli import main

    out, err = io.StringIO(), io.StringIO()
    with _environment(env), working_directory(cwd), redirect_stdout(out), redirect_stderr(err):
        try:
            status = main(list(args))
        except SystemExit as exc:  # --help, --version
            status = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        except Exception:
            traceback.print_exc()
            status = 1
    return subprocess.CompletedProcess(["evonas", *args], status, out.getvalue(), err.getvalue())


def evonas_process(
    *args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """``python -m evolve.cli ARGS`` in a subprocess, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "evonas", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


@contextmanager
def _environment(env: dict | None) -> Iterator[None]:
    """``os.environ`` is ``env`` inside the block (unchanged when ``env`` is None)."""
    if env is None:
        yield
        return
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def export_feed(encoder, rows) -> dict:
    """The raw columns of ``rows`` (a DataFrame) as the inputs of a model ``evonas export`` wrote:
    numbers as float32 columns, text as strings (a missing level as "")."""
    import numpy as np
    import tensorflow as tf

    from evonas.fitness.export import input_names

    names = input_names(encoder)
    feed = {names[c.name]: rows[c.name].to_numpy(np.float32).reshape(-1, 1) for c in encoder.numeric}
    for c in encoder.categorical:
        text = rows[c.name].astype(object).where(rows[c.name].notna(), "").astype(str)
        feed[names[c.name]] = tf.constant(text.to_numpy(object).reshape(-1, 1))
    return feed


def jsonl(path: Path) -> list[dict]:
    """The records of a JSON Lines file (blank lines skipped)."""
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def copy_run(run: Path, to: Path) -> Path:
    """A copy of a run directory, to resume or change without touching a shared run."""
    shutil.copytree(run, to)
    return to


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- shared tiny searches (read only: copy_run before changing one) ----------------------------


def shared_root(factory: pytest.TempPathFactory) -> Path:
    """The folder of the runs shared by the whole session: one for all pytest-xdist processes."""
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    base = factory.getbasetemp()
    return base if run_id is None else base.parent / f"shared-{run_id}"


def shared(factory: pytest.TempPathFactory, name: str, make) -> tuple[subprocess.CompletedProcess, Path]:
    """``make(out)`` (an :func:`evonas` call that writes the run ``out``) done once for the whole session.

    Whichever pytest process asks first makes the run, the others wait for it (a file lock)
    and read the same run and the same captured output: the files that read a shared run
    need not run in one process.
    """
    root = shared_root(factory) / name
    root.mkdir(parents=True, exist_ok=True)
    out, saved = root / "run", root / "result.json"
    with open(root / "lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not saved.exists():
                res = make(out)
                saved.write_text(json.dumps([list(res.args), res.returncode, res.stdout, res.stderr]))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return subprocess.CompletedProcess(*json.loads(saved.read_text())), out


@pytest.fixture(scope="session")
def ames_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """Ames, ``TINY`` on the command line, seed 3, two loky workers (the shared run that uses them)."""
    args = ["run", "--dataset", "ames", *TINY, "--seed", "3", "--workers", "2"]
    res, out = shared(tmp_path_factory, "ames", lambda out: evonas(*args, "--out", str(out)))
    assert res.returncode == 0, res.stderr
    return res, out


@pytest.fixture(scope="session")
def mnist_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """mnist5k (10 classes), the small search of ``DIGITS`` to generation 1, in this process."""
    args = ["run", *DIGITS, "--dataset", "mnist5k", "--generations", "1"]
    res, out = shared(tmp_path_factory, "mnist", lambda out: evonas(*args, "--out", str(out)))
    assert res.returncode == 0, res.stderr
    return res, out


@pytest.fixture(scope="session")
def digits_full(tmp_path_factory) -> Path:
    """The ``DIGITS`` search run uninterrupted to generation 2: what every resumed copy must end as."""
    args = ["run", *DIGITS, "--generations", "2"]
    res, out = shared(tmp_path_factory, "digits-full", lambda out: evonas(*args, "--out", str(out)))
    assert res.returncode == 0, res.stderr
    return out


@pytest.fixture(scope="session")
def digits_gen1(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """The ``DIGITS`` search stopped after generation 1 (its own command ended there)."""
    args = ["run", *DIGITS, "--generations", "1"]
    res, out = shared(tmp_path_factory, "digits-gen1", lambda out: evonas(*args, "--out", str(out)))
    assert res.returncode == 0, res.stderr
    return res, out


@pytest.fixture(scope="session")
def digits_resumed(digits_gen1, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """A copy of ``digits_gen1`` taken on to generation 2 by ``evonas resume`` (generations 0-1, then 2)."""
    _, first = digits_gen1

    def make(out: Path) -> subprocess.CompletedProcess:
        copy_run(first, out)
        return evonas("resume", str(out), "--generations", "2", "--quiet")

    res, run = shared(tmp_path_factory, "digits-resumed", make)
    assert res.returncode == 0, res.stderr
    return res, run


@pytest.fixture(scope="session")
def all_failed_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """Digits on ``TINY_CONFIG`` where every candidate fails (``ALL_FAIL``): the command exits 3."""

    def make(out: Path) -> subprocess.CompletedProcess:
        config = out.parent / "c.toml"
        config.write_text('[data]\ndataset = "digits"\n' + TINY_CONFIG)
        return evonas("run", str(config), "--out", str(out), "--quiet", env=ALL_FAIL)

    return shared(tmp_path_factory, "all-failed", make)


@pytest.fixture(scope="session")
def dask_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dask-config") / "tiny.toml"
    path.write_text(DASK_CONFIG)
    return path


@pytest.fixture(scope="session")
def dask_local_run(dask_config, tmp_path_factory) -> Path:
    """The ``DASK_CONFIG`` search in this process, uninterrupted: what every Dask run must end as."""
    out = tmp_path_factory.mktemp("dask-local") / "local"
    res = evonas("run", str(dask_config), "--engine", "serial", "--out", str(out), "--quiet")
    assert res.returncode == 0, res.stderr
    return out


# -- a Dask cluster started by hand ---------------------------------------------------------------


@dataclass
class Cluster:
    """A scheduler and its workers, each a process group of its own, logging to ``logs``."""

    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen]
    logs: Path

    def tail(self) -> str:
        """The end of every log, for an assertion message."""
        return "\n".join(f"--- {p.name}\n" + p.read_text()[-3000:] for p in sorted(self.logs.glob("*.log")))


@contextmanager
def dask_cluster(logs: Path, env: dict[str, str], worker_env: dict[str, str]) -> Iterator[Cluster]:
    """Start ``dask scheduler`` and two single-thread ``dask worker`` on 127.0.0.1, as a user would.

    From the repository root (with it on ``PYTHONPATH``), so the workers import
    this code; ``worker_env`` is added to ``env`` for the workers. Yields once both
    workers are connected; kills every process group at the end (SIGKILL: a
    stopped scheduler ignores SIGTERM).
    """
    import distributed

    logs.mkdir(parents=True, exist_ok=True)
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))}
    commands = [
        ("scheduler", env, ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port)]),
        *[
            (
                f"w{i}",
                {**env, **worker_env},
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
        for proc in reversed(procs):  # workers first, then the scheduler
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in procs:
            proc.wait(timeout=30)
