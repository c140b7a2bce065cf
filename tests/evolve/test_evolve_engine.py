"""The order in which the engine's workers receive a generation's candidates; the serial engine."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from evonas.evolve.config import ConfigError, SearchConfig
from evonas.evolve.engine import SerialEngine, longest_first, make_engine
from evonas.evolve.worker import EvalTask, run_task
from evonas.fitness import TrainSettings, estimated_seconds, load_dataset
from evonas.genome import SearchSpace, random_genome


def test_longest_first_hands_out_every_task_once_longest_estimate_first():
    space = SearchSpace(max_levels=3, max_units=3)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(200, 5)), columns=list("abcde"))
    frame["y"] = frame["a"] * 3 + rng.normal(size=200)
    data = load_dataset(frame, "y")
    settings = TrainSettings(max_epochs=5, patience=2)
    tasks = [EvalTask(i, random_genome(space, rng)) for i in range(12)]
    duplicate = EvalTask(12, tasks[3].genes.copy())  # a tie: keeps its place after the first
    tasks.append(duplicate)
    given = list(tasks)
    ordered = longest_first(tasks, space, data, settings)
    assert tasks == given  # the input is not reordered in place
    assert sorted(t.index for t in ordered) == list(range(13))
    costs = [estimated_seconds(space, t.genes, data, settings) for t in ordered]
    assert costs == sorted(costs, reverse=True)
    assert len(set(costs)) > 5  # random genomes of this space differ: the order is not the given one by luck
    assert [t.index for t in ordered if t.index in (3, 12)] == [3, 12]
@pytest.mark.slow  # more than 2 s (tests/conftest.py FAST_LIMIT_S)
def test_the_serial_engine_trains_each_task_here_in_the_order_given_as_a_worker_would():
    """``search.engine = "serial"``: every task's record, in order, from this process; the records are
    those a worker's ``run_task`` gives (the same seeds, the same TensorFlow threads)."""
    space = SearchSpace(max_levels=1, max_units=1, neuron_choices=(4,))
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(120, 3)), columns=list("abc"))
    frame["y"] = frame["a"] * 2 + rng.normal(size=120)
    data = load_dataset(frame, "y")
    settings = TrainSettings(max_epochs=1, patience=1)
    tasks = [EvalTask(i, random_genome(space, rng)) for i in (2, 0, 1)]
    engine = make_engine(SearchConfig(engine="serial"))
    assert isinstance(engine, SerialEngine) and engine.workers == 1
    done = list(engine.evaluate(tasks, space, data, settings, run_seed=3))
    engine.close()
    assert [index for index, _ in done] == [2, 0, 1]
    assert {record["worker"] for _, record in done} == {os.getpid()}
    again = run_task(tasks[0], space, settings, 3, data=data)[1]
    assert {k: v for k, v in done[0][1].items() if k != "seconds"} == {
        k: v for k, v in again.items() if k != "seconds"
    }
    with pytest.raises(ConfigError, match="search.engine must be one of loky, serial, dask"):
        SearchConfig(engine="threads")
