"""Tournament selection with elitism: evonas' default, DEAP ``eaSimple`` with elitism.

Each parent is the best (lowest validation objective, ties: lowest id) of
``tournament_size`` individuals drawn at random, with replacement, from the
last generation. The next generation is the ``search.elites`` best distinct
architectures as the loop judges them (:mod:`evolve.loop`), copied, and ``population - elites`` children:
the pool is that generation, nothing older. Elitism: the best architecture found
so far is in every generation. With two objectives the front is still kept
(``front.csv``), but the parents are chosen on the validation objective only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evonas.evolve.selection.settings import SelectionSettings
from evonas.evolve.toolbox import Individual

NAME = "tournament"
ELITES = True
MULTI_OBJECTIVE = False


def select_tournament(
    population: Sequence[Individual], k: int, rng: np.random.Generator, tournsize: int = 3
) -> list[Individual]:
    """Pick ``k`` individuals, each the best of ``tournsize`` drawn at random (ties: lowest id)."""
    chosen = []
    for _ in range(k):
        idx = rng.integers(0, len(population), size=tournsize)
        chosen.append(min((population[i] for i in idx), key=lambda ind: (ind.objective, ind.id)))
    return chosen


def select_parents(
    pool: Sequence[Individual], k: int, rng: np.random.Generator, settings: SelectionSettings
) -> list[Individual]:
    return select_tournament(pool, k, rng, settings.tournament_size)


def select_pool(
    pool: Sequence[Individual], generation: Sequence[Individual], settings: SelectionSettings
) -> list[Individual]:
    """Generational replacement: the generation just evaluated (its elites included)."""
    return list(generation)


__all__ = ["ELITES", "MULTI_OBJECTIVE", "NAME", "select_parents", "select_pool", "select_tournament"]
