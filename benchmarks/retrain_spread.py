"""Do the networks a search selects train well on any rows? The retrain spread, single split against folds.

    .venv/bin/python -m benchmarks.retrain_spread --table computers --seeds 0,1 --budget 40

For each seed, two evonas searches as ``benchmarks/search_quality.py`` runs them (``--budget``
trainings, the genetic loop): on the single train/val split, and cross-validated
(``search.folds = --folds``, the race over folds). The network each selected is then trained
on every one of the ``--folds`` folds of the pooled train and validation rows (fold r's rows
validate, the others train; replicate r's seed: :func:`fitness.fold_data`, as a
cross-validated search trains it; a fold the search already trained is taken from its
journal, the same training). Printed per search: the objective the search selected it for,
the mean of its fold objectives (what it gives on rows it was not selected on), the
optimism (selected / fold mean), and the spread of the folds ((max - min) / mean). Measured
after the searches, choosing nothing; the figures go to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.peers import load_table
from benchmarks.search_quality import run_evonas
from evonas.evolve.rundir import RunDir
from evonas.fitness import TrainSettings, evaluate_genome, fold_data


def fold_objectives(run: RunDir, data, folds: int) -> tuple[str, float, list[float]]:
    """The selected network of ``run`` (its key), the objective it was selected for, and its
    objective on each of ``folds`` folds (from the run's journal where it trained that fold)."""
    cfg = run.config()
    best = run.read_json("best/model.json")
    genes = next(r["genes"] for r in run.individuals() if r["key"] == best["key"])
    space = cfg.space.for_data(data.task, embeddable=bool(data.ple_bins))
    journal = {}
    if cfg.search.folds == folds:
        journal = {
            int(r.get("fold", 0)): r["objective"]
            for r in run.evaluations()
            if r["key"] == best["key"] and r["status"] == "ok"
        }
    objectives = []
    for r in range(folds):
        if r not in journal:
            rows = fold_data(data, r, folds)
            arch = np.asarray(genes)
            record = evaluate_genome(space, arch, rows, cfg.training, cfg.search.seed, replicate=r)
            journal[r] = record["objective"] if record["status"] == "ok" else float("nan")
        objectives.append(float(journal[r]))
    return best["key"], float(best["objective"]), objectives


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the retrain spread of the networks evonas selects")
    parser.add_argument("--table", default="computers")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--budget", type=int, default=40)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/retrain-spread"))
    args = parser.parse_args(argv)
    data = load_table(args.table)[0]
    args.out.mkdir(parents=True, exist_ok=True)
    for seed in (int(s) for s in args.seeds.split(",")):
        cross_validated = {"search": {"folds": args.folds}}
        for fitness, overrides in (("single split", None), (f"{args.folds} folds", cross_validated)):
            with tempfile.TemporaryDirectory(prefix="evonas-spread-") as tmp:
                work = Path(tmp)
                run_evonas(data, args.table, seed, args.budget, False, TrainSettings(), work, None, overrides)
                key, selected, folds = fold_objectives(RunDir(work / "genetic"), data, args.folds)
            mean = float(np.nanmean(folds))
            row = {
                "table": args.table,
                "seed": seed,
                "fitness": fitness,
                "key": key,
                "selected": selected,
                "folds": folds,
                "fold_mean": mean,
                "optimism": selected / mean,
                "spread": (max(folds) - min(folds)) / mean,
            }
            name = f"{args.table}__{fitness.replace(' ', '-')}__seed{seed}.json"
            (args.out / name).write_text(json.dumps(row, indent=1) + "\n")
            print(
                f"{args.table} seed {seed}, {fitness}: selected at {selected:.6g}, on {args.folds} folds "
                f"{mean:.6g} (optimism {selected / mean:.3f}, spread {row['spread']:.3f}): "
                + ", ".join(f"{v:.5g}" for v in folds),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
