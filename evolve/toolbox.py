"""DEAP plumbing: the individual, its fitness and the Toolbox.

The selection strategies are in :mod:`evolve.selection`. Everything
registered here is a module-level function and the classes are defined at
module level (no ``creator`` classes made at run time), so individuals pickle
and travel to spawn/loky/Dask workers. Every random choice takes an explicit
``numpy.random.Generator``: there is no global random state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from deap import base

from evonas.evolve.objectives import values_of
from evonas.genome import (
    SearchSpace,
    crossover_two_point,
    crossover_unit_blocks,
    mutate_effective,
    random_genome,
)


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
        self.latency_ms: float | None = None
        self.latency_spread_ms: float | None = None
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
        self.latency_ms = record.get("latency_ms")
        self.latency_spread_ms = record.get("latency_spread_ms")
        self.error = record.get("error")

    def values(self, objectives: Sequence[str]) -> tuple[float, ...]:
        """The minimised figures named by ``objectives`` (:mod:`evolve.objectives`); ``inf`` when failed."""
        record = {
            "status": self.status,
            "objective": None if math.isinf(self.objective) else self.objective,
            "params": self.params,
            "latency_ms": self.latency_ms,
        }
        return values_of(record, objectives)

    def to_record(self) -> dict[str, Any]:
        """The ``individuals.jsonl`` line: identical across identical runs (no timings), except in a
        latency search (``latency_ms``, ``latency_spread_ms``: timings, which vary run to run)."""
        obj = self.objective
        out = {
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
        if self.latency_ms is not None:  # latency searches only: other records keep their old form
            out = {**out, "latency_ms": self.latency_ms, "latency_spread_ms": self.latency_spread_ms}
        return out

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Individual:
        ind = cls(
            r["id"], r["generation"], np.asarray(r["genes"]), r["key"], tuple(r["parents"]), r["operator"]
        )
        ind.assign(r, r.get("cached", False))
        return ind


def make_toolbox(space: SearchSpace, crossover: str) -> base.Toolbox:
    """A DEAP Toolbox whose registered functions are module-level and take an explicit RNG."""
    toolbox = base.Toolbox()
    toolbox.register("random_genome", random_genome, space)
    mate = crossover_unit_blocks if crossover == "unit_blocks" else crossover_two_point
    toolbox.register("mate", mate, space)
    toolbox.register("mutate", mutate_effective, space)
    return toolbox
