"""The ask/tell loop's conformance suite, over every selection strategy: no training, an objective
made of the architecture key (a known 'true' score) and a replicate's noise."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from evonas.evolve.loop import GeneticLoop
from evonas.evolve.selection import STRATEGIES
from evonas.genome import SearchSpace

SPACE = SearchSpace(max_levels=2, max_units=2, neuron_choices=(8, 16, 32), learning_rates=(1e-3, 1e-2))
STRATEGY_SETTINGS = {
    "tournament": {},
    "aging": {"selection": "aging", "elites": 5},
    "nsga2": {"selection": "nsga2", "objectives": ("val", "params")},
}


def true_score(key: str) -> float:
    """A key's true score in [0, 1): the same for every replicate, unknown to the loop."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 16**8


def noisy(key: str, replicate: int, scale: float = 0.2) -> float:
    """One evaluation: the true score and a noise fixed by (key, replicate)."""
    seed = int(hashlib.sha256(f"{key}/{replicate}".encode()).hexdigest()[:8], 16)
    return true_score(key) + scale * float(np.random.default_rng(seed).normal())


def objective(loop: GeneticLoop, candidate, fail=lambda c: False):
    if fail(candidate):
        return None
    value = noisy(candidate.key, candidate.replicate)
    if len(loop.settings["objectives"]) == 2:
        return (value, float(candidate.genes.sum()))
    return value


def drive(loop: GeneticLoop, generations: int, fail=lambda c: False) -> list:
    """Ask and tell until ``generations`` generations are closed; every candidate asked, in order."""
    asked = []
    while loop.generation < generations - 1:
        todo = loop.ask()
        asked.extend(todo)
        loop.tell({c.id: objective(loop, c, fail) for c in todo})
    return asked


@pytest.fixture(params=sorted(STRATEGIES))
def settings(request) -> dict:
    return {"population": 8, "seed": 3, "replicates": 3, **STRATEGY_SETTINGS[request.param]}


def test_each_ask_is_evaluations_to_run_and_nothing_more_until_told(settings):
    loop = GeneticLoop(SPACE, **settings)
    todo = loop.ask()
    assert len(todo) == settings["population"] and loop.ask() == []  # generation 0: one per key
    assert {c.replicate for c in todo} == {0} and len({c.key for c in todo}) == len(todo)
    loop.tell({c.id: objective(loop, c) for c in todo[:3]})
    assert loop.ask() == []  # still waiting for the others
    with pytest.raises(KeyError):
        loop.tell({todo[0].id: 0.5})  # told already
    loop.tell({c.id: objective(loop, c) for c in todo[3:]})
    asked = todo + drive(loop, 5)
    assert loop.generation == 4
    assert len({c.id for c in asked}) == len(asked) == loop.evaluations
    for c in asked:
        assert SPACE.layout.validate(c.genes) is not None
        assert c.operator in {"init", "elite", "mutation", "crossover", "crossover+mutation", "replicate"}


def test_replicates_of_a_key_never_exceed_the_limit_and_come_in_order(settings):
    loop = GeneticLoop(SPACE, **settings)
    asked = drive(loop, 8)
    per_key: dict[str, list[int]] = {}
    for c in asked:
        per_key.setdefault(c.key, []).append(c.replicate)
    assert all(r == list(range(len(r))) for r in per_key.values())
    assert max(len(r) for r in per_key.values()) <= settings["replicates"]
    if settings.get("selection") != "nsga2":  # the race runs on the first objective
        assert max(len(r) for r in per_key.values()) > 1  # the top was raced
    best = loop.best
    assert best.replicates == len(per_key[best.key])
    told = loop.replicates_of(best.key)
    first = [t[0] if isinstance(t, tuple) else t for t in told]
    assert best.objective == pytest.approx(sum(first) / len(first))


def test_with_one_replicate_no_key_is_evaluated_twice(settings):
    loop = GeneticLoop(SPACE, **{**settings, "replicates": 1})
    asked = drive(loop, 6)
    assert not [k for k, n in Counter(c.key for c in asked).items() if n > 1]
    assert {c.replicate for c in asked} == {0}


def test_a_failed_candidate_ranks_last_and_is_never_the_best(settings):
    loop = GeneticLoop(SPACE, **settings)
    failing = set()

    def fail(c):
        if c.generation == 0 and c.individual % 2 == 0:
            failing.add(c.key)
            return True
        return False

    drive(loop, 4, fail)
    ranking = loop.ranking()
    failed = [j for j in ranking if math.isinf(j.objective)]
    assert {j.key for j in failed} == failing
    assert ranking[-len(failed) :] == failed or not failed
    assert loop.best.key not in failing and loop.best.objective < math.inf
    assert [j.objective for j in ranking[1 : -len(failed)]] == sorted(
        j.objective for j in ranking[1 : -len(failed)]
    )


def test_a_lucky_first_draw_is_raced_away():
    """One key's first evaluation is far too good: alone it would be the best for ever; the race
    evaluates it again and a network that is better on average replaces it."""
    lucky = {}

    def run(replicates: int) -> GeneticLoop:
        loop = GeneticLoop(SPACE, population=8, seed=1, replicates=replicates)
        while loop.generation < 5:
            todo = loop.ask()
            lucky.setdefault(replicates, todo[0].key)
            results = {}
            for c in todo:
                bonus = -0.6 if (c.key == lucky[replicates] and c.replicate == 0) else 0.0
                results[c.id] = (
                    0.5 + 0.1 * true_score(c.key) + bonus
                    if c.key == lucky[replicates]
                    else (0.1 * true_score(c.key))
                )
            loop.tell(results)
        return loop

    assert run(1).best.key == lucky[1]  # one draw each: the lucky one wins for ever
    raced = run(3)
    assert raced.best.key != lucky[3] and raced.best.objective < 0.1
    assert raced.replicates_of(lucky[3])[1] > 0.5  # evaluated again, as the incumbent


def test_state_restores_to_a_loop_that_continues_identically(settings):
    """Saved mid-generation (evaluations asked, some told), restored from JSON: the same
    candidates, judgements and best as the loop that went on."""
    a = GeneticLoop(SPACE, **settings)
    drive(a, 3)
    todo = a.ask()
    a.tell({c.id: objective(a, c) for c in todo[:2]})
    state = json.loads(json.dumps(a.state()))
    b = GeneticLoop.restore(state)
    pending = b.ask()  # asked and not told before the save: asked again
    assert [c.id for c in pending] == [c.id for c in todo[2:]]
    a.tell({c.id: objective(a, c) for c in todo[2:]})
    b.tell({c.id: objective(b, c) for c in pending})
    rest_a, rest_b = drive(a, 7), drive(b, 7)
    assert [c.to_dict() for c in rest_a] == [c.to_dict() for c in rest_b]
    assert a.best.key == b.best.key and a.best.objective == b.best.objective
    assert [j.key for j in a.ranking()] == [j.key for j in b.ranking()]
    assert json.dumps(a.state(), sort_keys=True) == json.dumps(b.state(), sort_keys=True)


def test_a_seed_gives_the_same_search_and_another_seed_another():
    def keys(seed: int) -> list[str]:
        return [c.key for c in drive(GeneticLoop(SPACE, population=6, seed=seed, replicates=2), 4)]

    assert keys(5) == keys(5) and keys(5) != keys(6)


def test_bad_settings_and_tells_are_refused():
    with pytest.raises(ValueError, match="selection"):
        GeneticLoop(SPACE, selection="nonsense")
    with pytest.raises(ValueError, match="replicates"):
        GeneticLoop(SPACE, replicates=0)
    loop = GeneticLoop(SPACE, population=4)
    todo = loop.ask()
    with pytest.raises(ValueError, match="objectives"):
        loop.tell({todo[0].id: (1.0, 2.0)})
    with pytest.raises(KeyError):
        loop.tell({12345: 1.0})
    loop = GeneticLoop.from_settings(
        SPACE, {"population": 4, "generations": 9, "engine": "serial", "seed": 2}
    )
    assert loop.settings["population"] == 4 and loop.settings["seed"] == 2
    loop = GeneticLoop.from_settings(SPACE, {"population": 4, "replicates": 3}, replicates=1)
    assert loop.settings["replicates"] == 1  # the keyword argument wins


def test_the_loop_imports_neither_tensorflow_nor_the_run_directory():
    code = (
        "import sys, evonas.evolve.loop; "
        "banned = ('tensorflow', 'keras', 'evonas.evolve.rundir', 'evonas.evolve.engine', 'evonas.fitness'); "
        "bad = [m for m in banned if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
