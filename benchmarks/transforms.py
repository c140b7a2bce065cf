"""Numeric feature transform x target transform on Ames: the test RMSE of the best network.

    .venv/bin/python -m benchmarks.transforms --seeds 0 --population 8 --generations 2

For each seed and each of standard / robust / quantile features x none / log
target, one evonas search on the built-in ``ames`` (``data.numeric_transform``,
``data.target_transform``; everything else the demo's), 2 workers. Prints one
JSON line per search (the selected network's val RMSE, its test RMSE, the
refitted one's test RMSE, seconds), then a markdown table of the test RMSEs.
Seed 0 runs every pair first, then the other seeds (standard first).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from evonas.evolve.api import run_search
from evonas.evolve.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]

NUMERIC = ("standard", "robust", "quantile")
TARGET = ("none", "log")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--population", type=int, default=8)
    parser.add_argument("--generations", type=int, default=2)
    parser.add_argument("--out", default="/tmp/evonas-transforms")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    pairs = [(n, t) for t in TARGET for n in NUMERIC]
    order = [(seeds[0], n, t) for n, t in pairs]
    order += [(s, n, t) for s in seeds[1:] for n, t in sorted(pairs, key=lambda p: p[0] != "standard")]
    rows = []
    for seed, numeric, target in order:
        run_dir = Path(args.out) / f"ames-{numeric}-{target}-s{seed}"
        start = time.time()
        if not (run_dir / "test.json").is_file():
            cfg = RunConfig().with_overrides(
                data={"numeric_transform": numeric, "target_transform": target},
                search={
                    "population": args.population,
                    "generations": args.generations,
                    "seed": seed,
                    "workers": 2,
                },
            )
            run_search(cfg, run_dir, progress=False, log=lambda *a, **k: None)
        test = json.loads((run_dir / "test.json").read_text())
        best = json.loads((run_dir / "best" / "model.json").read_text())
        row = {
            "numeric": numeric,
            "target": target,
            "seed": seed,
            "val_rmse": best["objective"],
            "test_rmse": test["test_rmse"],
            "refit_test_rmse": test.get("refit", {}).get("test_rmse"),
            "seconds": round(time.time() - start, 1),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(
        "\n| features | target | seed | val RMSE | test RMSE | test RMSE, refit |\n|---|---|---|---|---|---|"
    )
    for r in rows:
        refit = f"{r['refit_test_rmse']:,.0f}" if r["refit_test_rmse"] else "-"
        cells = [
            r["numeric"],
            r["target"],
            str(r["seed"]),
            f"{r['val_rmse']:,.0f}",
            f"{r['test_rmse']:,.0f}",
            refit,
        ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
