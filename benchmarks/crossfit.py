"""Cross-fit instead of the refit: is the delivered ensemble better when each member is K fold models?

    .venv/bin/python -m benchmarks.crossfit --table ames --seed 0 --budget 100

One evonas search as ``benchmarks/search_quality.py`` runs it (``--budget`` trainings, the
ensemble of the 5 best, each refitted on train+val with the guard), kept in ``--work``. Then,
for each member, K = ``--folds`` fold models: the train+val rows in K folds (a fixed random
permutation), fold model f trained on the other K-1 folds with early stopping on fold f (the
search's epoch cap and patience; its seed from the run seed and f, so fold 0 starts as the
search's training did). Printed per ensemble size k = 1..5, test metric of: the members as the
search trained them (``own``), refitted (``refit``, what ``evonas predict`` delivers), the k x K
fold models averaged (``crossfit``), and fold 0 of each member alone (``fold0``). Measured
after the search, on the test split, choosing nothing: an experiment, not a feature
(docs/benchmarks.md has the figures and why cross-fit was not adopted).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.peers import load_table
from benchmarks.search_quality import run_evonas
from evonas.evolve.ensemble import member_paths, read_members
from evonas.evolve.rundir import RunDir
from evonas.fitness import TrainSettings, evaluate_genome, score_test
from evonas.fitness.evaluate import train_and_val


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="cross-fit against the refit of an evonas ensemble")
    parser.add_argument("--table", default="ames")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--work", type=Path, default=Path("/tmp/evonas-crossfit"))
    args = parser.parse_args(argv)
    data = load_table(args.table)[0]
    work = args.work / f"{args.table}-s{args.seed}"
    if not (work / "genetic").exists():
        ensemble = {"search": {"ensemble": 5}}
        r = run_evonas(data, args.table, args.seed, args.budget, False, TrainSettings(), work, None, ensemble)
        print(f"search: {r['trainings']} trainings, {r['seconds']:.0f} s, delivered test {r['test']:.6g}")
    run = RunDir(work / "genetic")
    cfg = run.config()
    members = read_members(run)
    genes = {r["id"]: r["genes"] for r in run.individuals()}
    both = train_and_val(data)  # the rows a refit trains on
    x, y = both.x_train, both.y_train
    order = np.random.default_rng(12345).permutation(len(x))
    fold_of = np.empty(len(x), dtype=int)
    fold_of[order] = np.arange(len(x)) % args.folds
    out = work / "crossfit"
    out.mkdir(exist_ok=True)
    paths: dict[int, list[str]] = {}
    start = time.perf_counter()
    for m in members:
        for f in range(args.folds):
            rows = dataclasses.replace(
                data,
                x_train=x[fold_of != f],
                y_train=y[fold_of != f],
                x_val=x[fold_of == f],
                y_val=y[fold_of == f],
            )
            path = out / f"member-{m['id']}-fold-{f}.keras"
            if not path.exists():
                g = np.asarray(genes[m["id"]], dtype=np.int64)
                seed = cfg.search.seed * 1000 + f
                r = evaluate_genome(cfg.space, g, rows, cfg.training, seed, model_path=str(path))
                print(f"member {m['id']} fold {f}: {r['status']}, {r['epochs']} epochs, val {r['objective']}")
            if path.exists():
                paths.setdefault(m["id"], []).append(str(path))
    refits = [(m.get("refit") or {}).get("status") for m in members]
    print(f"cross-fit: {time.perf_counter() - start:.0f} s; the members' refits: {refits}")
    metric = "test_rmse" if data.task == "regression" else "test_accuracy"
    rows_out = []
    for k in range(1, len(members) + 1):
        top = members[:k]
        row = {
            "k": k,
            "own": score_test([str(p) for p in member_paths(run, top, False)], data)[metric],
            "refit": score_test([str(p) for p in member_paths(run, top, True)], data)[metric],
            "crossfit": score_test([p for m in top for p in paths.get(m["id"], [])], data)[metric],
            "fold0": score_test([paths[m["id"]][0] for m in top if m["id"] in paths], data)[metric],
        }
        rows_out.append(row)
        print(" | ".join(f"{key} {value:.6g}" for key, value in row.items()))
    (out / "result.json").write_text(json.dumps(rows_out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
