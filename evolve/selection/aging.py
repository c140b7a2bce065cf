"""Aging (regularized) evolution, Real et al. (AAAI 2019): the oldest die, whatever their fitness.

The pool holds the ``population`` youngest individuals. Each parent is the best
(lowest validation objective, ties: lowest id) of ``tournament_size`` pool
members sampled without replacement (Real et al.'s sample ``S``). Each
generation's ``population - elites`` children join the pool and the oldest leave
it (age is the order of birth: the id), so ``search.elites`` is here how many of
the last pool survive, the youngest, not the best. No elitism: a network
stays in the pool for about ``population / (population - elites)`` generations
however good it is (the loop's judgement still remembers it, and the best found is
what the run delivers). The paper's argument: a network must be re-found by its
descendants to stay, which favours architectures that train well again and
again over lucky ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evonas.evolve.selection.settings import SelectionSettings
from evonas.evolve.toolbox import Individual

NAME = "aging"
ELITES = False
MULTI_OBJECTIVE = False


def select_parents(
    pool: Sequence[Individual], k: int, rng: np.random.Generator, settings: SelectionSettings
) -> list[Individual]:
    """``k`` parents, each the best of a sample of ``tournament_size`` (without replacement)."""
    size = min(settings.tournament_size, len(pool))
    chosen = []
    for _ in range(k):
        idx = rng.choice(len(pool), size=size, replace=False)
        chosen.append(min((pool[int(i)] for i in idx), key=lambda ind: (ind.objective, ind.id)))
    return chosen


def select_pool(
    pool: Sequence[Individual], generation: Sequence[Individual], settings: SelectionSettings
) -> list[Individual]:
    """The ``population`` youngest of the last pool and the new generation, oldest first."""
    by_age = sorted({ind.id: ind for ind in [*pool, *generation]}.values(), key=lambda ind: ind.id)
    return by_age[-settings.population :]


__all__ = ["ELITES", "MULTI_OBJECTIVE", "NAME", "select_parents", "select_pool"]
