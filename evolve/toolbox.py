"""DEAP plumbing: the individual, its fitness, selection and the Toolbox.

Everything registered here is a module-level function and the classes are
defined at module level (no ``creator`` classes made at run time), so
individuals pickle and travel to spawn/loky/Dask workers. Every random choice
takes an explicit ``numpy.random.Generator``: there is no global random state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from deap import base, tools

from genome import SearchSpace, crossover_two_point, crossover_unit_blocks, mutate_effective, random_genome


class FitnessMin(base.Fitness):
    """One objective, minimised (validation RMSE or cross-entropy)."""

    weights = (-1.0,)


class Individual:
    """A genome with its bookkeeping: id, generation, parents and the operator that made it."""

    def __init__(
        self,
        id: int,
        generation: int,
        genes: np.ndarray,
        key: str,
        parents: tuple[int, ...] = (),
        operator: str = "init",
    ) -> None:
        self.id = id
        self.generation = generation
        self.genes = np.array(genes, dtype=np.int64)  # always a copy, never a view
        self.key = key
        self.parents = tuple(parents)
        self.operator = operator
        self.fitness = FitnessMin()
        self.status = "pending"
        self.cached = False
        self.params: int | None = None
        self.error: str | None = None

    @property
    def objective(self) -> float:
        """The minimised value; ``inf`` for a failed or unevaluated individual."""
        return self.fitness.values[0] if self.fitness.valid else math.inf

    def assign(self, record: dict[str, Any], cached: bool) -> None:
        """Take the outcome of the evaluation of this individual's key."""
        obj = record.get("objective")
        self.status = record["status"]
        self.fitness.values = (math.inf if obj is None else float(obj),)
        self.cached = cached
        self.params = record.get("params")
        self.error = record.get("error")

    def to_record(self) -> dict[str, Any]:
        """The ``individuals.jsonl`` line (no timings: identical across identical runs)."""
        obj = self.objective
        return {
            "id": self.id,
            "generation": self.generation,
            "parents": list(self.parents),
            "operator": self.operator,
            "genes": self.genes.tolist(),
            "key": self.key,
            "objective": None if math.isinf(obj) else obj,
            "status": self.status,
            "cached": self.cached,
            "params": self.params,
            "error": self.error,
        }

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Individual:
        ind = cls(
            r["id"], r["generation"], np.asarray(r["genes"]), r["key"], tuple(r["parents"]), r["operator"]
        )
        ind.assign(r, r.get("cached", False))
        return ind


def select_tournament(
    population: Sequence[Individual], k: int, rng: np.random.Generator, tournsize: int = 3
) -> list[Individual]:
    """Pick ``k`` individuals, each the best of ``tournsize`` drawn at random (ties: lowest id)."""
    chosen = []
    for _ in range(k):
        idx = rng.integers(0, len(population), size=tournsize)
        chosen.append(min((population[i] for i in idx), key=lambda ind: (ind.objective, ind.id)))
    return chosen


def same_key(a: Individual, b: Individual) -> bool:
    """Hall-of-fame similarity: two individuals with the same key are the same network."""
    return a.key == b.key


def make_hall_of_fame(size: int) -> tools.HallOfFame:
    return tools.HallOfFame(size, similar=same_key)


def make_toolbox(space: SearchSpace, crossover: str, tournament_size: int) -> base.Toolbox:
    """A DEAP Toolbox whose registered functions are module-level and take an explicit RNG."""
    toolbox = base.Toolbox()
    toolbox.register("random_genome", random_genome, space)
    mate = crossover_unit_blocks if crossover == "unit_blocks" else crossover_two_point
    toolbox.register("mate", mate, space)
    toolbox.register("mutate", mutate_effective, space)
    toolbox.register("select", select_tournament, tournsize=tournament_size)
    return toolbox
