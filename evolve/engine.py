"""Evaluate a batch of genomes in parallel through joblib.

``loky`` (the default) runs worker processes on this machine; they are reused
from one generation to the next, so each imports TensorFlow once. Results are
yielded as they finish; each evaluation is seeded from (run seed, key), so the
order of completion never changes a result.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel, delayed

from fitness import Dataset, TrainSettings, evaluate_genome
from genome import SearchSpace


@dataclass(frozen=True)
class EvalTask:
    """One candidate to train: its genes, and where to save it if it beats ``save_below``."""

    index: int
    genes: np.ndarray
    model_path: str | None = None
    save_below: float = math.inf


def run_task(
    task: EvalTask, space: SearchSpace, data: Dataset, settings: TrainSettings, run_seed: int
) -> tuple[int, dict[str, Any]]:
    """Worker entry point (module level, so it pickles for any backend)."""
    record = evaluate_genome(
        space, task.genes, data, settings, run_seed, model_path=task.model_path, save_below=task.save_below
    )
    record["worker"] = os.getpid()
    return task.index, record


def evaluate_parallel(
    tasks: Sequence[EvalTask],
    space: SearchSpace,
    data: Dataset,
    settings: TrainSettings,
    run_seed: int,
    workers: int,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(task.index, record)`` for every task, in completion order."""
    if not tasks:
        return
    if workers <= 1 or len(tasks) == 1:
        for task in tasks:
            yield run_task(task, space, data, settings, run_seed)
        return
    parallel = Parallel(n_jobs=min(workers, len(tasks)), backend="loky", return_as="generator_unordered")
    yield from parallel(delayed(run_task)(t, space, data, settings, run_seed) for t in tasks)


def model_path_for(models_dir: Path, key: str) -> str:
    return str(models_dir / f"{key}.keras")
