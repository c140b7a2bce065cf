"""Evaluate a batch of genomes in parallel, in worker processes that outlive a generation.

The ``loky`` engine (the default) uses joblib's reusable loky executor: each
worker process receives the dataset once (through the executor's initializer),
imports and configures TensorFlow once, and is reused from one generation to
the next. Results are yielded as they finish; each evaluation is seeded from
(run seed, key), so the order of completion never changes a result.

On a machine with NVIDIA GPUs (``CUDA_VISIBLE_DEVICES``, or ``nvidia-smi -L``),
the default is one worker per GPU, and each worker sees one GPU only: workers
claim slots 0, 1, 2... as they start and take GPU ``slot % n_gpus``, so
``workers = 2 x n_gpus`` puts two workers on every GPU.

The ``serial`` engine trains the candidates one after the other in the search
process itself: no worker process starts, so a tiny search (a test, a first try,
a debugger session) pays no second TensorFlow import, but a candidate that kills
the process kills the search (the journal keeps what finished; ``evonas resume``
continues). Its results are those of the ``loky`` engine (same seeds, same
threads).

The engines follow the :class:`Engine` protocol; what runs inside a worker
process (its set-up, the task of one candidate, its data) is in
:mod:`evolve.worker`. With loky and Dask, candidates train in the workers, never
in the search process (which trains only to refit the best and score the test
split): a candidate that kills its worker (out of memory, a crash in native code)
breaks only that worker. The local engine then runs the
unfinished candidates one at a time to find the culprit, which is recorded as
failed; the others are trained normally.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import warnings
import weakref
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from joblib.externals.loky import get_reusable_executor

from evonas.evolve.config import ConfigError, SearchConfig, resolve_workers
from evonas.evolve.worker import EvalTask, init_worker, run_task
from evonas.fitness import Dataset, TrainSettings, estimated_seconds, failed_record
from evonas.genome import SearchSpace


@contextmanager
def quiet_worker_restarts() -> Iterator[None]:
    """While a search runs: loky replaces a worker whose memory grew a lot (after many candidates); the
    job is not lost and results do not depend on the worker, so its warning is noise for our users.
    Scoped (the filters come back after), so a caller's own warnings are as they were."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="A worker stopped while some jobs", category=UserWarning)
        yield


class Engine(Protocol):
    """Where a generation's candidates train: :class:`LocalEngine`, :class:`SerialEngine` or
    ``evolve.dask_engine.DaskEngine``."""

    name: str

    def evaluate(
        self,
        tasks: Sequence[EvalTask],
        space: SearchSpace,
        data: Dataset,
        settings: TrainSettings,
        run_seed: int,
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield ``(task.index, record)`` for every task, in completion order."""
        ...

    def close(self) -> None:
        """Release what the engine holds (workers' data, connections)."""
        ...


def longest_first(
    tasks: Sequence[EvalTask], space: SearchSpace, data: Dataset, settings: TrainSettings
) -> list[EvalTask]:
    """``tasks`` in the order to hand them to workers: the longest to train first.

    Workers take the next task as they finish one, so a long candidate started
    last keeps one worker busy while the others wait for the next generation;
    started first, it overlaps with the short ones (the classic
    longest-processing-time rule). The length is :func:`fitness.estimated_seconds`;
    ties keep their order. Results do not depend on the order: each evaluation
    is seeded from (run seed, key).
    """
    costs = [estimated_seconds(space, task.genes, data, settings) for task in tasks]
    return [tasks[i] for i in sorted(range(len(tasks)), key=lambda i: -costs[i])]


def local_gpus() -> tuple[str, ...]:
    """The NVIDIA GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` entries (empty: none).

    ``CUDA_VISIBLE_DEVICES`` decides when it is set; otherwise ``nvidia-smi -L``
    lists the GPUs. Nothing here imports TensorFlow (the search process does so only to train).
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [v.strip() for v in visible.split(",") if v.strip()]
        return () if not ids or ids[0].startswith("-") else tuple(ids)
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return ()
    try:
        listed = subprocess.run([tool, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return ()
    if listed.returncode != 0:
        return ()
    return tuple(
        str(i) for i, line in enumerate(ln for ln in listed.stdout.splitlines() if ln.startswith("GPU "))
    )


class LocalEngine:
    """Worker processes on this machine (joblib's loky executor)."""

    name = "loky"

    def __init__(self, workers: int, gpus: Sequence[str] = ()) -> None:
        self.workers = max(1, workers)
        self.gpus = tuple(gpus)
        self.slots_dir = tempfile.mkdtemp(prefix="evonas-gpu-slots-") if self.gpus else None
        if self.slots_dir is not None:
            weakref.finalize(self, shutil.rmtree, self.slots_dir, True)

    def close(self) -> None:
        """Nothing to release: the reusable executor's workers serve the next run of this process."""

    def _executor(self, data: Dataset, settings: TrainSettings, workers: int):
        # Same data object and settings: the running workers are reused (TensorFlow stays imported).
        return get_reusable_executor(
            max_workers=workers,
            initializer=init_worker,
            initargs=(data, settings, self.gpus, self.slots_dir),
            reuse="auto",
        )

    def evaluate(
        self,
        tasks: Sequence[EvalTask],
        space: SearchSpace,
        data: Dataset,
        settings: TrainSettings,
        run_seed: int,
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield ``(task.index, record)`` for every task, in completion order."""
        if not tasks:
            return
        executor = self._executor(data, settings, min(self.workers, len(tasks)))
        futures: dict[Future, EvalTask] = {
            executor.submit(run_task, t, space, settings, run_seed): t for t in tasks
        }
        left = dict(futures)
        try:
            for future in as_completed(futures):
                if future.exception() is not None:
                    break
                del left[future]
                yield future.result()
            else:
                return
        except BaseException:  # Ctrl-C or a signal: stop the workers too, nothing keeps training
            for future in futures:
                future.cancel()
            executor.shutdown(wait=True, kill_workers=True)  # workers gone before the process exits
            raise
        # A worker died. Keep what finished; run the rest one at a time to find the culprit(s).
        for future, task in sorted(left.items(), key=lambda item: item[1].index):
            if future.done() and not future.cancelled() and future.exception() is None:
                yield future.result()
                continue
            alone = self._executor(data, settings, 1)
            try:
                yield alone.submit(run_task, task, space, settings, run_seed).result()
            except BrokenProcessPool as exc:
                reason = f"worker process died while training ({type(exc).__name__}); out of memory?"
                yield task.index, failed_record(space, task.genes, data, run_seed, reason, task.replicate)


class SerialEngine:
    """The candidates train one after the other in this process (``search.engine = "serial"``)."""

    name = "serial"
    workers = 1

    def close(self) -> None:
        """Nothing to release."""

    def evaluate(
        self,
        tasks: Sequence[EvalTask],
        space: SearchSpace,
        data: Dataset,
        settings: TrainSettings,
        run_seed: int,
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield ``(task.index, record)`` for every task, in the order given."""
        for task in tasks:
            yield run_task(task, space, settings, run_seed, data=data)


def make_engine(search: SearchConfig) -> Engine:
    """The engine ``search.engine`` names: ``LocalEngine``, ``SerialEngine``, or ``DaskEngine``
    (connected to its scheduler).

    Dask is an optional extra (``pip install 'evonas[dask]'``), imported only here (``dask_engine``
    does not import this module).
    """
    if search.engine == "dask":
        try:
            from evonas.evolve.dask_engine import DaskEngine
        except ImportError as exc:
            if exc.name not in ("dask", "distributed"):
                raise
            raise ConfigError(
                "search.engine = 'dask' needs the distributed package: pip install 'evonas[dask]'"
            ) from None
        return DaskEngine(search.scheduler)
    if search.engine == "serial":
        return SerialEngine()
    gpus = local_gpus()
    workers = search.workers or (len(gpus) if gpus else resolve_workers(search))
    return LocalEngine(workers, gpus)


def model_path_for(models_dir: Path, key: str, replicate: int = 0) -> str:
    """Where a worker saves the model of ``key`` if it may become the best (``replicate`` r > 0 of a
    cross-validated search: its model of fold r, which the delivered fold models may need)."""
    return str(models_dir / (f"{key}.keras" if replicate == 0 else f"{key}.fold{replicate}.keras"))
