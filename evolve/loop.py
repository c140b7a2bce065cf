"""The genetic loop as ask/tell: a pure state machine, judging candidates by repeated evaluations.

``GeneticLoop`` breeds, selects and judges; it trains nothing, writes no file and
starts no process (no TensorFlow, no run directory, no engine). Whoever drives it
(evonas' runner, a benchmark on stored trainings, a user's own PyTorch loop) asks,
evaluates and tells::

    loop = GeneticLoop(space, population=10, seed=0)
    while loop.generation < 5:
        todo = loop.ask()                     # the evaluations to run next
        loop.tell({c.id: train(c.genes, replicate=c.replicate) for c in todo})
    loop.best.genes, loop.best.objective      # what the loop would deliver now

One generation, as the loop runs it:

1. **Breed** (generation 0: random genomes, the textbook network first with
   ``textbook``): the ``elites`` best judged architectures are copied (tournament
   selection), the other children are bred from parents that the selection strategy
   (:mod:`evolve.selection`) draws from its pool, crossed with probability
   ``crossover_probability`` and mutated with ``mutation_probability`` (a child left
   unchanged is always mutated; one whose architecture was seen before is mutated
   again, a few times at most). ``ask`` hands out one evaluation (``replicate`` 0)
   per architecture key the loop has not evaluated yet; a key seen before is not
   trained again.
2. **Race** (``replicates`` > 1): one training is a noisy measurement, so a key is
   judged by the mean of its replicates, and the top is raced as SMAC's
   intensification does. The *incumbent* (the key the loop would deliver) gets one
   more replicate per generation, up to ``replicates``. A *challenger* (a key of this
   generation, elites included, whose mean is no worse than the incumbent's) is
   evaluated again while it has fewer replicates than the incumbent and can still
   win; one that falls behind stops there. A challenger with as many replicates as
   the incumbent and a lower mean becomes the incumbent. Means are compared whole
   (not on the replicates both have): a lucky first draw of the incumbent must not
   stay the bar once its later replicates have shown it was luck.
   Replicate ``r`` of a key is whatever the caller makes it: a new seed, or a
   cross-validation fold.
3. **Close**: every individual takes its key's judgement (the mean of its successful
   replicates; a failed evaluation makes the key fail: it ranks last), the strategy
   chooses the next pool, and :attr:`GeneticLoop.generation` counts the generation.

With one replicate (``replicates = 1``) the loop is DEAP's ``eaSimple`` with elitism
and an evaluation cache, as evonas ran before racing. With two objectives the
replicates are averaged per objective and the race runs on the first.

``state()`` is plain JSON data; ``GeneticLoop.restore(state)`` continues exactly as
the loop would have (evaluations asked and not told are asked again).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evonas.evolve.selection import STRATEGIES, SelectionSettings, default_selection
from evonas.evolve.toolbox import Individual, make_toolbox
from evonas.genome import SearchSpace, decode, textbook_genome

STATE_FORMAT = 1
NOVELTY_RETRIES = 5
# the keyword arguments of GeneticLoop: the `search` keys of config.toml that the loop reads
LOOP_KEYS = (
    "population",
    "seed",
    "selection",
    "tournament_size",
    "elites",
    "crossover",
    "crossover_probability",
    "mutation_probability",
    "objectives",
    "textbook",
    "replicates",
)
Objective = float | tuple[float, ...] | None


@dataclass(frozen=True, eq=False)
class Candidate:
    """One evaluation the loop asks for.

    ``id``: this evaluation's number (``tell`` is keyed by it); ``individual``: the
    individual whose architecture it measures (lineage ids: ``parents`` are
    individuals' ids); ``replicate``: 0 for a key's first evaluation, r for its
    (r+1)-th (a new seed, or cross-validation fold r).
    """

    id: int
    individual: int
    generation: int
    genes: np.ndarray
    key: str
    parents: tuple[int, ...]
    operator: str
    replicate: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "individual": self.individual,
            "generation": self.generation,
            "genes": self.genes.tolist(),
            "key": self.key,
            "parents": list(self.parents),
            "operator": self.operator,
            "replicate": self.replicate,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Candidate:
        return cls(
            int(d["id"]),
            int(d["individual"]),
            int(d["generation"]),
            np.asarray(d["genes"], dtype=np.int64),
            str(d["key"]),
            tuple(int(p) for p in d["parents"]),
            str(d["operator"]),
            int(d["replicate"]),
        )


@dataclass(frozen=True, eq=False)
class Judged:
    """An architecture as the loop judges it: the mean of its replicates (``inf`` when one failed)."""

    individual: int  # the first individual with this key
    key: str
    genes: np.ndarray
    objective: float
    values: tuple[float, ...]  # every objective's mean (one for a single objective)
    replicates: int


def breed_children(
    parents: Sequence[Individual],
    seen: set[str],
    toolbox: Any,
    rng: np.random.Generator,
    crossover_probability: float,
    mutation_probability: float,
    key_of: Callable[[np.ndarray], str],
    new: Callable[[np.ndarray, tuple[int, ...], str], Individual],
) -> list[Individual]:
    """One child per parent: pairs crossed with ``crossover_probability``, children mutated with
    ``mutation_probability`` (a child neither changed is always mutated), and mutated again, at most
    :data:`NOVELTY_RETRIES` times, while its key is in ``seen`` (which takes each child's key).

    ``new(genes, parent ids, operator)`` makes the individual. The one breeding of evonas.
    """
    children: list[Individual] = []
    for i in range(0, len(parents), 2):
        pair = parents[i : i + 2]
        if len(pair) == 2 and rng.random() < crossover_probability:
            a, b = toolbox.mate(pair[0].genes, pair[1].genes, rng)
            made = [(a, (pair[0].id, pair[1].id), "crossover"), (b, (pair[1].id, pair[0].id), "crossover")]
        else:
            made = [(p.genes, (p.id,), None) for p in pair]
        for genes, ids, op in made:
            if op is None or rng.random() < mutation_probability:
                genes = toolbox.mutate(genes, rng)
                op = "mutation" if op is None else "crossover+mutation"
            for _ in range(NOVELTY_RETRIES):  # spend trainings on new networks, not cached repeats
                if key_of(genes) not in seen:
                    break
                genes = toolbox.mutate(genes, rng)
                if "mutation" not in op:
                    op = f"{op}+mutation"
            child = new(genes, ids, op)
            seen.add(child.key)
            children.append(child)
    return children


class _Key:
    """What the loop knows of one architecture key: its genes, first individual and told replicates."""

    __slots__ = ("first", "genes", "told")

    def __init__(self, genes: np.ndarray, first: int, told: list[tuple[float, ...] | None] | None = None):
        self.genes = genes
        self.first = first
        self.told: list[tuple[float, ...] | None] = told or []

    @property
    def failed(self) -> bool:
        return any(v is None for v in self.told)

    def mean(self) -> tuple[float, ...] | None:
        """Each objective's mean over the replicates; None when none was told or one failed."""
        told = self.told
        if not told or any(v is None for v in told):
            return None
        return tuple(math.fsum(column) / len(column) for column in zip(*told, strict=True))

    def score(self) -> float:
        """The first objective's mean; ``inf`` when failed or untold."""
        mean = self.mean()
        return math.inf if mean is None else mean[0]


class GeneticLoop:
    """The ask/tell genetic loop over one search space (see the module's docstring).

    Args:
        space: the search space (genes that cannot matter on the data fixed already,
            as :meth:`genome.SearchSpace.for_data` does).
        population: individuals per generation.
        seed: the seed of the loop's only random generator.
        selection: a strategy of :data:`evolve.selection.STRATEGIES`; unset, ``nsga2``
            for two objectives and ``tournament`` for one.
        tournament_size, elites: the strategy's settings (:class:`SelectionSettings`).
        crossover: ``unit_blocks`` or ``two_point``.
        crossover_probability, mutation_probability: per pair, per child.
        objectives: what ``tell`` reports, minimised (``("val",)``, or two names).
        textbook: generation 0 starts with :func:`genome.textbook_genome`.
        replicates: most evaluations of one key (1: no racing).

    The defaults (population 6, mutation probability 0.8, 2 replicates) were chosen on HPOLib
    FC-Net (``benchmarks/strategies.py``, docs/benchmarks/strategies.md): against random search,
    regularised evolution and local search they have the lowest median regret at 100 and 200
    evaluations on 3 of 4 tables. ``evonas run`` (whose runner, :class:`evolve.search.Search`,
    asks this loop) keeps its ``config.toml`` defaults, measured on real trainings
    (population 10, mutation probability 0.3, one replicate).
        key: the architecture key of a genome (default: ``decode(space, genes).key``);
            two genomes with one key are one network, evaluated as one.
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        population: int = 6,
        seed: int = 0,
        selection: str | None = None,
        tournament_size: int = 3,
        elites: int = 2,
        crossover: str = "unit_blocks",
        crossover_probability: float = 0.5,
        mutation_probability: float = 0.8,
        objectives: Sequence[str] = ("val",),
        textbook: bool = False,
        replicates: int = 2,
        key: Callable[[np.ndarray], str] | None = None,
    ) -> None:
        objectives = tuple(objectives)
        selection = selection or default_selection(objectives)
        if selection not in STRATEGIES:
            raise ValueError(f"selection must be one of {sorted(STRATEGIES)}, got {selection!r}")
        if population < 2:
            raise ValueError(f"population must be at least 2, got {population}")
        if not 0 <= elites < population:
            raise ValueError(f"elites must be in 0..{population - 1}, got {elites}")
        if replicates < 1:
            raise ValueError(f"replicates must be at least 1, got {replicates}")
        self.space = space
        self.settings: dict[str, Any] = {
            "population": int(population),
            "seed": int(seed),
            "selection": selection,
            "tournament_size": int(tournament_size),
            "elites": int(elites),
            "crossover": crossover,
            "crossover_probability": float(crossover_probability),
            "mutation_probability": float(mutation_probability),
            "objectives": list(objectives),
            "textbook": bool(textbook),
            "replicates": int(replicates),
        }
        self.strategy = STRATEGIES[selection]
        self.selection = SelectionSettings(population, tournament_size, elites, objectives)
        self.toolbox = make_toolbox(space, crossover)
        self.key_of = key or (lambda genes: decode(space, genes).key)
        self.rng = np.random.default_rng(seed)
        self.generation = -1  # the last closed generation
        self.evaluations = 0  # evaluations told so far
        self._next_individual = 0
        self._next_eval = 0
        self._keys: dict[str, _Key] = {}
        self._pool: list[Individual] = []
        self._incumbent: str | None = None
        self._open: dict[int, Candidate] = {}  # asked, not told yet
        self._queued: list[Candidate] = []  # to hand out at the next ask
        self._individuals: list[Individual] = []  # the open generation's (empty between generations)
        self._raced_incumbent = False  # the incumbent had its replicate of this generation
        self._closed: list[list[Individual]] = []  # generations closed since the caller last looked

    @classmethod
    def from_settings(cls, space: SearchSpace, settings: Mapping[str, Any], **extra: Any) -> GeneticLoop:
        """A loop from a mapping of ``search`` settings (keys the loop does not read are ignored);
        ``extra`` keyword arguments take precedence (``replicates=1``, ``key=...``)."""
        picked = {k: v for k, v in settings.items() if k in LOOP_KEYS and v is not None}
        return cls(space, **{**picked, **extra})

    # -- ask and tell ------------------------------------------------------
    def ask(self) -> list[Candidate]:
        """The evaluations to run next (none while evaluations asked before are not told).

        Breeds the next generation when the last one is closed. An empty list with no
        evaluation outstanding means that a generation closed with nothing to train
        (every child a known architecture).
        """
        if self._open:
            return []
        if not self._queued:
            self._breed_generation()
            if not self._queued:
                self._advance()
        todo, self._queued = self._queued, []
        self._open = {c.id: c for c in todo}
        return todo

    def tell(self, results: Mapping[int, Objective]) -> None:
        """The objectives of asked evaluations, by candidate id: a number (a tuple for two
        objectives), or None when the evaluation failed. Results may come in several calls."""
        n_objectives = len(self.settings["objectives"])
        for cid, value in results.items():
            candidate = self._open.pop(int(cid), None)
            if candidate is None:
                raise KeyError(f"candidate {cid} was not asked for, or was told already")
            values = None if value is None else tuple(float(v) for v in np.atleast_1d(value))
            if values is not None and len(values) != n_objectives:
                raise ValueError(f"candidate {cid}: {len(values)} objectives told, {n_objectives} expected")
            if values is not None and any(math.isnan(v) for v in values):
                values = None
            known = self._keys[candidate.key]
            if candidate.replicate != len(known.told):
                raise RuntimeError(f"candidate {cid}: replicate {candidate.replicate} told out of order")
            known.told.append(values)
            self.evaluations += 1
        if not self._open:
            self._advance()

    # -- judgement ---------------------------------------------------------
    @property
    def best(self) -> Judged | None:
        """The architecture the loop would deliver now (the incumbent), or None before any success."""
        if self._incumbent is None:
            return None
        return self._judged(self._incumbent)

    def ranking(self, top: int | None = None) -> list[Judged]:
        """Every evaluated architecture (the ``top`` first only), best first: the incumbent, then
        by mean (ties: more replicates first, then the older); failed ones last."""
        told = [k for k, known in self._keys.items() if known.told]
        keys = sorted(told, key=self._order) if top is None else heapq.nsmallest(top, told, key=self._order)
        return [self._judged(k) for k in keys]

    def replicates_of(self, key: str) -> list[Objective]:
        """What was told for ``key``, replicate by replicate (numbers, tuples for two objectives)."""
        told = self._keys[key].told if key in self._keys else []
        return [None if v is None else (v[0] if len(v) == 1 else v) for v in told]

    def closed_generations(self) -> list[list[Individual]]:
        """The generations closed since the last call, their individuals with their judgement then
        (a notice to the caller, not part of :meth:`state`: read it after each ``tell``)."""
        closed, self._closed = self._closed, []
        return closed

    def _order(self, key: str) -> tuple[int, float, int, int]:
        k = self._keys[key]
        return (0 if key == self._incumbent else 1, k.score(), -len(k.told), k.first)

    def _judged(self, key: str) -> Judged:
        k = self._keys[key]
        mean = k.mean()
        values = mean if mean is not None else (math.inf,) * len(self.settings["objectives"])
        return Judged(k.first, key, k.genes.copy(), values[0], values, len(k.told))

    def record_of(self, key: str) -> dict[str, Any]:
        """An individual's view of its key's judgement now: ``status``, ``objective`` (the mean of its
        replicates) and a second objective's mean (``params`` or ``latency_ms``)."""
        mean = self._keys[key].mean()
        if mean is None:
            return {"status": "failed", "objective": None}
        record: dict[str, Any] = {"status": "ok", "objective": mean[0]}
        for name, value in zip(self.settings["objectives"][1:], mean[1:], strict=True):
            record["params" if name == "params" else "latency_ms"] = value
        return record

    # -- breeding ------------------------------------------------------------
    def _new(self, genes: np.ndarray, parents: tuple[int, ...], operator: str) -> Individual:
        genes = np.asarray(genes, dtype=np.int64)
        ind = Individual(
            self._next_individual, self.generation + 1, genes, self.key_of(genes), parents, operator
        )
        self._next_individual += 1
        return ind

    def _breed_generation(self) -> None:
        individuals = self._initial() if self.generation < 0 else self._children()
        self._individuals = individuals
        self._raced_incumbent = False
        for ind in individuals:
            if ind.key not in self._keys:
                self._keys[ind.key] = _Key(ind.genes.copy(), ind.id)
                self._ask(ind, self._keys[ind.key], ind.operator)

    def _initial(self) -> list[Individual]:
        s = self.settings
        first = [self._new(textbook_genome(self.space), (), "textbook")] if s["textbook"] else []
        rest = [
            self._new(self.toolbox.random_genome(self.rng), (), "init")
            for _ in range(s["population"] - len(first))
        ]
        return first + rest

    def _children(self) -> list[Individual]:
        s = self.settings
        best = [j for j in self.ranking(s["elites"]) if not math.isinf(j.objective)]
        elites = [self._new(j.genes, (j.individual,), "elite") for j in best] if self.strategy.ELITES else []
        n_children = s["population"] - (len(elites) if self.strategy.ELITES else s["elites"])
        self._refresh(self._pool)
        parents = self.strategy.select_parents(self._pool, n_children, self.rng, self.selection)
        seen = set(self._keys) | {e.key for e in elites}
        children = breed_children(
            parents,
            seen,
            self.toolbox,
            self.rng,
            s["crossover_probability"],
            s["mutation_probability"],
            self.key_of,
            self._new,
        )
        return elites + children

    def _ask(self, ind: Individual, known: _Key, operator: str) -> None:
        replicate = len(known.told) + sum(c.key == ind.key for c in self._queued)
        self._queued.append(
            Candidate(
                self._next_eval,
                ind.id,
                self.generation + 1,
                ind.genes.copy(),
                ind.key,
                ind.parents,
                operator,
                replicate,
            )
        )
        self._next_eval += 1

    # -- racing and closing -----------------------------------------------
    def _advance(self) -> None:
        """All asked evaluations are told: queue the next race round, or close the generation."""
        self._promote()
        self._race()
        if not self._queued:
            self._close()

    def _promote(self) -> None:
        """A challenger with as many replicates as the incumbent and a lower mean over them replaces it."""
        contenders = dict.fromkeys(ind.key for ind in self._individuals)
        inc = self._keys.get(self._incumbent) if self._incumbent else None
        if inc is not None and inc.failed:  # the incumbent failed a replicate: the best that did not
            ok = [k for k, known in self._keys.items() if known.told and not known.failed]
            self._incumbent = min(ok, key=self._order) if ok else None
            inc = self._keys[self._incumbent] if self._incumbent else None
        for key in contenders:
            k = self._keys[key]
            if key == self._incumbent or not k.told or k.failed:
                continue
            if inc is None or inc.failed:
                self._incumbent, inc = key, k
                continue
            if len(k.told) >= min(len(inc.told), self.settings["replicates"]) and k.score() < inc.score():
                self._incumbent, inc = key, k

    def _race(self) -> None:
        """Queue the incumbent's replicate of this generation and the next replicate of each challenger
        that can still win (fewer replicates than the incumbent, a lower mean on those it has)."""
        limit = self.settings["replicates"]
        if limit == 1 or self._incumbent is None:
            return
        inc = self._keys[self._incumbent]
        by_key = {ind.key: ind for ind in self._individuals}
        if not self._raced_incumbent and len(inc.told) < limit:
            self._raced_incumbent = True
            ind = by_key.get(self._incumbent) or self._find(self._incumbent)
            self._ask(ind, inc, "replicate")
        for key, ind in by_key.items():
            k = self._keys[key]
            if key == self._incumbent or k.failed or not k.told:
                continue
            if len(k.told) < min(len(inc.told), limit) and k.score() <= inc.score():
                self._ask(ind, k, "replicate")

    def _find(self, key: str) -> Individual:
        """An individual with ``key`` (the incumbent need not be in this generation, e.g. under aging)."""
        for ind in [*self._pool, *self._individuals]:
            if ind.key == key:
                return ind
        k = self._keys[key]
        return Individual(k.first, self.generation + 1, k.genes, key, (), "replicate")

    def _refresh(self, individuals: Iterable[Individual]) -> None:
        """Give each individual its key's judgement now (the mean of its replicates so far)."""
        for ind in individuals:
            ind.assign(self.record_of(ind.key), ind.cached)

    def _close(self) -> None:
        individuals = self._individuals
        for ind in individuals:
            ind.cached = self._keys[ind.key].first != ind.id
        self._refresh([*self._pool, *individuals])
        self._pool = self.strategy.select_pool(self._pool, individuals, self.selection)
        self.generation += 1
        self._closed.append(individuals)
        self._individuals = []

    # -- state ---------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The loop's whole state as plain JSON data (:meth:`restore` continues from it)."""
        return {
            "format": STATE_FORMAT,
            "settings": self.settings,
            "space": self.space.to_dict(),
            "rng": self.rng.bit_generator.state,
            "generation": self.generation,
            "evaluations": self.evaluations,
            "next_individual": self._next_individual,
            "next_eval": self._next_eval,
            "keys": {
                key: {
                    "genes": k.genes.tolist(),
                    "first": k.first,
                    "told": [None if v is None else list(v) for v in k.told],
                }
                for key, k in self._keys.items()
            },
            "pool": [ind.to_record() for ind in self._pool],
            "individuals": [ind.to_record() for ind in self._individuals],
            "incumbent": self._incumbent,
            "raced_incumbent": self._raced_incumbent,
            # asked and not told: asked again after a restore
            "queued": [c.to_dict() for c in [*self._open.values(), *self._queued]],
        }

    @classmethod
    def restore(
        cls, state: Mapping[str, Any], *, key: Callable[[np.ndarray], str] | None = None
    ) -> GeneticLoop:
        """The loop that :meth:`state` saved; it continues exactly as the saved one would have."""
        if state.get("format") != STATE_FORMAT:
            raise ValueError(
                f"loop state has format {state.get('format')!r}; this evonas reads {STATE_FORMAT}"
            )
        loop = cls(SearchSpace.from_dict(state["space"]), key=key, **state["settings"])
        loop.rng.bit_generator.state = state["rng"]
        loop.generation = int(state["generation"])
        loop.evaluations = int(state["evaluations"])
        loop._next_individual = int(state["next_individual"])
        loop._next_eval = int(state["next_eval"])
        loop._keys = {
            key_: _Key(
                np.asarray(k["genes"], dtype=np.int64),
                int(k["first"]),
                [None if v is None else tuple(float(x) for x in v) for v in k["told"]],
            )
            for key_, k in state["keys"].items()
        }
        loop._pool = [Individual.from_record(r) for r in state["pool"]]
        loop._individuals = [Individual.from_record(r) for r in state["individuals"]]
        loop._incumbent = state["incumbent"]
        loop._raced_incumbent = bool(state["raced_incumbent"])
        loop._queued = [Candidate.from_dict(c) for c in state["queued"]]
        return loop


__all__ = ["LOOP_KEYS", "Candidate", "GeneticLoop", "Judged", "breed_children"]
