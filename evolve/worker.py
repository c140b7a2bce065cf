"""What runs in a worker process: the task of one candidate, worker set-up, and the worker's data.

Both engines use this module: the loky engine (:mod:`evolve.engine`) calls
:func:`init_worker` as its executor's initializer and :func:`run_task` for each
candidate; the Dask engine (:mod:`evolve.dask_engine`) calls the same two from
its worker plugin and its task. A worker keeps each dataset it was given under a
name (``"local"`` for loky, the plugin's name on Dask), so the data reaches a
worker once, not once per candidate.

``EVONAS_FAULTS`` (see :func:`inject_faults`) is a testing aid that simulates
failures of workers; it is read here, before a candidate trains, and never in the
training code itself.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from evonas.fitness import (
    Dataset,
    TrainSettings,
    configure_tensorflow,
    evaluate_genome,
    failed_record,
    fold_data,
)
from evonas.fitness.runtime import own_process
from evonas.genome import SearchSpace, decode

LOCAL = "local"  # the name of the dataset of a loky worker

# Worker side, one of each per worker process: datasets by name, how many times each was
# set up in this process (what the Dask overhead benchmark and tests report), the pinned GPU.
_DATASETS: dict[str, Dataset] = {}
_SETUPS: dict[str, int] = {}
_GPU: dict[str, str] = {}
# fold views of the datasets (search.folds): (id of the dataset, fold, k) -> (the dataset, its fold)
_FOLD_VIEWS: dict[tuple[int, int, int], tuple[Dataset, Dataset]] = {}


@dataclass(frozen=True)
class EvalTask:
    """One candidate to train: its genes, where to save it if it beats ``save_below``, its epoch cap.

    ``epoch_cap``: the short first training of multi-fidelity (:mod:`evolve.fidelity`), or None.
    ``latency``: time the trained network's predictions (``search.objectives`` has ``latency``).
    ``replicate``: the evaluation's replicate (0: the key's first; another seed for each).
    ``folds``: with K > 1, replicate r trains on fold r of K (:func:`fitness.fold_data`).
    ``row_cap``: the short first training of multi-fidelity on a large table fits that many train
    rows (:func:`fitness.row_sample`), or None (all of them).
    """

    index: int
    genes: np.ndarray
    model_path: str | None = None
    save_below: float = math.inf
    epoch_cap: int | None = None
    latency: bool = False
    replicate: int = 0
    folds: int = 1
    row_cap: int | None = None


def claim_slot(slots_dir: str) -> int:
    """The lowest slot number not yet claimed in ``slots_dir`` (atomic across processes)."""
    slot = 0
    while True:
        try:
            os.close(os.open(os.path.join(slots_dir, f"slot-{slot}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return slot
        except FileExistsError:
            slot += 1


def keep_data(name: str, data: Dataset) -> None:
    """Hold ``data`` in this worker process under ``name``."""
    _DATASETS[name] = data
    _SETUPS[name] = _SETUPS.get(name, 0) + 1


def drop_data(name: str) -> None:
    """Forget the dataset held under ``name`` (nothing happens if there is none)."""
    _DATASETS.pop(name, None)


def fold_view(data: Dataset, fold: int, k: int) -> Dataset:
    """Fold ``fold`` of ``k`` of ``data`` (``data`` itself for ``k`` = 1), made once per process."""
    if k <= 1:
        return data
    key = (id(data), fold, k)
    if key not in _FOLD_VIEWS:
        if len(_FOLD_VIEWS) >= 64:  # a long-lived worker that served many runs
            _FOLD_VIEWS.clear()
        _FOLD_VIEWS[key] = (data, fold_data(data, fold, k))  # the dataset held: its id stays its own
    return _FOLD_VIEWS[key][1]


def worker_data(name: str = LOCAL) -> Dataset:
    """The dataset this worker holds under ``name``; a ``RuntimeError`` when it has none."""
    data = _DATASETS.get(name)
    if data is None:
        raise RuntimeError(f"this worker has no evonas dataset '{name}' (its set-up did not run)")
    return data


def dataset_names() -> list[str]:
    """The names of the datasets this worker holds, sorted."""
    return sorted(_DATASETS)


def setup_counts() -> dict[str, int]:
    """How many times each dataset name was set up in this process (1 = the data came once)."""
    return dict(_SETUPS)


def worker_gpu() -> str | None:
    """The GPU (``CUDA_VISIBLE_DEVICES`` entry) this worker was pinned to, if any."""
    return _GPU.get("gpu")


def init_worker(
    data: Dataset,
    settings: TrainSettings,
    gpus: tuple[str, ...] = (),
    slots_dir: str | None = None,
    name: str = LOCAL,
) -> None:
    """Runs once in each worker process: pick its GPU (if any), keep the data, set up TensorFlow."""
    if gpus and slots_dir is not None:  # before TensorFlow is imported in this process
        gpu = gpus[claim_slot(slots_dir) % len(gpus)]
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
        _GPU["gpu"] = gpu
    keep_data(name, data)
    own_process()  # a worker is evonas' own: gc.freeze after the imports
    configure_tensorflow(settings.tf_threads)


def inject_faults(space: SearchSpace, genes: np.ndarray, data: Dataset) -> None:
    """Testing aid: simulate failures chosen by the ``EVONAS_FAULTS`` environment variable.

    ``EVONAS_FAULTS="exit_above=N"`` kills the worker process (as the kernel's
    out-of-memory killer would) for candidates with more than N parameters;
    ``"raise_above=N"`` raises an exception before they build (the candidate is
    recorded as failed); ``"sleep=S"`` makes every candidate take S seconds
    longer (so that tests can interrupt a run mid-generation however fast
    training is). Rules combine with commas. A candidate over ``max_params`` is
    refused before it builds, so no rule applies to it. Unset (the normal
    case), this does nothing.
    """
    spec = os.environ.get("EVONAS_FAULTS")
    if not spec:
        return
    params = data.n_params(decode(space, genes))
    if params > space.max_params:
        return
    for rule in spec.split(","):
        name, _, value = rule.partition("=")
        if name.strip() == "exit_above" and params > int(value):
            os._exit(137)
        if name.strip() == "raise_above" and params > int(value):
            raise RuntimeError(f"injected fault: {params} parameters > {value}")
        if name.strip() == "sleep":
            time.sleep(float(value))


def run_task(
    task: EvalTask,
    space: SearchSpace,
    settings: TrainSettings,
    run_seed: int,
    data: Dataset | None = None,
    name: str = LOCAL,
) -> tuple[int, dict[str, Any]]:
    """Worker entry point (module level, so it pickles); uses the worker's dataset ``name`` by default."""
    data = data if data is not None else worker_data(name)
    data = fold_view(data, task.replicate, task.folds)
    try:
        inject_faults(space, task.genes, data)
    except RuntimeError as exc:
        reason = f"RuntimeError: {exc} (inject_faults)"
        record = failed_record(space, task.genes, data, run_seed, reason, task.replicate)
    else:
        record = evaluate_genome(
            space,
            task.genes,
            data,
            settings,
            run_seed,
            model_path=task.model_path,
            save_below=task.save_below,
            epoch_cap=task.epoch_cap,
            latency=task.latency,
            replicate=task.replicate,
            row_cap=task.row_cap,
        )
    if task.folds > 1:
        record["fold"] = task.replicate
    record["worker"] = os.getpid()
    if worker_gpu() is not None:
        record["gpu"] = worker_gpu()
    return task.index, record
