"""Selection strategies side by side at equal trainings: NSGA-II's Pareto front, aging against tournament.

    .venv/bin/python -m benchmarks.selection --front --tables ames,mnist5k --seeds 3 --budget 60
    .venv/bin/python -m benchmarks.selection --strategies --tables ames,computers,sacramento,default \
        --seeds 3 --budget 60
    .venv/bin/python -m benchmarks.selection --report-only

``--front``: ``search.objectives = val,params`` searched by NSGA-II (the default
multi-objective selection) and by evonas random search (one population of
``budget`` random genomes, the same space), and ``tournament`` with the same two
objectives (parents chosen on val only; its front kept all the same). Each
method's front is the non-dominated set of everything it trained; its
hypervolume is measured in (log10 parameters, val objective) against one
reference point per table: ``log10(space.max_params)`` and the median val
objective of every candidate of every method and seed on that table (a typical
candidate: a front beyond it adds nothing). It is divided by the area of the box
from (0, 0) to the reference, so 1.0 would be a zero-error, one-parameter network.

``--strategies``: one objective (val), ``tournament`` (the default) against
``aging`` (regularized evolution) and random search, the same seeds and
trainings; the test metric of the best network (its refit on train+val, what
``evonas predict`` delivers).

Every run is the default evonas search (``RunConfig()``, the suite table as its
data, the default population of 10), stopped at the first generation boundary
where it has trained ``budget`` candidates (the random search trains exactly
``budget``). Trainings are equal, wall time is not: it is reported. Results go to
one JSON file per (mode, table, method, seed) under ``--results``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.peers import DATASETS, SUITE, load_table
from evonas.evolve.api import describe_data
from evonas.evolve.config import RunConfig, for_dataset
from evonas.evolve.objectives import front_rows, hypervolume_2d
from evonas.evolve.rundir import DATA, RunDir
from evonas.evolve.search import Search

ROOT = Path(__file__).resolve().parents[1]

FRONT_METHODS = ("nsga2", "random", "tournament")
STRATEGY_METHODS = ("tournament", "aging", "random")


def run_one(
    table: str, data: Any, mode: str, method: str, seed: int, args: argparse.Namespace, work: Path
) -> dict:
    """One search to ``args.budget`` trainings; its individuals, front or test score as plain data."""
    budget, random = args.budget, method == "random"
    population = budget if random else args.population
    search: dict[str, Any] = {"seed": seed, "population": population, "elites": min(2, population - 1)}
    if mode == "front":
        search["objectives"] = "val,params"
    search["selection"] = "tournament" if random else method  # random: generation 0 only
    if args.engine:
        search["engine"] = args.engine
    training = {"max_epochs": args.max_epochs} if args.max_epochs else {}
    cfg = for_dataset(
        RunConfig().with_overrides(data={"dataset": table}, search=search, training=training), data
    )
    run = RunDir.create(work / f"{mode}-{table}-{method}-{seed}", cfg)
    start = time.perf_counter()
    with run.lock():
        run.write_json(DATA, describe_data(data))
        s = Search(run, cfg, data, progress=False, log=lambda line: print("   ", line, flush=True))
        s.run_generations(0 if random else 10**9, trainings=budget)  # random: generation 0 alone
        test = s.score_best_on_test() if mode == "strategies" else None
    rows = run.individuals()
    result: dict[str, Any] = {
        "mode": mode,
        "table": table,
        "method": method,
        "seed": seed,
        "task": data.task,
        "trainings": s.trainings,
        "seconds": round(time.perf_counter() - start, 1),
        "max_params": cfg.space.max_params,
        "val": s.best.objective if s.best is not None else None,
    }
    if mode == "front":
        result["points"] = [[r["objective"], r["params"]] for r in rows if r["status"] == "ok"]
        front = front_rows(rows, ("val", "params"))
        result["front"] = [[f["val"], f["params"]] for f in front]
    else:
        metric = "test_rmse" if data.task == "regression" else "test_accuracy"
        result["test"] = (test.get("refit") or {}).get(metric, test[metric])
    return result


def hypervolumes(results: list[dict]) -> dict[tuple[str, str, int], float]:
    """Normalised hypervolume of each front run (see the module docstring), by (table, method, seed)."""
    out = {}
    for table in sorted({r["table"] for r in results}):
        mine = [r for r in results if r["table"] == table]
        vals = [p[0] for r in mine for p in r["points"]]
        ref = (math.log10(mine[0]["max_params"]), statistics.median(vals))
        box = ref[0] * ref[1]
        for r in mine:
            points = [(math.log10(max(1, p)), v) for v, p in r["front"]]
            out[table, r["method"], r["seed"]] = hypervolume_2d(points, ref) / box
    return out


def report(results_dir: Path) -> str:
    results = [json.loads(p.read_text()) for p in sorted(results_dir.glob("*.json"))]
    lines = []
    fronts = [r for r in results if r["mode"] == "front"]
    if fronts:
        hv = hypervolumes(fronts)
        lines += [
            "Hypervolume of the (val, log10 params) front, normalised (higher is better); median of seeds "
            "[range], trainings, front size, wall time:",
            "",
            "| table | method | hypervolume | vs random | trainings | front size | seconds |",
            "|---|---|---|---|---|---|---|",
        ]
        for table in sorted({r["table"] for r in fronts}):
            base = [v for (t, m, _), v in hv.items() if t == table and m == "random"]
            for method in FRONT_METHODS:
                runs = [r for r in fronts if r["table"] == table and r["method"] == method]
                if not runs:
                    continue
                values = [hv[table, method, r["seed"]] for r in runs]
                med = statistics.median(values)
                ratio = (
                    f"{med / statistics.median(base):.3f}" if base and statistics.median(base) > 0 else "-"
                )
                lines.append(
                    f"| {table} | {method} | {med:.4f} [{min(values):.4f}, {max(values):.4f}] | {ratio} | "
                    f"{statistics.median(r['trainings'] for r in runs):.0f} | "
                    f"{statistics.median(len(r['front']) for r in runs):.0f} | "
                    f"{statistics.median(r['seconds'] for r in runs):.0f} |"
                )
        lines.append("")
    strategies = [r for r in results if r["mode"] == "strategies"]
    if strategies:
        lines += [
            "Test metric of the delivered network (RMSE, lower is better; accuracy, higher is better), "
            "median of seeds [range]:",
            "",
            "| table | tournament | aging | random | aging / tournament | random / tournament | trainings "
            "| seeds |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for table in [t for t in DATASETS if any(r["table"] == t for r in strategies)]:
            cells, med = [], {}
            runs = [r for r in strategies if r["table"] == table]
            for method in STRATEGY_METHODS:
                values = [r["test"] for r in runs if r["method"] == method]
                med[method] = statistics.median(values) if values else math.nan
                fmt = ",.0f" if runs[0]["task"] == "regression" and med[method] > 100 else ".4f"
                cells.append(
                    f"{med[method]:{fmt}} [{min(values):{fmt}}, {max(values):{fmt}}]" if values else "-"
                )
            ratios = " | ".join(f"{med[m] / med['tournament']:.3f}" for m in ("aging", "random"))
            seeds = len({r["seed"] for r in runs})
            lines.append(
                f"| {table} | {' | '.join(cells)} | {ratios} | "
                f"{statistics.median(r['trainings'] for r in runs):.0f} | {seeds} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--front", action="store_true", help="NSGA-II against random search, val and params")
    mode.add_argument("--strategies", action="store_true", help="aging against tournament, val only")
    mode.add_argument("--report-only", action="store_true", help="print the tables of --results")
    parser.add_argument("--tables", default="ames,mnist5k", help="comma-separated: " + ", ".join(SUITE))
    parser.add_argument("--methods", default=None, help="a subset of the mode's methods")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=60, help="trainings per search")
    parser.add_argument("--population", type=int, default=10, help="of the genetic searches (the default)")
    parser.add_argument("--max-epochs", type=int, default=None, help="epoch cap (smoke tests; default 30)")
    parser.add_argument("--engine", choices=["loky", "serial"], help="evonas' engine (smoke tests: serial)")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "selection")
    args = parser.parse_args(argv)
    if args.report_only:
        print(report(args.results))
        return 0
    name = "front" if args.front else "strategies"
    methods = (args.methods or ",".join(FRONT_METHODS if args.front else STRATEGY_METHODS)).split(",")
    args.results.mkdir(parents=True, exist_ok=True)
    for table in args.tables.split(","):
        data, _, _ = load_table(table)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for method in methods:
                print(f"{name} {table} {method} seed {seed}, {args.budget} trainings", flush=True)
                with tempfile.TemporaryDirectory(prefix="evonas-selection-") as tmp:
                    result = run_one(table, data, name, method, seed, args, Path(tmp))
                path = args.results / f"{name}__{table}__{method}__seed{seed}.json"
                path.write_text(json.dumps(result) + "\n")
                print(
                    f"  {method}: val {result['val']}, {result['trainings']} trainings, "
                    f"{result['seconds']:.0f} s",
                    flush=True,
                )
    print(report(args.results))
    print(f"\n(.venv/bin/python -m benchmarks.selection {' '.join(sys.argv[1:] if argv is None else argv)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
