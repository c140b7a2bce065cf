"""Which batch sizes suit a table of N rows? Seconds and validation score of the same networks per batch size.

    .venv/bin/python -m benchmarks.batch_rows --tables cps1988,cpssw8,ames --batches 16,64,256,1024

For each table (loaded as ``evonas run`` loads it, :func:`benchmarks.peers.load_table`), the
textbook network and ``--random`` random genomes of the default space for that table (seeded
with ``--seed``) train once per batch size, with the default training settings (epoch cap,
early stopping, schedule), the batch-size gene set to each choice; nothing else changes.
Printed per table and batch size: the train rows, the steps per epoch, the median seconds of a
training, the median epochs, and the median ratio of the validation objective to each
network's best over the batch sizes (1.000 = the best batch size for that network). The
figures go to ``--out`` as JSON. Serial, one training at a time: run it on a quiet machine.

This is the measurement behind :data:`genome.space.BATCH_ROWS` (the batch-size choices
scaled with a table's rows, ``docs/search.md``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.peers import load_table
from evonas.fitness import TrainSettings, evaluate_genome
from evonas.genome import SearchSpace, layout_for, random_genome, textbook_genome


def networks(space: SearchSpace, count: int, seed: int) -> list[tuple[str, np.ndarray]]:
    """The textbook genome and ``count`` random ones of ``space``, named."""
    rng = np.random.default_rng(seed)
    out = [("textbook", textbook_genome(space))]
    out += [(f"random{i}", random_genome(space, rng)) for i in range(count)]
    return out


def measure(table: str, batches: tuple[int, ...], count: int, seed: int) -> list[dict]:
    """One row per (network, batch size) of ``table``: seconds, epochs and objective."""
    data = load_table(table)[0]
    base = SearchSpace().for_images(False)
    space = dataclasses.replace(base, batch_sizes=batches, batch_scale=1).for_data(
        data.task, embeddable=bool(data.ple_bins)
    )
    layout = layout_for(space)
    settings = TrainSettings()
    rows = []
    for name, genes in networks(space, count, seed):
        for index, batch in enumerate(batches):
            g = np.array(genes, copy=True)
            g[layout.batch_size] = index
            record = evaluate_genome(space, g, data, settings, seed)
            rows.append(
                {
                    "table": table,
                    "train_rows": int(len(data.y_train)),
                    "network": name,
                    "batch": batch,
                    "status": record["status"],
                    "objective": record["objective"],
                    "seconds": float(record["seconds"]),
                    "epochs": int(record.get("epochs") or 0),
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def summary(rows: list[dict]) -> list[str]:
    """The printed table: per table and batch size, medians over the networks."""
    lines = ["table       rows   batch  steps/epoch  seconds  epochs  objective / network's best"]
    for table in dict.fromkeys(r["table"] for r in rows):
        mine = [r for r in rows if r["table"] == table and r["status"] == "ok"]
        best = {}
        for r in mine:
            best[r["network"]] = min(best.get(r["network"], np.inf), r["objective"])
        for batch in sorted({r["batch"] for r in mine}):
            at = [r for r in mine if r["batch"] == batch]
            n = at[0]["train_rows"]
            lines.append(
                f"{table:<10} {n:>6} {batch:>7} {int(np.ceil(n / batch)):>12} "
                f"{np.median([r['seconds'] for r in at]):>8.1f} {np.median([r['epochs'] for r in at]):>7.0f} "
                f"{np.median([r['objective'] / best[r['network']] for r in at]):>10.3f}"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="seconds and validation score per batch size and table size")
    parser.add_argument("--tables", default="cps1988,cpssw8,ames")
    parser.add_argument("--batches", default="16,64,256,1024")
    parser.add_argument("--random", type=int, default=2, help="random genomes besides the textbook network")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/batch-rows.json"))
    args = parser.parse_args(argv)
    batches = tuple(sorted(int(b) for b in args.batches.split(",")))
    rows = [r for t in args.tables.split(",") for r in measure(t, batches, args.random, args.seed)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    print("\n".join(summary(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
