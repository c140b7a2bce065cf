"""Evaluate a generation on an existing Dask cluster (``engine = "dask"``, ``--scheduler tcp://...``).

Same interface (:class:`evolve.engine.Engine`) and same results as
:class:`evolve.engine.LocalEngine`, with Dask futures instead of local processes:

- each candidate is one task (``client.submit(..., pure=False)``), yielded as it
  finishes (``distributed.as_completed``); evaluations are seeded from
  (run seed, key) and TensorFlow runs ``training.tf_threads`` threads, so
  neither the worker nor the order changes a result;
- the dataset travels once per worker, inside a ``WorkerPlugin`` whose ``setup``
  calls :func:`evolve.worker.init_worker` (TensorFlow is imported and configured
  there, once per worker process); a worker that joins or restarts later gets it
  from the scheduler. Tasks carry only the genome (a few kB);
- a worker process that dies mid-task is replaced by its nanny and the scheduler
  runs its tasks again on another worker, at most
  ``distributed.scheduler.allowed-failures`` times (Dask's default: 3, so 4
  attempts). ``KilledWorker`` also blames the tasks merely queued on the dying
  workers, so its candidates run again one at a time once the others are done
  (as the local engine isolates its culprits); one that kills its workers again,
  alone, is recorded as failed;
- a lost scheduler stops the generation with a ``SchedulerError`` (one line: the
  run directory keeps its journal and last checkpoint, and the error says how to
  resume). A scheduler process that dies closes its connections: the client
  cancels the futures at once and the error comes within a second (its workers
  stop too). A scheduler that stops answering without closing them (a frozen
  process, a machine gone from the network) would leave the futures pending for
  ever: while waiting for results, the engine pings the scheduler
  (``HEARTBEAT_S``) and gives it up after ``LOST_AFTER_S`` without an answer.
  ``EVONAS_DASK_LOST_AFTER_S`` (seconds) sets that limit for one engine, read when
  it is made; the heartbeat and the ping's timeout become a sixth and a third of it
  when that is shorter. The tests use it to give up a frozen scheduler sooner.

This module imports ``distributed`` at the top: import it only for the dask engine
(:func:`evolve.engine.make_engine` does), so that evonas works without Dask. It imports
:mod:`evolve.worker`, never :mod:`evolve.engine`.
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any

import distributed
from distributed import Client, KilledWorker, WorkerPlugin
from distributed.comm.core import CommClosedError

from evonas.evolve.config import ConfigError
from evonas.evolve.worker import EvalTask, drop_data, init_worker, run_task, setup_counts
from evonas.fitness import Dataset, TrainSettings, failed_record
from evonas.genome import SearchSpace, decode

CONNECT_TIMEOUT_S = 10.0
POLL_S = 0.05  # how often a generation looks for finished futures (as distributed.as_completed does)
HEARTBEAT_S = 5.0  # ping the scheduler when no result came for this long...
PING_TIMEOUT_S = 10.0  # ... waiting this long for its answer ...
LOST_AFTER_S = 30.0  # ... and give it up after this long without any sign of it (results or answers)
CLOSE_TIMEOUT_S = 5.0  # closing a client whose scheduler is lost
LOST_AFTER_ENV = "EVONAS_DASK_LOST_AFTER_S"  # overrides LOST_AFTER_S (and shortens the two above)

# Keras sessions and seeds are per process: a worker started with several threads trains one at a time.
_TRAINING = threading.Lock()


class SchedulerError(ConfigError):
    """The Dask scheduler cannot be reached, or its workers cannot run evonas (one line)."""


class DataPlugin(WorkerPlugin):
    """Puts the dataset in each worker process once and configures TensorFlow there."""

    def __init__(self, name: str, data: Dataset, settings: TrainSettings) -> None:
        self.name = name
        self.data = data
        self.settings = settings

    def setup(self, worker: Any) -> None:
        init_worker(self.data, self.settings, name=self.name)

    def teardown(self, worker: Any) -> None:
        drop_data(self.name)


def probe_worker() -> dict[str, Any]:
    """Runs on every worker when connecting: evonas imports there (this function unpickles)."""
    return {"pid": os.getpid(), "host": os.uname().nodename}


def run_on_worker(
    plugin: str, task: EvalTask, space: SearchSpace, settings: TrainSettings, run_seed: int
) -> tuple[int, dict[str, Any]]:
    """The task of one candidate: train it with the dataset the plugin left in this worker."""
    if task.model_path is not None and not os.path.isdir(os.path.dirname(task.model_path)):
        # the run directory is not on a file system this worker shares: keep no model here
        # (the search trains its best candidate again, deterministically, when its file is missing)
        task = dataclasses.replace(task, model_path=None)
    with _TRAINING:
        index, record = run_task(task, space, settings, run_seed, name=plugin)
    record["worker"] = distributed.get_worker().address
    return index, record


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


async def _reach(address: str, timeout: float) -> None:
    """Open and close one connection to the scheduler, with the client's security settings."""
    comm = await distributed.comm.connect(
        address, timeout=timeout, **distributed.Security().get_connection_args("client")
    )
    await comm.close()


def connect(address: str | None, timeout: float = CONNECT_TIMEOUT_S) -> Client:
    """A client of the scheduler at ``address`` whose workers can run evonas, or a ``SchedulerError``.

    Security (TLS certificates, ``require-encryption``) comes from Dask's own
    configuration (``~/.config/dask/*.yaml`` or ``DASK_DISTRIBUTED__COMM__...``
    variables), as for any Dask client; use a ``tls://`` address with it.
    """
    if not address:
        raise ConfigError("search.engine = 'dask' needs search.scheduler (e.g. --scheduler tcp://host:8786)")
    try:  # a bare connection first: a Client that fails to connect hangs at garbage collection
        asyncio.run(_reach(address, timeout))
        client = Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:  # refused, timed out, malformed address, TLS mismatch...
        raise SchedulerError(
            f"cannot reach the Dask scheduler at {address}: {_one_line(exc)} "
            "(is the scheduler started, and reachable from this machine?)"
        ) from None
    try:
        client.run(probe_worker)
    except Exception as exc:
        client.close()
        raise SchedulerError(
            f"the Dask workers of {address} cannot run evonas ({_one_line(exc)}); "
            "install evonas, the same version, where the workers run"
        ) from None
    return client


def lost_after_s() -> float:
    """``LOST_AFTER_S``, or the seconds in ``EVONAS_DASK_LOST_AFTER_S`` if set (a ``ConfigError`` if bad)."""
    text = os.environ.get(LOST_AFTER_ENV, "").strip()
    if not text:
        return LOST_AFTER_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise ConfigError(f"{LOST_AFTER_ENV} must be a number of seconds > 0, got {text!r}")
    return seconds


class DaskEngine:
    """Candidates trained by the workers of an existing Dask cluster (Dask futures)."""

    name = "dask"

    def __init__(self, address: str | None, timeout: float = CONNECT_TIMEOUT_S) -> None:
        self.address = address
        self._lost_after = lost_after_s()  # before connecting: a bad value leaves no client behind
        self._heartbeat = min(HEARTBEAT_S, self._lost_after / 6)
        self._ping_timeout = min(PING_TIMEOUT_S, self._lost_after / 3)
        self.client: Client | None = connect(address, timeout)
        self.plugin: str | None = None  # name of the data plugin registered on the cluster
        self._plugin_for: tuple[str, int] | None = None
        self._lost: str | None = None  # why the scheduler is considered lost (then nothing waits on it)
        self._run_dir: str | None = None  # for the resume hint: the run whose tasks this engine trains
        self._scheduler_id = self._ping()  # to tell a restarted scheduler from this one
        self._alive_at = self._pinged_at = time.monotonic()  # its last sign of life; our last ping
        atexit.register(self.close)  # after distributed's own exit hook: runs before it

    def _send_data(self, data: Dataset, settings: TrainSettings) -> str:
        """Register the data plugin (sent to each worker once); again only when the data changes."""
        wanted = (data.fingerprint, settings.tf_threads)
        if self._plugin_for != wanted:
            if self.plugin is not None:
                self.client.unregister_worker_plugin(self.plugin)
            name = f"evonas-data-{data.fingerprint}-{uuid.uuid4().hex[:8]}"
            self.client.register_plugin(DataPlugin(name, data, settings), name=name)
            self.plugin, self._plugin_for = name, wanted
        return self.plugin

    def evaluate(
        self,
        tasks: Sequence[EvalTask],
        space: SearchSpace,
        data: Dataset,
        settings: TrainSettings,
        run_seed: int,
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield ``(task.index, record)`` for every task, in completion order.

        A ``KilledWorker`` also blames the tasks that were only queued on the
        workers that died, so its candidates are suspects, not culprits: once the
        others are done, each suspect runs again alone, and is recorded as failed
        only if workers die again while it is the only one running.
        """
        if not tasks:
            return
        if self.client is None:
            raise RuntimeError("this DaskEngine is closed")
        if tasks[0].model_path is not None:  # RUN_DIR/models/KEY.keras (evolve.engine.model_path_for)
            self._run_dir = str(Path(tasks[0].model_path).parent.parent)
        self._check_alive()  # before anything waits on the scheduler (it may have gone between generations)
        plugin = self._send_data(data, settings)
        futures = {self._submit(plugin, task, space, settings, run_seed): task for task in tasks}
        suspects: list[EvalTask] = []
        try:
            for task, future in self._finished(futures):
                outcome = self._outcome(future)
                if isinstance(outcome, KilledWorker):
                    suspects.append(task)
                else:
                    yield outcome
            for task in suspects:
                alone = {self._submit(plugin, task, space, settings, run_seed): task}
                futures.update(alone)
                for _, future in self._finished(alone):
                    outcome = self._outcome(future)
                    if isinstance(outcome, KilledWorker):
                        reason = (
                            f"worker process died while training, {outcome.allowed_failures + 1} times "
                            "with this candidate alone (KilledWorker); out of memory?"
                        )
                        yield (
                            task.index,
                            failed_record(space, task.genes, data, run_seed, reason, task.replicate),
                        )
                    else:
                        yield outcome
        except BaseException:  # Ctrl-C, an error, or the consumer stopped: nothing keeps queued work
            if self._lost is None:  # (a lost scheduler would not answer: its futures are gone with it)
                self.client.cancel(list(futures))
            raise

    def _submit(
        self, plugin: str, task: EvalTask, space: SearchSpace, settings: TrainSettings, run_seed: int
    ) -> distributed.Future:
        # a readable key (on the dashboard, in the logs): the architecture key, made unique
        key = f"evonas-train-{decode(space, task.genes).key}-{uuid.uuid4().hex[:8]}"
        return self.client.submit(run_on_worker, plugin, task, space, settings, run_seed, key=key, pure=False)

    def _finished(self, futures: dict[Any, EvalTask]) -> Iterator[tuple[EvalTask, Any]]:
        """``(task, future)`` as each finishes; raises the task's own error, except ``KilledWorker``.

        Waits in short steps, never for ever: between them it makes sure the
        scheduler is still there (:meth:`_check_alive`), so that a lost scheduler
        is a ``SchedulerError`` within ``LOST_AFTER_S`` (:func:`lost_after_s`).
        """
        pending = distributed.as_completed(futures, loop=self.client.loop)
        while not pending.is_empty():
            if not pending.has_ready():
                self._check_alive()
                time.sleep(POLL_S)
                continue
            future = next(pending)
            if future.cancelled():  # the client cancels every future when its scheduler connection closes
                self._give_up("its connection closed during a generation")
            self._alive_at = time.monotonic()  # a result came through the scheduler
            exc = future.exception()
            if exc is not None and not isinstance(exc, KilledWorker):
                raise exc
            yield futures[future], future

    def _outcome(self, future: distributed.Future) -> Any:
        """The finished future's result, or the ``KilledWorker`` it ends in.

        A finished future can still end in ``KilledWorker``: when the worker that
        holds its result dies before it is gathered, the scheduler runs the task
        again, and that run may meet a dying worker too. Gathering needs the
        scheduler, so it waits in steps too, making sure the scheduler is there.
        """
        while True:
            try:
                return future.result(timeout=self._heartbeat)
            except KilledWorker as exc:
                return exc
            except CancelledError:  # the client cancels every future when its scheduler connection closes
                self._give_up("its connection closed during a generation")
            except CommClosedError:  # the scheduler went away while this result was being gathered
                self._give_up("its connection closed while a result was gathered")
            except TimeoutError:
                if future.status == "error":  # the task's own TimeoutError
                    raise
                self._check_alive()

    def _ping(self) -> str | None:
        """The scheduler's id, if it answers within ``PING_TIMEOUT_S``; None if it does not."""
        try:
            info = self.client.sync(
                self.client.scheduler.identity, n_workers=0, callback_timeout=self._ping_timeout
            )
        except Exception:  # timed out, connection refused or closed
            return None
        return str(info.get("id"))

    def _check_alive(self) -> None:
        """Raise ``SchedulerError`` if the scheduler is lost; pings it when it was silent for ``HEARTBEAT_S``.

        Lost: the client's connection closed (it stops ``running``), the scheduler at
        the address is another one (restarted: it knows neither the tasks nor the data
        plugin), or it gave no sign of life (a result, an answer) for ``LOST_AFTER_S``.
        """
        if self.client.status != "running":
            self._give_up("its connection closed")
        if time.monotonic() - max(self._alive_at, self._pinged_at) < self._heartbeat:
            return
        answer = self._ping()
        self._pinged_at = time.monotonic()
        if self._scheduler_id is None:
            self._scheduler_id = answer
        if answer is not None and answer != self._scheduler_id:
            self._give_up("it restarted, forgetting this run's tasks")
        if answer is not None:
            self._alive_at = self._pinged_at
        elif self.client.status != "running":
            self._give_up("its connection closed")
        elif time.monotonic() - self._alive_at >= self._lost_after:
            self._give_up(f"it did not answer for {time.monotonic() - self._alive_at:.0f} s")

    def _give_up(self, why: str) -> None:
        """Raise the ``SchedulerError`` of a lost scheduler; from now on nothing waits on it."""
        self._lost = why
        run = self._run_dir or "RUN_DIR"
        raise SchedulerError(
            f"lost the Dask scheduler at {self.address} ({why}); finished evaluations are saved in "
            f"{run}: continue with: evonas resume {run} --local (or --scheduler {self.address} "
            "once a scheduler and its workers run there again)"
        )

    def setup_counts(self) -> dict[str, dict[str, int]]:
        """Per worker, how many times each evonas data plugin was set up there (1 = data sent once)."""
        return self.client.run(setup_counts)

    def close(self) -> None:
        """Remove this engine's data from the workers and disconnect (also done at exit)."""
        atexit.unregister(self.close)
        client, self.client = self.client, None
        if client is None:
            return
        lost = self._lost is not None or client.status != "running"
        if lost:  # the scheduler is gone: close without its reconnection errors, and without waiting on it
            for name in ("distributed", "distributed.client", "distributed.batched", "distributed.core"):
                logging.getLogger(name).setLevel(logging.CRITICAL + 1)
        try:
            if self.plugin is not None and not lost:
                client.unregister_worker_plugin(self.plugin)
        except Exception:  # lost the scheduler just now: nothing left to clean
            pass
        try:
            client.close(timeout=CLOSE_TIMEOUT_S if lost else CONNECT_TIMEOUT_S * 2)
        except Exception:  # a frozen scheduler never acknowledges: the connection is dropped all the same
            pass
