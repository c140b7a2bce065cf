"""``GeneticLoop`` with one replicate breeds as ``evonas run`` does: told the trainings of a real run
(its journal), it asks for exactly the networks the run trained and makes the same individuals.

The bridge for moving the runner onto the loop (issue 31): the same seed, the same settings and
the same objectives give the same generations, ids, parents, operators and judgements.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from evonas.evolve.api import load_data
from evonas.evolve.loop import GeneticLoop
from evonas.evolve.rundir import RunDir
from tests.e2e.conftest import jsonl

pytestmark = pytest.mark.slow  # reads the shared digits search (made here if no other file made it)


def test_the_loop_told_a_runs_trainings_breeds_the_runs_individuals(digits_full: Path):
    run = RunDir.open(digits_full)
    config = run.config()
    data = load_data(config.data)
    space = config.space.for_data(data.task, embeddable=bool(data.ple_bins))
    settings = {k: v for k, v in dataclasses.asdict(config.search).items() if v is not None}
    loop = GeneticLoop.from_settings(space, settings, replicates=1)  # evonas run: one replicate
    trained = {r["key"]: r for r in run.evaluations()}
    expected = jsonl(digits_full / "individuals.jsonl")
    generations = max(r["generation"] for r in expected) + 1

    asked: list[str] = []
    made = []
    while loop.generation < generations - 1:
        todo = loop.ask()
        asked += [c.key for c in todo]
        loop.tell({c.id: trained[c.key]["objective"] for c in todo})
        for generation in loop.closed_generations():
            made += [ind.to_record() for ind in generation]

    # the same networks trained (the run's journal is in the order trainings ended: longest first)
    assert sorted(asked) == sorted(r["key"] for r in run.evaluations())
    fields = ("id", "generation", "parents", "operator", "genes", "key", "cached")
    assert [{f: r[f] for f in fields} for r in made] == [{f: r[f] for f in fields} for r in expected]
    for mine, theirs in zip(made, expected, strict=True):
        assert (mine["objective"] is None) == (theirs["objective"] is None)
        if mine["objective"] is not None:
            assert math.isclose(mine["objective"], theirs["objective"])
    best = min((r for r in expected if r["objective"] is not None), key=lambda r: (r["objective"], r["id"]))
    assert loop.best.key == best["key"]
