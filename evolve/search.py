"""The generational loop (DEAP ``eaSimple`` with elitism and an evaluation cache).

Pseudocode, one generation after the initial population::

    elites    = best `elites` of the hall of fame (copied, not trained again; tournament only)
    parents   = strategy.select_parents(pool, population_size - elites)
    offspring = pairs crossed with probability cxpb, children mutated with
                probability mutpb (a child left unchanged is always mutated, and a
                child whose architecture was already seen is mutated again, a few times at most)
    evaluate(offspring)   # an architecture key seen before is not trained again
    generation = elites + offspring
    pool = strategy.select_pool(pool, generation); hall_of_fame.update(generation)

The strategy is ``search.selection`` (:mod:`evolve.selection`: tournament, aging,
nsga2); with two ``search.objectives`` the Pareto front of every individual so
far is rewritten to ``front.csv`` after each generation (:mod:`evolve.objectives`).

Individuals are written to ``individuals.jsonl`` at the end of their
generation; finished evaluations go to ``evaluations.jsonl`` as they arrive.
Under a time budget the loop stops at the generation boundary where the next
generation would not fit (:mod:`evolve.budget`); with ``search.ensemble`` > 1 the
models of the K best distinct architectures are kept (:mod:`evolve.ensemble`).
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from evolve.budget import budget_stop_line, next_generation_seconds
from evolve.config import RunConfig, resolve_workers
from evolve.engine import longest_first, make_engine, model_path_for
from evolve.ensemble import Ranking, keep_member_models, read_members, refit_members, score_members
from evolve.fidelity import is_short, promoted, rung_epochs
from evolve.formats import format_number, objective_label
from evolve.logbook import GenerationSummary
from evolve.loop import breed_children
from evolve.objectives import FRONT, front_csv, front_rows
from evolve.rundir import CHECKPOINT, REFIT, TEST, RunDir, RunDirError, write_atomic
from evolve.selection import STRATEGIES, SelectionSettings
from evolve.toolbox import Individual, make_hall_of_fame, make_toolbox
from evolve.worker import EvalTask
from fitness import Dataset, evaluate_genome, refit_genome, score_test
from genome import decode, textbook_genome

CHECKPOINT_FORMAT = 1


class Search:
    """A generational search over one run directory.

    Args:
        run: the run directory (its ``config.toml`` is the configuration).
        data: the loaded dataset.
        progress: show a progress bar per generation (on stderr).
        log: where summary lines go (``print`` by default).
    """

    def __init__(
        self,
        run: RunDir,
        config: RunConfig,
        data: Dataset,
        progress: bool = True,
        log: Callable[[str], None] = print,
    ) -> None:
        self.run = run
        # image data: conv levels and the textbook start, as run_search saves them (a no-op for a saved run)
        config = config.for_data(images=data.image_shape is not None)
        self.config = config
        # genes that cannot matter on this data are fixed (genomes decode alike with config.space)
        self.space = config.space.for_data(data.task, embeddable=bool(data.ple_bins))
        self.data = data
        self.progress = progress
        self.log = log
        s = config.search
        self.toolbox = make_toolbox(self.space, s.crossover)
        self.strategy = STRATEGIES[s.strategy]
        self.selection = SelectionSettings(s.population, s.tournament_size, s.elites, s.objectives)
        self.rng = np.random.default_rng(s.seed)
        self.hof = make_hall_of_fame(max(5, s.elites))
        self.population: list[Individual] = []  # the pool parents are drawn from (the strategy's)
        self.last_generation: list[Individual] = []  # the individuals of the latest generation
        self.front_candidates: dict[str, dict[str, Any]] = {}  # two objectives: first success per key
        self.generation = -1
        self.next_id = 0
        # the journal's last record of a key is its result (multi-fidelity: the full after the short)
        self.cache: dict[str, dict[str, Any]] = {r["key"]: r for r in run.evaluations()}
        self.short: dict[str, dict[str, Any]] = {r["key"]: r for r in run.evaluations() if is_short(r)}
        self.logbook: list[GenerationSummary] = []
        self.engine = make_engine(s)
        self.best_key: str | None = None
        self.ranking = Ranking()  # every distinct key that trained successfully (the ensemble's pool)
        self.last_wall: float | None = None  # wall time of the last generation this process ran
        self.budget_stop: dict[str, Any] | None = None  # set when the time budget stopped the loop

    # -- breeding ---------------------------------------------------------
    def _new(self, genes: np.ndarray, parents: tuple[int, ...], operator: str) -> Individual:
        ind = Individual(
            self.next_id, self.generation, genes, decode(self.space, genes).key, parents, operator
        )
        self.next_id += 1
        return ind

    def _initial(self) -> list[Individual]:
        """Generation 0: random genomes, the first the textbook network with ``search.textbook``."""
        textbook = self.config.search.textbook
        first = [self._new(textbook_genome(self.space), (), "textbook")] if textbook else []
        return first + [
            self._new(self.toolbox.random_genome(self.rng), (), "init")
            for _ in range(self.config.search.population - len(first))
        ]

    def _breed(self) -> list[Individual]:
        s = self.config.search
        best = [e for e in self.hof if not math.isinf(e.objective)][: s.elites]
        best = best if self.strategy.ELITES else []
        elites = [self._new(e.genes, (e.id,), "elite") for e in best]
        n_children = s.population - (len(elites) if self.strategy.ELITES else s.elites)
        parents = self.strategy.select_parents(self.population, n_children, self.rng, self.selection)
        # keys evaluated in earlier generations (not the journal's whole content: after a
        # resume it may hold evaluations of this very generation, made before the stop)
        seen = {k for k, r in self.cache.items() if r["generation"] < self.generation}
        seen |= {e.key for e in elites}
        children = breed_children(
            parents,
            seen,
            self.toolbox,
            self.rng,
            s.crossover_probability,
            s.mutation_probability,
            lambda genes: decode(self.space, genes).key,
            self._new,
        )
        return elites + children

    # -- evaluation -------------------------------------------------------
    def _evaluate(self, individuals: list[Individual]) -> None:
        """Train each key not in the journal yet (once), then assign every individual its record.

        An individual is ``cached`` when its key's evaluation belongs to another
        individual (an earlier one, or an elite's original): this depends only on
        the run, not on whether it was interrupted and resumed.
        """
        pending: dict[str, Individual] = {}
        for ind in individuals:
            if ind.key not in self.cache and ind.key not in pending:
                pending[ind.key] = ind
        threshold = self.hof[0].objective if len(self.hof) else math.inf
        if self.config.search.ensemble > 1:  # keep a model that may join the K best
            threshold = self.ranking.threshold(self.config.search.ensemble)
        self.run.models_dir.mkdir(exist_ok=True)
        training = self.config.training
        cap = rung_epochs(training.max_epochs) if self.config.search.multi_fidelity else None
        if cap is not None and cap >= training.max_epochs:
            cap = None
        self._train(list(pending.values()), threshold, cap, len(individuals), f"gen {self.generation}")
        if cap is not None:  # the second stage: the best short trainings that still improved, in full
            keys = dict.fromkeys(ind.key for ind in individuals)
            mine = [self.short[k] for k in keys if k in self.short]
            short = [r for r in mine if r["generation"] == self.generation]
            by_id = {ind.id: ind for ind in individuals}
            again = [
                by_id[self.short[k]["individual"]]
                for k in promoted(short, training.patience)
                if is_short(self.cache[k])
            ]
            self._train(again, threshold, None, len(again), f"gen {self.generation} full")
        for ind in individuals:
            record = self.cache[ind.key]
            ind.assign(record, cached=record.get("individual") != ind.id)

    def _train(
        self, todo: list[Individual], threshold: float, cap: int | None, total: int, label: str
    ) -> None:
        """Train ``todo`` (``cap``: at most that many epochs each), journal and cache each record."""
        latency = "latency" in self.config.search.objectives
        tasks = [
            EvalTask(i, ind.genes, model_path_for(self.run.models_dir, ind.key), threshold, cap, latency)
            for i, ind in enumerate(todo)
        ]
        tasks = longest_first(tasks, self.space, self.data, self.config.training)
        bar = tqdm(
            total=total,
            desc=label,
            unit="cand",
            disable=not self.progress,
            file=sys.stderr,
            leave=False,
            dynamic_ncols=True,
        )
        bar.update(total - len(tasks))
        best = threshold
        for index, record in self.engine.evaluate(
            tasks, self.space, self.data, self.config.training, self.config.search.seed
        ):
            record["generation"] = self.generation
            record["individual"] = todo[index].id
            self.cache[record["key"]] = record
            if is_short(record):
                self.short[record["key"]] = record
            self.run.append_evaluation(record)
            if record["objective"] is not None:
                best = min(best, record["objective"])
            bar.set_postfix_str(f"best {format_number(best)}")
            bar.update(1)
        bar.close()

    def _keep_best_model(self) -> None:
        """Move the best candidate's saved model to ``best/model.keras``; drop the others."""
        best = self.hof[0] if len(self.hof) else None
        if best is not None and not math.isinf(best.objective) and best.key != self.best_key:
            src = model_path_for(self.run.models_dir, best.key)
            if not os.path.exists(src):  # e.g. evaluated before a resume: train it again (deterministic)
                evaluate_genome(
                    self.space,
                    best.genes,
                    self.data,
                    self.config.training,
                    self.config.search.seed,
                    model_path=src,
                    epoch_cap=self.cache[best.key].get("epoch_cap"),  # a short training's record: short
                )
            self.run.best_model_path.parent.mkdir(exist_ok=True)
            os.replace(src, self.run.best_model_path)
            self.run.write_json(
                "best/model.json", {"id": best.id, "key": best.key, "objective": best.objective}
            )
            self.best_key = best.key
        if self.config.search.ensemble > 1:
            self._keep_ensemble()
        shutil.rmtree(self.run.models_dir, ignore_errors=True)

    def _retrain(self, genes: list[int], path: str) -> None:
        """Train a candidate again (deterministic) to save its model at ``path``."""
        genes = np.asarray(genes, dtype=np.int64)
        record = self.cache.get(decode(self.space, genes).key, {})
        evaluate_genome(
            self.space,
            genes,
            self.data,
            self.config.training,
            self.config.search.seed,
            model_path=path,
            epoch_cap=record.get("epoch_cap"),
        )

    def _keep_ensemble(self) -> None:
        """Keep the models of the ``search.ensemble`` best distinct architectures in ``best/ensemble/``."""
        k = self.config.search.ensemble
        scratch = functools.partial(model_path_for, self.run.models_dir)
        best = (self.best_key, self.run.best_model_path)
        keep_member_models(self.run, k, self.ranking.top(k), scratch, best, self._retrain)

    # -- checkpoints -------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        """The state after the last complete generation, as plain JSON data."""
        return {
            "format": CHECKPOINT_FORMAT,
            "generation": self.generation,
            "next_id": self.next_id,
            "population": [ind.to_record() for ind in self.population],
            "hall_of_fame": [ind.to_record() for ind in self.hof],
            "rng": self.rng.bit_generator.state,
            "best_key": self.best_key,
            "data_fingerprint": self.data.fingerprint,
        }

    def restore(self, cp: dict[str, Any]) -> None:
        """Continue from a checkpoint: the next generation is bred exactly as it would have been."""
        where = self.run.path / CHECKPOINT
        if cp.get("format") != CHECKPOINT_FORMAT:
            raise RunDirError(
                f"{where} has format {cp.get('format')!r}; this evonas reads {CHECKPOINT_FORMAT}"
            )
        if cp.get("data_fingerprint") != self.data.fingerprint:
            raise RunDirError(
                f"the data of {self.run.path} changed since the run started "
                f"(fingerprint {cp.get('data_fingerprint')} != {self.data.fingerprint}); "
                "restore the original data"
            )
        try:
            population = [Individual.from_record(r) for r in cp["population"]]
            hof = [Individual.from_record(r) for r in cp["hall_of_fame"]]
            self.rng.bit_generator.state = cp["rng"]
            self.generation, self.next_id = int(cp["generation"]), int(cp["next_id"])
            self.best_key = cp["best_key"]
        except (KeyError, TypeError, ValueError) as exc:
            raise RunDirError(f"{where} is corrupt ({type(exc).__name__}: {exc})") from None
        self.population = population
        self.ranking.add(r for r in self.run.individuals() if r["generation"] <= self.generation)
        self.last_generation = [
            Individual.from_record(r) for r in self.run.individuals() if r["generation"] == self.generation
        ]
        # DEAP's HallOfFame keeps items best first and their fitnesses in ascending order of key.
        self.hof.items = hof
        self.hof.keys = [ind.fitness for ind in reversed(hof)]
        # individuals of a generation that was running when the process stopped are bred again
        kept = [r for r in self.run.individuals() if r["generation"] <= self.generation]
        self.run.rewrite_individuals(kept)
        self._write_front(kept)

    # -- the loop ---------------------------------------------------------
    def step(self) -> GenerationSummary:
        """Breed (or initialise), evaluate and record one generation."""
        start = time.perf_counter()
        self.generation += 1
        individuals = self._initial() if self.generation == 0 else self._breed()
        self._evaluate(individuals)
        self.population = self.strategy.select_pool(self.population, individuals, self.selection)
        self.last_generation = individuals
        self.hof.update(individuals)
        records = [ind.to_record() for ind in individuals]
        self.ranking.add(records)
        self._keep_best_model()
        self.run.append_individuals(records)
        self.run.write_json(CHECKPOINT, self.checkpoint())
        self._write_front(records)
        summary = GenerationSummary.of(
            self.generation, records, self.hof[0].objective, time.perf_counter() - start
        )
        self.logbook.append(summary)
        self.last_wall = summary.seconds
        return summary

    def next_generation_seconds(self) -> float:
        """The next generation's expected seconds (:func:`evolve.budget.next_generation_seconds`)."""
        workers = getattr(self.engine, "workers", None) or resolve_workers(self.config.search)
        return next_generation_seconds(self.last_generation, self.cache, workers, self.last_wall)

    def _write_front(self, rows: list[dict[str, Any]]) -> None:
        """With two objectives: take ``rows`` (the individuals since the last call, in order) and
        rewrite ``front.csv``, the Pareto front of every individual so far (:func:`front_rows`)."""
        objectives = self.config.search.objectives
        if len(objectives) < 2:
            return
        for r in rows:  # what front_rows keeps of them: the first success of each key
            if r.get("status") == "ok":
                self.front_candidates.setdefault(r["key"], r)
        front = front_rows(list(self.front_candidates.values()), objectives)
        write_atomic(self.run.path / FRONT, front_csv(front, objectives, self.space))

    def run_generations(self, last_generation: int, time_budget: float | None = None) -> bool:
        """Run until ``last_generation`` (inclusive) has been evaluated, or the time budget stops it.

        ``time_budget``: seconds from this call. Before breeding each generation
        (generation 0 always runs), the search stops when the next generation is
        expected to end past the budget (:mod:`evolve.budget`); the checkpoint of
        the last generation is then the run's state, as after any stop, and a
        resume continues exactly where an uninterrupted run would. Returns True
        when the budget stopped it (``budget_stop`` says when, and one line is logged).
        """
        label = objective_label(self.data.task)
        start = time.perf_counter()
        while self.generation < last_generation:
            if time_budget is not None and self.generation >= 0:
                elapsed = time.perf_counter() - start
                expected = self.next_generation_seconds()
                if elapsed + expected > time_budget:
                    self.budget_stop = {
                        "budget": time_budget,
                        "generation": self.generation,
                        "elapsed": elapsed,
                        "expected": expected,
                        "left": time_budget - elapsed,
                    }
                    self.log(budget_stop_line(self.budget_stop, self.run.path, last_generation))
                    return True
            self.log(self.step().line(label))
        return False

    def refit_best(self) -> dict[str, Any] | None:
        """With ``search.refit``: train the final best again on train+val rows, once (``best/refit.*``).

        The epochs are those early stopping chose for it in the search. Returns
        the refit record, or None when the run has no successful candidate.
        """
        best = self.hof[0] if len(self.hof) else None
        if best is None or math.isinf(best.objective):
            return None
        done = self.run.read_json(REFIT)
        if done is not None and done.get("key") == best.key and self.run.refit_model_path.exists():
            return done
        record = self.cache[best.key]
        epochs = int(record.get("best_epoch") or record["epochs"])
        scratch = self.run.path / "best" / ".refit.keras"
        own = self.run.best_model_path
        result = refit_genome(
            self.space,
            best.genes,
            self.data,
            self.config.training,
            self.config.search.seed,
            epochs,
            str(scratch),
            reference_path=str(own) if own.is_file() else None,
        )
        if result["status"] == "ok":
            os.replace(scratch, self.run.refit_model_path)
        else:
            scratch.unlink(missing_ok=True)
        result["id"] = best.id
        self.run.write_json(REFIT, result)
        return result

    def refit_ensemble(self) -> list[dict[str, Any]]:
        """With ``search.refit`` and ``search.ensemble`` > 1: retrain each member on train+val rows, once.

        As :meth:`refit_best` does for the best (whose refit is copied, not
        trained again): K - 1 more trainings. Returns the members with their refit records.
        """
        best = self.run.read_json(REFIT) or {}

        def refit(member: dict[str, Any], path: str) -> dict[str, Any]:
            if best.get("key") == member["key"] and best.get("status") == "rejected":
                return {**best, "id": member["id"]}  # the same training again would be rejected again
            if best.get("key") == member["key"] and best.get("status") == "ok":
                if self.run.refit_model_path.is_file():
                    shutil.copyfile(self.run.refit_model_path, path)
                    return {**best, "id": member["id"]}
            record = self.cache[member["key"]]
            epochs = int(record.get("best_epoch") or record["epochs"])
            genes = np.asarray(member["genes"], dtype=np.int64)
            s = self.config
            own = self.run.member_model_path(member["id"])
            result = refit_genome(
                s.space,
                genes,
                self.data,
                s.training,
                s.search.seed,
                epochs,
                path,
                reference_path=str(own) if own.is_file() else None,
            )
            return {**result, "id": member["id"]}

        members = self._members()
        return refit_members(self.run, self.config.search.ensemble, members, refit)

    def _members(self) -> list[dict[str, Any]]:
        """The ensemble members of ``best/ensemble.json`` with their genes (from the ranking)."""
        genes = {m["key"]: m["genes"] for m in self.ranking.top(self.config.search.ensemble)}
        return [{**m, "genes": genes[m["key"]]} for m in read_members(self.run) if m["key"] in genes]

    def score_best_on_test(self) -> dict[str, Any] | None:
        """Measure the final best once on the held-out test split (cached in ``test.json``).

        With ``search.refit``, the refitted model is measured once too (``"refit"`` in
        ``test.json``). None when no candidate succeeded (there is no model to score).
        """
        best = self.hof[0] if len(self.hof) else None
        if best is None or math.isinf(best.objective):
            return None
        refit = self.refit_best() if self.config.search.refit else None
        done = self.run.read_json(TEST)
        if done is not None and done.get("key") == best.key and ("refit" in done) == (refit is not None):
            result = dict(done)
        else:
            result = {"id": best.id, "key": best.key, **score_test(str(self.run.best_model_path), self.data)}
            if refit is not None and refit["status"] == "ok":
                scores = score_test(str(self.run.refit_model_path), self.data)
                result["refit"] = {**scores, "epochs": refit["epochs"], "rows": refit["rows"]}
            elif refit is not None:
                result["refit"] = {"error": refit["error"]}
                if refit["status"] == "rejected":
                    result["refit"]["rejected"] = True
        if self.config.search.ensemble > 1:
            result["ensemble"] = self._score_ensemble((done or {}).get("ensemble"))
        if result != done:
            self.run.write_json(TEST, result)
        return result

    def _score_ensemble(self, done: dict[str, Any] | None) -> dict[str, Any]:
        """The ensemble's test score (``test.json``'s ``ensemble``), reused when its members are the same."""
        refit = self.config.search.refit
        members = self.refit_ensemble() if refit else self._members()
        ids = [m["id"] for m in members]
        if done is not None and done.get("ids") == ids and ("refit" in done) == refit:
            return done
        return score_members(self.run, members, self.data, refit)
