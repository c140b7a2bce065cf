"""The conformance suite of the selection strategies: every entry of the registry must pass it.

Pure tests on individuals with assigned figures (no training); the real searches
of every strategy (reproducible by seed, resumed as uninterrupted, on Dask) are
in ``tests/e2e/test_cli_selection.py``. Each strategy's documented elitism is
checked by its entry in ``ELITISM``: a strategy added to the registry without
one fails here.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from evonas.evolve.objectives import dominates, pareto_mask
from evonas.evolve.selection import STRATEGIES, SelectionSettings, default_selection
from evonas.evolve.selection.nsga2 import ranks_and_crowding
from evonas.evolve.toolbox import Individual, make_toolbox
from evonas.genome import SearchSpace, decode

SPACE = SearchSpace(max_levels=2, max_units=2)
SETTINGS = SelectionSettings(population=8, tournament_size=3, elites=2, objectives=("val", "params"))


def individuals(n: int, seed: int, first_id: int = 0, failed: int = 1) -> list[Individual]:
    """``n`` individuals with random (val, params) figures, the last ``failed`` of them failed."""
    rng = np.random.default_rng(seed)
    toolbox = make_toolbox(SPACE, "unit_blocks")
    out = []
    for i in range(n):
        genes = toolbox.random_genome(rng)
        ind = Individual(first_id + i, first_id // max(n, 1), genes, decode(SPACE, genes).key)
        if i >= n - failed:
            ind.assign({"status": "failed", "objective": None, "params": 50}, cached=False)
        else:
            val = float(rng.integers(1, 20))
            ind.assign({"status": "ok", "objective": val, "params": int(rng.integers(10, 200))}, False)
        out.append(ind)
    return out


def snapshot(pop: list[Individual]) -> list[dict]:
    return [ind.to_record() for ind in pop]


def elitism_tournament(pool, generation, chosen):
    assert [i.id for i in chosen] == [i.id for i in generation]  # generational: the elites are in it


def elitism_aging(pool, generation, chosen):
    youngest = sorted({i.id for i in pool + generation})[-SETTINGS.population :]
    assert [i.id for i in chosen] == youngest  # the oldest go, whatever their figures


def elitism_nsga2(pool, generation, chosen):
    union = pool + generation
    points = [i.values(SETTINGS.objectives) for i in union]
    first = {i.id for i, on in zip(union, pareto_mask(points), strict=True) if on}
    assert len(first) <= SETTINGS.population
    assert first <= {i.id for i in chosen}  # the non-dominated all stay while they fit
    # and whoever was left out is dominated by someone kept, or a failure
    kept = [i.values(SETTINGS.objectives) for i in chosen]
    for ind in union:
        if ind.id not in {c.id for c in chosen}:
            mine = ind.values(SETTINGS.objectives)
            assert math.isinf(mine[0]) or any(dominates(k, mine) for k in kept)


ELITISM = {"tournament": elitism_tournament, "aging": elitism_aging, "nsga2": elitism_nsga2}


@pytest.fixture(params=sorted(STRATEGIES))
def strategy(request):
    return STRATEGIES[request.param]


def test_every_strategy_names_itself_and_documents_its_elitism(strategy):
    assert STRATEGIES[strategy.NAME] is strategy
    assert isinstance(strategy.ELITES, bool) and isinstance(strategy.MULTI_OBJECTIVE, bool)
    assert strategy.__doc__ and "litism" in strategy.__doc__
    assert strategy.NAME in ELITISM, "a new strategy needs its elitism check in ELITISM"


def test_parents_come_from_the_pool_reproducibly_and_leave_it_unchanged(strategy):
    pool = individuals(8, seed=1)
    before = snapshot(pool)
    a = strategy.select_parents(pool, 12, np.random.default_rng(5), SETTINGS)
    b = strategy.select_parents(copy.deepcopy(pool), 12, np.random.default_rng(5), SETTINGS)
    assert [i.id for i in a] == [i.id for i in b]
    assert len(a) == 12 and all(any(p is q for q in pool) for p in a)
    assert snapshot(pool) == before
    other = strategy.select_parents(pool, 12, np.random.default_rng(6), SETTINGS)
    assert [i.id for i in other] != [i.id for i in a]  # the generator decides, nothing else


def test_parents_prefer_the_better(strategy):
    pool = individuals(8, seed=2)
    picks = strategy.select_parents(pool, 400, np.random.default_rng(0), SETTINGS)
    mean = np.mean([p.values(SETTINGS.objectives)[0] for p in picks if not math.isinf(p.objective)])
    assert mean < np.mean([p.objective for p in pool if not math.isinf(p.objective)])
    failed = [p for p in pool if math.isinf(p.objective)]
    assert sum(p in failed for p in picks) < 400 / len(pool)  # a failure wins less than its share


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_next_pool_keeps_what_the_strategy_documents(strategy, seed):
    pool = individuals(8, seed=seed)
    generation = individuals(6, seed=seed + 100, first_id=8, failed=2)
    before = snapshot(pool), snapshot(generation)
    chosen = strategy.select_pool(pool, generation, SETTINGS)
    again = strategy.select_pool(copy.deepcopy(pool), copy.deepcopy(generation), SETTINGS)
    assert [i.id for i in chosen] == [i.id for i in again]
    assert (snapshot(pool), snapshot(generation)) == before
    assert len(chosen) <= SETTINGS.population and len({i.id for i in chosen}) == len(chosen)
    assert {i.id for i in chosen} <= {i.id for i in pool + generation}
    ELITISM[strategy.NAME](pool, generation, chosen)


def test_the_first_pool_is_the_initial_population(strategy):
    initial = individuals(8, seed=4)
    assert {i.id for i in strategy.select_pool([], initial, SETTINGS)} == {i.id for i in initial}


def with_figures(figures: list[tuple[float | None, int]]) -> list[Individual]:
    """Individuals with the given (val, params); val None: failed."""
    pop = individuals(len(figures), seed=9, failed=0)
    for ind, (val, params) in zip(pop, figures, strict=True):
        status = "failed" if val is None else "ok"
        ind.assign({"status": status, "objective": val, "params": params}, cached=False)
    return pop


def test_nsga2_ranks_the_front_first_and_its_ends_are_the_least_crowded():
    figures = [(1.0, 400), (2.0, 100), (3.0, 50), (5.0, 10), (2.5, 400), (4.0, 120), (None, 5), (6.0, 60)]
    pool = with_figures(figures)
    scores = ranks_and_crowding(pool, SETTINGS)
    assert [rank for rank, _ in scores] == [0, 0, 0, 0, 1, 1, 2, 1]  # the failure last
    crowding = [c for _, c in scores]
    assert crowding[0] == crowding[3] == math.inf  # the two ends of the first front
    assert 0 < crowding[1] < math.inf and 0 < crowding[2] < math.inf
    # a pool of 5 from these: the first front whole, then the less crowded of the second
    chosen = STRATEGIES["nsga2"].select_pool([], pool, SelectionSettings(5, objectives=("val", "params")))
    assert [i.id for i in chosen][:4] == [0, 1, 2, 3] and len(chosen) == 5


def test_nsga2_keeps_one_individual_per_architecture():
    pool = with_figures([(1.0, 400), (2.0, 100), (3.0, 50)])
    twin = Individual(10, 1, pool[1].genes, pool[1].key, (1,), "mutation")
    twin.assign({"status": "ok", "objective": 2.0, "params": 100}, cached=True)
    chosen = STRATEGIES["nsga2"].select_pool(pool, [twin], SETTINGS)
    assert [i.id for i in chosen] == [0, 1, 2]


def test_the_default_strategy_follows_the_objectives():
    assert default_selection(("val",)) == "tournament"
    assert default_selection(("val", "params")) == "nsga2"
