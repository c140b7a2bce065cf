"""What follows a search, timed: the refits of the best and of the ensemble's members, then the test score.

The constants of the time budget's end (``evolve.budget.SCORE_SECONDS``, ``CLOSE_SECONDS``) are read
against these figures. One small search (generation 0 of ``--population`` candidates of
``--max-epochs`` epochs), then each phase timed in this process::

    python -m benchmarks.scoring --dataset ames --ensemble 5
    python -m benchmarks.scoring --dataset ames --ensemble 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from evonas.evolve.config import RunConfig, for_dataset
from evonas.evolve.rundir import RunDir
from evonas.evolve.search import Search
from evonas.fitness import load_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ames", help="a built-in table (ames, digits, mnist5k)")
    parser.add_argument("--ensemble", type=int, default=5)
    parser.add_argument("--population", type=int, default=6)
    parser.add_argument("--max-epochs", type=int, default=5)
    args = parser.parse_args(argv)
    data = load_dataset(args.dataset)
    cfg = for_dataset(
        RunConfig().with_overrides(
            data={"dataset": args.dataset},
            search={"population": args.population, "ensemble": args.ensemble, "seed": 1, "engine": "serial"},
            training={"max_epochs": args.max_epochs},
        ),
        data,
    )
    with tempfile.TemporaryDirectory(prefix="evonas-scoring-") as tmp:
        run = RunDir.create(Path(tmp) / "run", cfg)
        search = Search(run, cfg, data, progress=False, log=lambda line: None)
        t0 = time.perf_counter()
        search.run_generations(0)
        t1 = time.perf_counter()
        reserved = search.end_seconds()
        search.refit_best()
        t2 = time.perf_counter()
        if args.ensemble > 1:
            search.refit_ensemble()
        t3 = time.perf_counter()
        search.score_best_on_test()
        t4 = time.perf_counter()
    print(
        f"{args.dataset}, ensemble {args.ensemble}: generation 0 {t1 - t0:.1f} s; after it, reserved "
        f"{reserved:.1f} s; the best's refit {t2 - t1:.1f} s, the members' {t3 - t2:.1f} s, the test "
        f"score {t4 - t3:.1f} s ({len(data.y_test)} test rows); together {t4 - t1:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
