"""DEAP plumbing: picklable individuals, seeded tournament selection, hall of fame by key."""

from __future__ import annotations

import pickle

import numpy as np

from evonas.evolve.selection.tournament import select_tournament
from evonas.evolve.toolbox import Individual, make_toolbox
from evonas.genome import SearchSpace, decode

SPACE = SearchSpace(max_levels=2, max_units=2)


def _population(n: int, seed: int = 0) -> list[Individual]:
    rng = np.random.default_rng(seed)
    toolbox = make_toolbox(SPACE, "unit_blocks")
    pop = []
    for i in range(n):
        genes = toolbox.random_genome(rng)
        ind = Individual(i, 0, genes, decode(SPACE, genes).key)
        ind.assign({"status": "ok", "objective": float((i * 7) % n), "params": 10}, cached=False)
        pop.append(ind)
    return pop


def test_individual_pickles_and_round_trips_through_its_record():
    ind = _population(3)[2]
    back = pickle.loads(pickle.dumps(ind))
    assert back.key == ind.key and back.objective == ind.objective
    again = Individual.from_record(ind.to_record())
    assert again.to_record() == ind.to_record()
    assert np.array_equal(again.genes, ind.genes) and again.genes is not ind.genes


def test_failed_individual_is_worst_and_recorded_without_objective():
    ind = _population(1)[0]
    ind.assign({"status": "failed", "objective": None, "error": "boom"}, cached=False)
    assert ind.objective == float("inf")
    assert ind.to_record()["objective"] is None and ind.to_record()["error"] == "boom"


def test_tournament_is_reproducible_and_prefers_the_better():
    pop = _population(10)
    a = select_tournament(pop, 50, np.random.default_rng(1), tournsize=3)
    b = select_tournament(pop, 50, np.random.default_rng(1), tournsize=3)
    assert [i.id for i in a] == [i.id for i in b]
    mean_selected = np.mean([i.objective for i in a])
    assert mean_selected < np.mean([i.objective for i in pop])
    assert select_tournament(pop, 5, np.random.default_rng(0), tournsize=len(pop) * 10)[0].objective == 0


def test_toolbox_operators_respect_the_space():
    rng = np.random.default_rng(3)
    for crossover in ("unit_blocks", "two_point"):
        tb = make_toolbox(SPACE, crossover)
        a, b = tb.random_genome(rng), tb.random_genome(rng)
        for child in (*tb.mate(a, b, rng), tb.mutate(a, rng)):
            SPACE.layout.validate(child)
