"""The runner of a search: it asks :class:`evolve.loop.GeneticLoop`, trains, tells, and keeps the run.

The genetic loop itself (breeding, selection, racing of replicates) is the ask/tell
state machine of :mod:`evolve.loop`; this module is everything around it that
touches the run directory and the engines. One generation, as the runner runs it::

    while the loop's generation is open:
        todo = loop.ask()                       # new networks (replicate 0), or race rounds
        train todo on the engine                # a key's replicate found in the journal is not trained again
        journal each record (evaluations.jsonl); loop.tell(objectives)
    individuals.jsonl, best/model.keras (the incumbent's), best/ensemble/, checkpoint.json, front.csv

With ``search.multi_fidelity`` a generation's new networks first train a fifth of the
epochs (on a large table: a row sample) and the best quarter of those still improving train
in full (:mod:`evolve.fidelity`) before the loop is told. With ``search.replicates`` > 1 a
replicate trains with another seed (:func:`fitness.evaluation_seed`) and its record carries
``replicate``; the saved model of a network is its first replicate's. Stop rules are arguments of
:meth:`Search.run_generations`: the last generation, a time budget (:mod:`evolve.budget`:
stop at the generation boundary where the next generation and the refits after the search
would not fit) and a number of trainings. With ``search.folds`` = K > 1 replicate r of a
network is its training on fold r (:mod:`fitness.folds`).
With two ``search.objectives`` the Pareto front of every individual so far is rewritten
to ``front.csv`` after each generation (:mod:`evolve.objectives`).
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from evonas.evolve.budget import (
    at_full_rows,
    budget_stop_line,
    end_seconds,
    folds_seconds,
    mean_best_epoch,
    next_generation_seconds,
    refit_seconds,
    scoring_seconds,
)
from evonas.evolve.config import RunConfig, for_dataset, resolve_workers
from evonas.evolve.engine import longest_first, make_engine, model_path_for
from evonas.evolve.ensemble import (
    keep_member_models,
    read_members,
    refit_members,
    score_members,
    weigh_members,
)
from evonas.evolve.fidelity import is_short, promoted, short_training
from evonas.evolve.formats import format_number, objective_label
from evonas.evolve.logbook import GenerationSummary
from evonas.evolve.loop import STATE_FORMAT, Candidate, GeneticLoop, Judged
from evonas.evolve.objectives import FRONT, front_csv, front_rows, values_of
from evonas.evolve.rundir import BEST, CHECKPOINT, REFIT, TEST, RunDir, RunDirError, write_atomic
from evonas.evolve.toolbox import Individual
from evonas.evolve.worker import EvalTask
from evonas.fitness import (
    Dataset,
    bag_fold_models,
    evaluate_genome,
    fitted_rows,
    fold_data,
    refit_genome,
    score_test,
)
from evonas.fitness.runtime import configure_tensorflow

# 1: the generational loop's own state (before the runner asked GeneticLoop; still read, see
# Search._legacy_state); 2: {"loop": GeneticLoop.state(), ...}
CHECKPOINT_FORMAT = 2
Slot = tuple[str, int]  # (architecture key, replicate): one evaluation
Job = tuple[Candidate, int | None, int | None]  # a training: its candidate, epoch cap and row sample


class Search:
    """A search over one run directory: the runner of :class:`evolve.loop.GeneticLoop`.

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
        # resolved on its data (conv levels, textbook start, batch scale, smearing) as run_search saves it;
        # a no-op for a saved run
        config = for_dataset(config, data)
        self.config = config
        # genes that cannot matter on this data are fixed (genomes decode alike with config.space)
        self.space = config.space.for_data(data.task, embeddable=bool(data.ple_bins))
        self.data = data
        self.progress = progress
        self.log = log
        s = config.search
        settings = {**asdict(s), "selection": s.strategy}
        self.loop = GeneticLoop.from_settings(self.space, settings, replicates=s.replicate_limit)
        self.last_generation: list[Individual] = []  # the individuals of the latest generation
        self.front_candidates: dict[str, dict[str, Any]] = {}  # two objectives: first success per key
        # the journal's last record of each evaluation (multi-fidelity: the full after the short)
        self.records: dict[Slot, dict[str, Any]] = {}
        self.short: dict[Slot, dict[str, Any]] = {}
        for r in run.evaluations():
            slot = (r["key"], int(r.get("replicate", 0)))
            self.records[slot] = r
            if is_short(r):
                self.short[slot] = r
        self.logbook: list[GenerationSummary] = []
        self.engine = make_engine(s)
        self.best_key: str | None = None
        self.last_wall: float | None = None  # wall time of the last generation this process ran
        self.budget_stop: dict[str, Any] | None = None  # set when the time budget stopped the loop
        self.trainings = 0  # trainings this process ran (the journal's are not counted)

    @property
    def generation(self) -> int:
        """The last generation evaluated (-1 before generation 0)."""
        return self.loop.generation

    @property
    def cache(self) -> dict[str, dict[str, Any]]:
        """Each key's first evaluation (replicate 0), its last record: what its saved model is."""
        return {key: r for (key, rep), r in self.records.items() if rep == 0}

    @property
    def best(self) -> Judged | None:
        """The network the search would deliver now (the loop's incumbent), None before any success."""
        best = self.loop.best
        return None if best is None or math.isinf(best.objective) else best

    # -- evaluation -------------------------------------------------------
    def _threshold(self) -> float:
        """The objective a new model must beat to be kept (the best's, or the ensemble's last)."""
        k = self.config.search.ensemble
        if k > 1:  # keep a model that may join the K best
            top = self.top(k)
            return max(m["objective"] for m in top) if len(top) == k else math.inf
        best = self.best
        return best.objective if best is not None else math.inf

    def top(self, k: int) -> list[dict[str, Any]]:
        """The ``k`` best distinct networks that trained successfully, as the loop ranks them (the best
        first): ``{"id", "key", "objective", "genes"}``; the ensemble's members."""
        ranked = self.loop.ranking(k)
        return [
            {"id": j.individual, "key": j.key, "objective": j.objective, "genes": j.genes.tolist()}
            for j in ranked
            if not math.isinf(j.objective)
        ]

    def _evaluate(self, todo: list[Candidate]) -> dict[int, Any]:
        """Train each evaluation of ``todo`` not in the journal yet; return what to tell the loop.

        A first evaluation (replicate 0) may be short (multi-fidelity) and then continue in
        full; a further replicate trains as its key's first evaluation did (the same cap).
        """
        threshold = self._threshold()
        self.run.models_dir.mkdir(exist_ok=True)
        training = self.config.training
        cap, rows = short_training(self.config.search.multi_fidelity, self.fitted_rows(), training.max_epochs)
        label = f"gen {self.generation + 1}"
        jobs: list[Job] = []
        for c in todo:
            if (c.key, c.replicate) not in self.records:
                known = self.records.get((c.key, 0), {})  # a further replicate trains as the first did
                short = (cap, rows) if c.replicate == 0 else (known.get("epoch_cap"), known.get("row_cap"))
                jobs.append((c, *short))
        self._train(jobs, threshold, len(todo), label if todo[0].replicate == 0 else f"{label} race")
        first = [c for c in todo if c.replicate == 0]
        if (cap is not None or rows is not None) and first:  # the second stage: the best short trainings
            short = [self.short[(c.key, 0)] for c in first if (c.key, 0) in self.short]
            keys = set(promoted(short, training.patience))
            again: list[Job] = [
                (c, None, None) for c in first if c.key in keys and is_short(self.records[(c.key, 0)])
            ]
            self._train(again, threshold, len(again), f"{label} full")
        objectives = self.config.search.objectives
        told: dict[int, Any] = {}
        for c in todo:
            record = self.records[(c.key, c.replicate)]
            told[c.id] = values_of(record, objectives) if record.get("status") == "ok" else None
        return told

    def _train(self, jobs: list[Job], threshold: float, total: int, label: str) -> None:
        """Train each candidate (with its epoch cap and row sample), journal and keep each record."""
        latency = "latency" in self.config.search.objectives
        models = self.run.models_dir
        folds = self.config.search.refit_kind == "folds"  # every fold model is kept: it may be delivered
        tasks = [
            EvalTask(
                i,
                c.genes,
                model_path_for(models, c.key, c.replicate) if c.replicate == 0 or folds else None,
                threshold if c.replicate == 0 else math.inf,
                cap,
                latency,
                c.replicate,
                self.config.search.folds,
                rows,
            )
            for i, (c, cap, rows) in enumerate(jobs)
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
            c = jobs[index][0]
            record["generation"] = c.generation
            record["individual"] = c.individual
            if c.replicate or self.config.search.replicate_limit > 1:
                record["replicate"] = c.replicate
            slot = (record["key"], c.replicate)
            self.records[slot] = record
            if is_short(record):
                self.short[slot] = record
            self.run.append_evaluation(record)
            self.trainings += 1
            if record["objective"] is not None:
                best = min(best, record["objective"])
            bar.set_postfix_str(f"best {format_number(best)}")
            bar.update(1)
        bar.close()

    def _judgement(self, key: str) -> dict[str, Any]:
        """An individual's record of ``key``: its first evaluation's, with the loop's judgement."""
        first = self.records.get((key, 0), {})
        record = {**first, **self.loop.record_of(key)}
        record["params"] = first.get("params")
        if record["status"] != "ok" and first.get("status") == "ok":  # a later replicate failed
            failed = [r for (k, _), r in self.records.items() if k == key and r.get("status") != "ok"]
            record["error"] = failed[0].get("error") if failed else None
        return record

    def _keep_best_model(self) -> None:
        """Move the best candidate's saved model to ``best/model.keras``; drop the others."""
        best = self.best
        if best is not None and best.key != self.best_key:
            src = model_path_for(self.run.models_dir, best.key)
            if not os.path.exists(src):  # e.g. evaluated before a resume: train it again (deterministic)
                self._retrain(best.genes.tolist(), src)
            self.run.best_model_path.parent.mkdir(exist_ok=True)
            os.replace(src, self.run.best_model_path)
            self.best_key = best.key
        if best is not None:
            model = {"id": best.individual, "key": best.key, "objective": best.objective}
            if self.config.search.replicate_limit > 1:
                model["replicates"] = best.replicates
            if self.run.read_json(BEST) != model:
                self.run.write_json(BEST, model)
        if self.config.search.ensemble > 1:
            self._keep_ensemble()
        if self.config.search.refit_kind == "folds":
            self._keep_fold_models()
        shutil.rmtree(self.run.models_dir, ignore_errors=True)

    def _retrain(self, genes: list[int], path: str) -> None:
        """Train a candidate's first evaluation again (deterministic) to save its model at ``path``."""
        genes = np.asarray(genes, dtype=np.int64)
        record = self.records.get((self.loop.key_of(genes), 0), {})
        evaluate_genome(
            self.space,
            genes,
            fold_data(self.data, 0, self.config.search.folds),  # replicate 0: fold 0 when cross-validated
            self.config.training,
            self.config.search.seed,
            model_path=path,
            epoch_cap=record.get("epoch_cap"),  # a short training's record: short
            row_cap=record.get("row_cap"),
        )

    def _keep_ensemble(self) -> None:
        """Keep the models of the ``search.ensemble`` best distinct architectures in ``best/ensemble/``."""
        k = self.config.search.ensemble
        scratch = functools.partial(model_path_for, self.run.models_dir)
        best = (self.best_key, self.run.best_model_path)
        keep_member_models(self.run, k, self.top(k), scratch, best, self._retrain)

    def _keep_fold_models(self) -> None:
        """Cross-validated: keep the fold models the search trained of the networks it would deliver now
        (the best, the ensemble's members) in ``best/folds/``; delete those of the others. A fold model
        that was not saved (evaluated before a resume, or above the save threshold) is trained when the
        fold models are averaged (:meth:`_deliver`)."""
        members = {m["key"]: m["id"] for m in self.top(max(1, self.config.search.ensemble))}
        folds = self.run.folds_dir
        folds.mkdir(parents=True, exist_ok=True)
        for (key, r), record in self.records.items():
            if key not in members or record.get("status") != "ok":
                continue
            dest = self.run.fold_model_path(key, r)
            if dest.exists():
                continue
            sources = [model_path_for(self.run.models_dir, key, r)]
            if r == 0:  # fold 0's model may have moved to the best's or a member's file
                if key == self.best_key:
                    sources.append(str(self.run.best_model_path))
                sources.append(str(self.run.member_model_path(members[key])))
            src = next((p for p in sources if os.path.isfile(p)), None)
            if src is not None and src == sources[0]:
                os.replace(src, dest)
            elif src is not None:
                shutil.copyfile(src, dest)
        for f in folds.iterdir():  # those of the networks no longer delivered
            if f.name.split("-fold")[0] not in members:
                f.unlink()

    def _deliver(self, genes: np.ndarray | list[int], path: str, reference: str | None) -> dict[str, Any]:
        """The model delivered for a selected network after the search, saved at ``path``
        (``search.refit``): retrained on the train and validation rows (``"rows"``, checked against
        ``reference``, the model the search trained), or its fold models averaged (``"folds"``)."""
        genes = np.asarray(genes, dtype=np.int64)
        s = self.config
        if s.search.refit_kind == "folds":
            key = self.loop.key_of(genes)
            paths = [str(self.run.fold_model_path(key, r)) for r in range(s.search.folds)]
            first = self.records.get((key, 0), {})
            return bag_fold_models(
                s.space,
                genes,
                self.data,
                s.training,
                s.search.seed,
                path,
                paths,
                first.get("epoch_cap"),
                first.get("row_cap"),
            )
        epochs = self.refit_epochs(self.loop.key_of(genes))
        return refit_genome(
            s.space, genes, self.data, s.training, s.search.seed, epochs, path, reference_path=reference
        )

    # -- checkpoints -------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        """The state after the last complete generation, as plain JSON data."""
        return {
            "format": CHECKPOINT_FORMAT,
            "generation": self.generation,  # the last complete generation (the loop's, for readers)
            "loop": self.loop.state(),
            "best_key": self.best_key,
            "data_fingerprint": self.data.fingerprint,
        }

    def restore(self, cp: dict[str, Any]) -> None:
        """Continue from a checkpoint: the next generation is bred exactly as it would have been."""
        where = self.run.path / CHECKPOINT
        if cp.get("format") not in (1, CHECKPOINT_FORMAT):
            raise RunDirError(
                f"{where} has format {cp.get('format')!r}; this evonas reads {CHECKPOINT_FORMAT} (and 1)"
            )
        if cp.get("data_fingerprint") != self.data.fingerprint:
            raise RunDirError(
                f"the data of {self.run.path} changed since the run started "
                f"(fingerprint {cp.get('data_fingerprint')} != {self.data.fingerprint}); "
                "restore the original data"
            )
        try:
            state = self._legacy_state(cp) if cp["format"] == 1 else cp["loop"]
            # the run's space (an older run's: its genomes read with the later genes, rundir.legacy_genes)
            self.loop = GeneticLoop.restore({**state, "space": self.space.to_dict()})
            self.best_key = cp["best_key"]
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise RunDirError(f"{where} is corrupt ({type(exc).__name__}: {exc})") from None
        generation = self.generation
        self.last_generation = [
            Individual.from_record(r) for r in self.run.individuals() if r["generation"] == generation
        ]
        # individuals of a generation that was running when the process stopped are bred again
        kept = [r for r in self.run.individuals() if r["generation"] <= generation]
        self.run.rewrite_individuals(kept)
        self._write_front(kept)

    def _legacy_state(self, cp: dict[str, Any]) -> dict[str, Any]:
        """The loop state equivalent to a format-1 checkpoint (written before the runner asked the
        loop; one replicate): its keys and their objectives are read from ``individuals.jsonl``."""
        generation = int(cp["generation"])
        objectives = list(self.config.search.objectives)
        keys: dict[str, dict[str, Any]] = {}
        for r in self.run.individuals():
            if r["generation"] <= generation and r["key"] not in keys:
                told = list(values_of(r, objectives)) if r.get("status") == "ok" else None
                keys[r["key"]] = {"genes": r["genes"], "first": r["id"], "told": [told]}
        hof = cp["hall_of_fame"]
        incumbent = hof[0]["key"] if hof and hof[0].get("objective") is not None else None
        fresh = GeneticLoop.from_settings(
            self.space, {**asdict(self.config.search), "selection": self.config.search.strategy}, replicates=1
        ).state()
        return {
            **fresh,
            "format": STATE_FORMAT,
            "rng": cp["rng"],
            "generation": generation,
            "evaluations": len(keys),
            "next_individual": int(cp["next_id"]),
            "next_eval": len(keys),
            "keys": keys,
            "pool": cp["population"],
            "incumbent": incumbent,
        }

    # -- the loop ---------------------------------------------------------
    def step(self) -> GenerationSummary:
        """Breed (or initialise), evaluate and record one generation: ask, train and tell until the
        loop closes it."""
        start = time.perf_counter()
        target = self.generation + 1
        while self.generation < target:
            todo = self.loop.ask()
            if todo:
                self.loop.tell(self._evaluate(todo))
            elif self.generation < target:  # ask() closes a generation with nothing to train
                raise RuntimeError("the loop asked nothing and closed no generation")
        (closed,) = self.loop.closed_generations()
        individuals = [Individual.from_record(ind.to_record()) for ind in closed]  # the loop's stay its own
        for ind in individuals:
            ind.assign(self._judgement(ind.key), ind.cached)
        self.last_generation = individuals
        records = [ind.to_record() for ind in individuals]
        self._keep_best_model()
        self.run.append_individuals(records)
        self.run.write_json(CHECKPOINT, self.checkpoint())
        self._write_front(records)
        best = self.best
        summary = GenerationSummary.of(
            self.generation, records, best.objective if best else math.inf, time.perf_counter() - start
        )
        self.logbook.append(summary)
        self.last_wall = summary.seconds
        return summary

    def next_generation_seconds(self) -> float:
        """The next generation's expected seconds (:func:`evolve.budget.next_generation_seconds`)."""
        workers = getattr(self.engine, "workers", None) or resolve_workers(self.config.search)
        return next_generation_seconds(self.last_generation, self.cache, workers, self.last_wall)

    def end_seconds(self) -> float:
        """The seconds the command is expected to need after the last generation (:mod:`evolve.budget`):
        with ``search.refit``, the refit of the best and of each other ensemble member (cross-validated:
        the fold models of theirs that the race did not train); then the test scores and the close."""
        kind = self.config.search.refit_kind
        if self.best is None:
            return 0.0
        keys = dict.fromkeys([self.best.key, *(m["key"] for m in self.top(self.config.search.ensemble))])
        scoring = scoring_seconds(len(keys) + (kind is not None))  # the best as trained, then the delivered
        if kind is None:
            return scoring
        fitted = self.fitted_rows()
        if kind == "folds":
            # the fold models still to train fit what the key's first training fitted (a sample stays one)
            trained = {key: [r for (k, _), r in self.records.items() if k == key] for key in keys}
            return end_seconds(
                (
                    folds_seconds(rs, self.config.search.folds - sum(r.get("status") == "ok" for r in rs))
                    for rs in trained.values()
                ),
                scoring,
            )
        pooled = len(self.data.y_train) + len(self.data.y_val)
        factor = pooled / max(1.0, fitted)
        records = self.records
        return end_seconds(
            (
                refit_seconds([at_full_rows(r, fitted) for (k, _), r in records.items() if k == key], factor)
                for key in keys
            ),
            scoring,
        )

    def fitted_rows(self) -> int:
        """The rows a full training fits: the train rows, or a fold's (the other folds' rows)."""
        return fitted_rows(self.data, self.config.search.folds)

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

    def run_generations(
        self,
        last_generation: float,
        time_budget: float | None = None,
        trainings: int | None = None,
        reserve_end: bool = True,
        started: float | None = None,
    ) -> bool:
        """Run until ``last_generation`` (inclusive; ``math.inf``: no bound) has been evaluated, or a stop
        rule stops it.

        ``time_budget``: seconds from this call. Before breeding each generation
        (generation 0 always runs), the search stops when the next generation and the
        refits after the search (:meth:`end_seconds`) are expected to end past the
        budget (:mod:`evolve.budget`); the checkpoint of
        the last generation is then the run's state, as after any stop, and a
        resume continues exactly where an uninterrupted run would. Returns True
        when the budget stopped it (``budget_stop`` says when, and one line is logged).
        ``trainings``: stop at the first generation boundary once this process has run
        that many trainings (a benchmark's equal-budget comparison). ``reserve_end``:
        False leaves the refits out of the budget (a benchmark that times the search alone).
        ``started``: the ``time.perf_counter()`` the budget counts from (the command's start, data
        loading included; default: this call).
        """
        label = objective_label(self.data.task)
        start = time.perf_counter() if started is None else started
        if time_budget is not None and reserve_end and self.config.search.refit_kind is not None:
            # the refits after the search train in this process: import TensorFlow now, inside the
            # measured generations, not after the stop (a few seconds no reserve would foresee)
            configure_tensorflow(self.config.training.tf_threads)
        while self.generation < last_generation:
            if trainings is not None and self.trainings >= trainings:
                return False
            if time_budget is not None and self.generation >= 0:
                elapsed = time.perf_counter() - start
                expected = self.next_generation_seconds()
                end = self.end_seconds() if reserve_end else 0.0
                if elapsed + expected + end > time_budget:
                    self.budget_stop = {
                        "budget": time_budget,
                        "generation": self.generation,
                        "elapsed": elapsed,
                        "expected": expected,
                        "end": end,
                        "left": time_budget - elapsed,
                    }
                    self.log(budget_stop_line(self.budget_stop, self.run.path, last_generation))
                    return True
            self.log(self.step().line(label))
        return False

    def refit_epochs(self, key: str) -> int:
        """The epochs of a refit of ``key``: those early stopping chose, the mean over its replicates
        (rounded; each replicate's best epoch, or its epochs when it has none; a row sample's scaled to
        as many steps on all rows, :func:`evolve.budget.at_full_rows`)."""
        fitted = self.fitted_rows()  # a row sample's best epoch, in epochs of all rows
        return mean_best_epoch(at_full_rows(r, fitted) for (k, _), r in self.records.items() if k == key) or 1

    def refit_best(self) -> dict[str, Any] | None:
        """With ``search.refit``: train the final best again on train+val rows, once (``best/refit.*``).

        The epochs are those early stopping chose for it in the search. Returns
        the refit record, or None when the run has no successful candidate.
        """
        best = self.best
        if best is None:
            return None
        done = self.run.read_json(REFIT)
        if done is not None and done.get("key") == best.key and self.run.refit_model_path.exists():
            return done
        scratch = self.run.path / "best" / ".refit.keras"
        own = self.run.best_model_path
        result = self._deliver(best.genes, str(scratch), str(own) if own.is_file() else None)
        if result["status"] == "ok":
            os.replace(scratch, self.run.refit_model_path)
        else:
            scratch.unlink(missing_ok=True)
        result["id"] = best.individual
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
            own = self.run.member_model_path(member["id"])
            result = self._deliver(member["genes"], path, str(own) if own.is_file() else None)
            return {**result, "id": member["id"]}

        members = self._members()
        return refit_members(self.run, self.config.search.ensemble, members, refit)

    def _members(self) -> list[dict[str, Any]]:
        """The ensemble members of ``best/ensemble.json`` with their genes (from the ranking)."""
        genes = {m["key"]: m["genes"] for m in self.top(self.config.search.ensemble)}
        return [{**m, "genes": genes[m["key"]]} for m in read_members(self.run) if m["key"] in genes]

    def score_best_on_test(self) -> dict[str, Any] | None:
        """Measure the final best once on the held-out test split (cached in ``test.json``).

        With ``search.refit``, the refitted model is measured once too (``"refit"`` in
        ``test.json``). None when no candidate succeeded (there is no model to score).
        """
        best = self.best
        if best is None:
            return None
        refit = self.refit_best() if self.config.search.refit_kind else None
        done = self.run.read_json(TEST)
        if done is not None and done.get("key") == best.key and ("refit" in done) == (refit is not None):
            result = dict(done)
        else:
            result = {
                "id": best.individual,
                "key": best.key,
                **score_test(str(self.run.best_model_path), self.data),
            }
            if refit is not None and refit["status"] == "ok":
                scores = score_test(str(self.run.refit_model_path), self.data)
                how = {k: refit[k] for k in ("kind", "folds", "trained", "epochs") if k in refit}
                result["refit"] = {**scores, **how, "rows": refit["rows"]}
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
        s = self.config.search
        refit = s.refit_kind is not None
        members = self.refit_ensemble() if refit else self._members()
        if s.weights_rule == "greedy":
            threads = self.config.training.tf_threads
            members = weigh_members(self.run, s.ensemble, members, self.data, s.folds, threads)
        ids = [m["id"] for m in members]
        if done is not None and done.get("ids") == ids and ("refit" in done) == refit:
            return done
        result = score_members(self.run, members, self.data, refit)
        if refit and self.config.search.refit_kind == "folds":
            result["refit"]["kind"] = "folds"
        return result
