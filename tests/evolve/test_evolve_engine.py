"""The order in which the engine's workers receive a generation's candidates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evolve.engine import longest_first
from evolve.worker import EvalTask
from fitness import TrainSettings, estimated_seconds, load_dataset
from genome import SearchSpace, random_genome


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
