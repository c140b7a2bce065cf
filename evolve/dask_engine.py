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
  alone, is recorded as failed.

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
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import distributed
from distributed import Client, KilledWorker, WorkerPlugin

from evolve.config import ConfigError
from evolve.worker import EvalTask, drop_data, init_worker, run_task, setup_counts
from fitness import Dataset, TrainSettings, failed_record
from genome import SearchSpace, decode

CONNECT_TIMEOUT_S = 10.0

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


class DaskEngine:
    """Candidates trained by the workers of an existing Dask cluster (Dask futures)."""

    name = "dask"

    def __init__(self, address: str | None, timeout: float = CONNECT_TIMEOUT_S) -> None:
        self.address = address
        self.client: Client | None = connect(address, timeout)
        self.plugin: str | None = None  # name of the data plugin registered on the cluster
        self._plugin_for: tuple[str, int] | None = None
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
        plugin = self._send_data(data, settings)
        futures = {self._submit(plugin, task, space, settings, run_seed): task for task in tasks}
        suspects: list[EvalTask] = []
        try:
            for task, future in self._finished(futures):
                if isinstance(future.exception(), KilledWorker):
                    suspects.append(task)
                else:
                    yield future.result()
            for task in suspects:
                alone = {self._submit(plugin, task, space, settings, run_seed): task}
                futures.update(alone)
                for _, future in self._finished(alone):
                    exc = future.exception()
                    if isinstance(exc, KilledWorker):
                        reason = (
                            f"worker process died while training, {exc.allowed_failures + 1} times "
                            "with this candidate alone (KilledWorker); out of memory?"
                        )
                        yield task.index, failed_record(space, task.genes, data, run_seed, reason)
                    else:
                        yield future.result()
        except BaseException:  # Ctrl-C, an error, or the consumer stopped: nothing keeps queued work
            self.client.cancel(list(futures))
            raise

    def _submit(
        self, plugin: str, task: EvalTask, space: SearchSpace, settings: TrainSettings, run_seed: int
    ) -> distributed.Future:
        # a readable key (on the dashboard, in the logs): the architecture key, made unique
        key = f"evonas-train-{decode(space, task.genes).key}-{uuid.uuid4().hex[:8]}"
        return self.client.submit(run_on_worker, plugin, task, space, settings, run_seed, key=key, pure=False)

    def _finished(self, futures: dict[Any, EvalTask]) -> Iterator[tuple[EvalTask, Any]]:
        """``(task, future)`` as each finishes; raises the task's own error, except ``KilledWorker``."""
        for future in distributed.as_completed(futures, loop=self.client.loop):
            if future.cancelled():
                raise SchedulerError(
                    f"lost the Dask scheduler at {self.address} during a generation; finished "
                    "evaluations are saved: continue with evonas resume RUN_DIR"
                )
            exc = future.exception()
            if exc is not None and not isinstance(exc, KilledWorker):
                raise exc
            yield futures[future], future

    def setup_counts(self) -> dict[str, dict[str, int]]:
        """Per worker, how many times each evonas data plugin was set up there (1 = data sent once)."""
        return self.client.run(setup_counts)

    def close(self) -> None:
        """Remove this engine's data from the workers and disconnect (also done at exit)."""
        atexit.unregister(self.close)
        client, self.client = self.client, None
        if client is None:
            return
        if client.status != "running":  # the scheduler is gone: close without its reconnection errors
            for name in ("distributed", "distributed.client"):
                logging.getLogger(name).setLevel(logging.CRITICAL + 1)
        try:
            if self.plugin is not None and client.status == "running":
                client.unregister_worker_plugin(self.plugin)
        except Exception:  # lost the scheduler just now: nothing left to clean
            pass
        client.close()
