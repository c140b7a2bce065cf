"""NSGA-II (Deb et al. 2002) over two objectives: validation error against size or latency.

The pool is chosen by DEAP's ``selNSGA2``: the last pool and the new generation
together (one individual per architecture), sorted into non-dominated fronts,
the fronts taken whole while they fit in ``population``, the last one cut by
crowding distance (the most isolated kept). Elitism: every network of the
first front of pool + generation stays while that front fits (it is cut by
crowding only when it alone exceeds ``population``). Parents are drawn by
binary tournament on (front rank, larger crowding distance, lower id), with the
explicit generator (DEAP's ``selTournamentDCD`` uses the global ``random``, so
it is not used).

A failed individual (no objective) is worse than any success on every objective.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from deap import base, tools

from evonas.evolve.selection.settings import SelectionSettings
from evonas.evolve.toolbox import Individual

NAME = "nsga2"
ELITES = False
MULTI_OBJECTIVE = True
WORST = 1e300  # stands for a failed individual's missing figure (DEAP's crowding needs finite values)


class FitnessPair(base.Fitness):
    """Two minimised objectives, for DEAP's sorting and crowding."""

    weights = (-1.0, -1.0)


class _Point:
    """An individual as DEAP's NSGA-II functions see it: ``fitness`` with two values."""

    __slots__ = ("fitness", "ind")

    def __init__(self, ind: Individual, objectives: Sequence[str]) -> None:
        self.ind = ind
        self.fitness = FitnessPair()
        self.fitness.values = tuple(min(v, WORST) for v in ind.values(objectives))


def _points(individuals: Sequence[Individual], settings: SelectionSettings) -> list[_Point]:
    if len(settings.objectives) != 2:
        raise ValueError(f"nsga2 needs two objectives, got {settings.objectives!r}")
    return [_Point(ind, settings.objectives) for ind in individuals]


def ranks_and_crowding(
    individuals: Sequence[Individual], settings: SelectionSettings
) -> list[tuple[int, float]]:
    """For each individual: its front (0 = non-dominated) and its crowding distance in that front."""
    points = _points(individuals, settings)
    fronts = tools.sortNondominated(points, len(points))
    rank: dict[int, int] = {}
    for r, front in enumerate(fronts):
        tools.emo.assignCrowdingDist(front)
        for p in front:
            rank[id(p)] = r
    return [(rank[id(p)], float(p.fitness.crowding_dist)) for p in points]


def select_parents(
    pool: Sequence[Individual], k: int, rng: np.random.Generator, settings: SelectionSettings
) -> list[Individual]:
    """``k`` binary tournaments: the lower front wins, then the larger crowding distance, the lower id."""
    scores = ranks_and_crowding(pool, settings)

    def order(i: int) -> tuple[int, float, int]:
        return scores[i][0], -scores[i][1], pool[i].id

    chosen = []
    for _ in range(k):
        a, b = (int(i) for i in rng.integers(0, len(pool), size=2))
        chosen.append(pool[min(a, b, key=order)])
    return chosen


def select_pool(
    pool: Sequence[Individual], generation: Sequence[Individual], settings: SelectionSettings
) -> list[Individual]:
    """``selNSGA2`` of the last pool and the new generation, ``population`` of them (in id order).

    One individual per architecture key, the oldest: a repeat (a cached child) would
    take a second place in the pool with the same figures.
    """
    first: dict[str, Individual] = {}
    for ind in sorted([*pool, *generation], key=lambda ind: ind.id):
        first.setdefault(ind.key, ind)
    union = list(first.values())
    chosen = tools.selNSGA2(_points(union, settings), min(settings.population, len(union)))
    return sorted((p.ind for p in chosen), key=lambda ind: ind.id)


__all__ = ["ELITES", "MULTI_OBJECTIVE", "NAME", "ranks_and_crowding", "select_parents", "select_pool"]
