"""The report of a run: PNG plots and a ``report.html`` that ties them together.

```
RUN_DIR/report/
  fitness.png            best, median and best-so-far objective per generation
  diversity.png          distinct architectures (keys) per generation
  best_architecture.png  the best network drawn as a lattice (:func:`evolve.draw.draw_lattice`)
  lineage.png            the ancestry tree of the best (:func:`evolve.draw.draw_lineage`)
  operators.png          offspring per operator and how many of them improved
  front.png              two objectives: every candidate, the Pareto front, each generation's best
  report.html            all of the above with the tables behind them
```

A run with two objectives (``search.objectives``) also lists the members of its
front (``front.csv``), each with its parents and its ancestry (the links of
``evonas lineage --id``).

A run in which no candidate trained successfully still gets a report: it says
so at the top, with the reasons the candidates failed (no fitness plot, best
architecture or lineage: there is no objective to plot and no best).

Matplotlib only (Agg backend): no Graphviz, no display needed.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path

import pandas as pd

from evonas.evolve.api import RunResult
from evonas.evolve.draw import OPERATOR_COLORS, draw_lattice
from evonas.evolve.formats import (
    describe_refit,
    format_number,
    format_objective,
    format_test_score,
    objective_label,
)
from evonas.evolve.lineage import Lineage
from evonas.evolve.logbook import failure_reasons
from evonas.evolve.objectives import read_front, values_of
from evonas.evolve.rundir import RunDirError

REPORT_DEPTH = 12  # generations of ancestry drawn in lineage.png (keeps the picture readable)
BREEDING = ("crossover", "mutation", "crossover+mutation")


def operator_gains(lin: Lineage) -> pd.DataFrame:
    """Per breeding operator: how many offspring it made and how many of them improved.

    ``improved``: the child's objective is strictly below that of its better
    parent. ``new_best``: strictly below everything of the earlier generations.
    ``share``: the operator's part of all ``improved`` children. Init and elite
    copies are not breeding and are left out.
    """
    by_gen: dict[int, float] = {}
    for r in lin.rows.values():
        obj = math.inf if r.get("objective") is None else float(r["objective"])
        by_gen[r["generation"]] = min(by_gen.get(r["generation"], math.inf), obj)
    before: dict[int, float] = {}
    running = math.inf
    for gen in sorted(by_gen):
        before[gen] = running
        running = min(running, by_gen[gen])

    def value(i: int) -> float:
        obj = lin.rows[i].get("objective") if i in lin.rows else None
        return math.inf if obj is None else float(obj)

    ops = list(BREEDING) + sorted(
        {r["operator"] for r in lin.rows.values()} - set(BREEDING) - {"init", "textbook", "elite"}
    )
    counts = {op: [0, 0, 0] for op in ops}
    for i, r in lin.rows.items():
        if r["operator"] not in counts:
            continue
        c = counts[r["operator"]]
        c[0] += 1
        parents = [value(p) for p in lin.parents(i)]
        c[1] += value(i) < min(parents, default=math.inf)
        c[2] += value(i) < before[r["generation"]]
    table = pd.DataFrame(
        [{"operator": op, "offspring": c[0], "improved": c[1], "new_best": c[2]} for op, c in counts.items()]
    )
    total = table["improved"].sum()
    table["share"] = table["improved"] / total if total else 0.0
    return table


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_fitness(gens: pd.DataFrame, task: str, path: Path) -> Path:
    """Best, median and best-so-far objective per generation."""
    plt = _plt()
    name = objective_label(task)
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    x = gens.index.to_numpy()
    ax.plot(x, gens["median"], "o-", color="#9e9e9e", label="median")
    ax.plot(x, gens["best"], "o-", color="#1f77b4", label="best of generation")
    ax.plot(x, gens["best"].cummin(), "--", color="#d62728", label="best so far")
    ax.set_xticks(x)
    ax.set_xlabel("generation")
    ax.set_ylabel(f"{name} (lower is better)")
    ax.set_title("Fitness per generation", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_diversity(gens: pd.DataFrame, population: int, path: Path) -> Path:
    """Distinct architecture keys per generation, against the population size."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 3.0))
    x = gens.index.to_numpy()
    ax.bar(x, gens["unique"], color="#2ca02c", alpha=0.8, label="distinct architectures")
    ax.bar(x, gens["trained"], width=0.35, color="#1f77b4", label="trained (not cached)")
    ax.axhline(population, color="#333333", linestyle="--", linewidth=1, label=f"population {population}")
    ax.set_xticks(x)
    ax.set_ylim(0, population * 1.35)
    ax.set_xlabel("generation")
    ax.set_ylabel("individuals")
    ax.set_title("Diversity: distinct architecture keys per generation", fontsize=10)
    ax.legend(fontsize=8, ncol=3, loc="upper center")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_operators(gains: pd.DataFrame, path: Path) -> Path:
    """Offspring per operator, and how many improved on their parents or set a new best."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 3.2))
    x = range(len(gains))
    for n, (column, label, alpha) in enumerate(
        (
            ("offspring", "offspring", 0.35),
            ("improved", "beat the better parent", 0.7),
            ("new_best", "new best so far", 1.0),
        )
    ):
        ax.bar(
            [i + (n - 1) * 0.27 for i in x],
            gains[column],
            width=0.27,
            label=label,
            alpha=alpha,
            color=[OPERATOR_COLORS.get(op, "#333333") for op in gains["operator"]],
            edgecolor="#333333",
        )
    for i, r in enumerate(gains.itertuples()):
        ax.text(i, r.offspring, f"{r.share:.0%} of\nimprovements", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(list(x), list(gains["operator"]))
    ax.set_ylim(0, max(1, gains["offspring"].max()) * 1.35)
    ax.set_ylabel("children")
    ax.set_title("Which operators produced improvements (bars: made / beat parent / new best)", fontsize=9)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


AXIS = {"params": "parameters (log scale)", "latency": "ms per 1,000 rows (log scale)"}


def plot_front(
    rows: list[dict], front: pd.DataFrame, objectives: tuple[str, ...], task: str, path: Path
) -> Path:
    """Every successful candidate, the Pareto front (a staircase) and each generation's best (by val)."""
    plt = _plt()
    second = objectives[1]
    ok = [r for r in rows if r.get("status") == "ok"]
    points = [values_of(r, objectives) for r in ok]
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    ax.scatter(
        [p[1] for p in points],
        [p[0] for p in points],
        s=14,
        color="#9e9e9e",
        alpha=0.6,
        label="every candidate",
    )
    best: dict[int, tuple[float, float]] = {}
    for r, p in zip(ok, points, strict=True):
        if r["generation"] not in best or p[0] < best[r["generation"]][0]:
            best[r["generation"]] = p
    ax.scatter(
        [p[1] for p in best.values()],
        [p[0] for p in best.values()],
        s=30,
        color="#1f77b4",
        marker="s",
        label="best of a generation",
    )
    ordered = front.sort_values(second)
    ax.step(ordered[second], ordered["val"], where="post", color="#d62728", linewidth=1.2)
    ax.scatter(
        ordered[second], ordered["val"], s=36, color="#d62728", label=f"front ({len(front)})", zorder=3
    )
    for r in ordered.itertuples():
        ax.annotate(
            f"#{r.id}", (getattr(r, second), r.val), fontsize=7, xytext=(3, 3), textcoords="offset points"
        )
    ax.set_xscale("log")
    ax.set_xlabel(AXIS[second])
    ax.set_ylabel(f"{objective_label(task)} (lower is better)")
    ax.set_title(f"Pareto front: {objective_label(task)} against {second}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def _front_section(result: RunResult, lin: Lineage, front: pd.DataFrame, folder: Path) -> list[str]:
    """The front's picture and its members, each with its parents and its ancestry."""
    e = html.escape
    objectives = result.config.search.objectives
    parts = [f"<h2>Pareto front: {e(' and '.join(objectives))}</h2>"]
    if front.empty:
        return parts + ["<p>No successful candidate yet: the front is empty.</p>"]
    plot_front(list(lin.rows.values()), front, objectives, result.task, folder / "front.png")
    parts += [
        '<img src="front.png" alt="every candidate, the Pareto front and the best of each generation">',
        f"<p>{len(front)} distinct networks that no other evaluated candidate beats on both "
        f"objectives (<code>front.csv</code>). Any member: <code>evonas lineage {e(str(result.path))} "
        f"--id ID</code>, <code>evonas predict {e(str(result.path))} ROWS.csv --id ID</code>.</p>",
        "<table><tr><th>id</th>"
        + "".join(f"<th>{e(n)}</th>" for n in objectives)
        + "<th>parents</th><th>architecture</th></tr>",
    ]
    members = {int(i) for i in front["id"]}
    for r in front.itertuples():
        row = lin.rows[int(r.id)]
        parents = ", ".join(
            f'<a href="#lineage-{p}">#{p}</a>' if p in members else f"#{p}" for p in row["parents"]
        )
        figures = "".join(f"<td>{format_number(getattr(r, n))}</td>" for n in objectives)
        parts.append(
            f'<tr><td><a href="#lineage-{r.id}">#{r.id}</a></td>{figures}'
            f"<td>{parents or '-'} ({e(row['operator'])})</td>"
            f'<td style="text-align:left">{e(r.architecture)}</td></tr>'
        )
    parts.append("</table>")
    for r in front.itertuples():
        parts += [
            f'<h3 id="lineage-{r.id}">Lineage of #{r.id}</h3>',
            f"<pre>{e(lin.tree_text([int(r.id)], REPORT_DEPTH))}</pre>",
        ]
    return parts


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(border=0, float_format=format_number)


def write_report(run: RunResult | str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Write the plots and ``report.html`` (default folder ``RUN_DIR/report``) and return the HTML path."""
    result = run if isinstance(run, RunResult) else RunResult(run)
    lin = Lineage.load(result)
    gens = result.by_generation()
    folder = Path(out) if out is not None else result.path / "report"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(13, "permission denied")
        return _write(result, lin, gens, folder)
    except OSError as exc:
        raise RunDirError(f"cannot write the report to {folder}: {exc.strerror or exc}") from None


def _write(result: RunResult, lin: Lineage, gens: pd.DataFrame, folder: Path) -> Path:
    cfg = result.config
    best = lin.best_ids(1)
    gains = operator_gains(lin)
    no_success = result.no_success()
    if no_success is None:
        plot_fitness(gens, result.task, folder / "fitness.png")
    plot_diversity(gens, cfg.search.population, folder / "diversity.png")
    plot_operators(gains, folder / "operators.png")
    e = html.escape
    parts = [
        "<!doctype html>",
        '<html><head><meta charset="utf-8">',
        f"<title>evonas report: {e(result.path.name)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em}"
        "img{max-width:100%;border:1px solid #ddd}pre{background:#f6f6f6;padding:.6em;overflow-x:auto;"
        "font-size:12px}td,th{padding:2px 10px;text-align:right}</style></head><body>",
        f"<h1>evonas report: {e(str(result.path))}</h1>",
        f"<p>Dataset <b>{e(cfg.data.dataset)}</b> ({e(result.task)}), population {cfg.search.population}, "
        f"generations {cfg.search.describe_generations(cfg.search.time_budget is not None)} after the "
        f"initial one, seed {cfg.search.seed}. "
        f"Objective: {objective_label(result.task, long=True)} "
        "(minimised; the test split is not used by the search).</p>",
    ]
    if no_success is not None:
        parts += [
            "<h2>No candidate trained successfully</h2>",
            f"<p><b>No candidate trained successfully</b> ({e(no_success)}): there is nothing to score "
            "or predict. The reasons, from <code>individuals.jsonl</code>, are below.</p>",
        ]
    if best:
        b = best[0]
        row = lin.rows[b]
        arch = lin.architecture(b)
        draw_lattice(arch, folder / "best_architecture.png", title=f"Best #{b}: {arch.describe()}")
        depth = REPORT_DEPTH if row["generation"] > REPORT_DEPTH else None
        lin.draw([b], folder / "lineage.png", depth=depth)
        test = result.test_score()
        score = ""
        if test is not None and test.get("id") == b:
            score = f"; held-out {format_test_score(test)} (measured once, on {test['test_rows']} rows)"
            refit = test.get("refit") or {}
            if "test_rows" in refit:
                score += f"; {describe_refit(refit).lower()}: {format_test_score(refit)}"
            ensemble = test.get("ensemble")
            if ensemble is not None:
                members = ", ".join(f"#{i}" for i in ensemble["ids"])
                score += f"; the ensemble of the {len(ensemble['ids'])} best ({members}): "
                score += format_test_score(ensemble)
                if "refit" in ensemble:
                    score += f", refitted: {format_test_score(ensemble['refit'])}"
        parts += [
            "<h2>Best architecture</h2>",
            f"<p>#{b}, generation {row['generation']}, made by {e(row['operator'])}: "
            f"{e(format_objective(row.get('objective'), result.task))}, "
            f"{int(row['params'] or 0):,} parameters{e(score)}.</p>",
            f"<pre>{e(arch.describe())}</pre>",
            '<img src="best_architecture.png" alt="the best architecture as a lattice">',
            "<p>Levels run left to right; grey: level to level, blue: skip, orange: lateral, "
            "green dashed: from the raw input, black: into the output head.</p>",
        ]
    reasons = failure_reasons(lin.rows.values())
    if reasons:
        table = pd.DataFrame(reasons, columns=["reason", "candidates"]).set_index("reason")
        parts += ["<h2>Failed candidates</h2>", _table(table)]
    parts += ["<h2>Fitness per generation</h2>"]
    if no_success is None:
        parts.append('<img src="fitness.png" alt="best and median objective per generation">')
    parts += [
        _table(gens),
        "<h2>Diversity</h2>",
        '<img src="diversity.png" alt="distinct architectures per generation">',
    ]
    if best:
        parts += [
            "<h2>Lineage of the best</h2>",
            '<img src="lineage.png" alt="ancestry tree of the best">',
            f"<pre>{e(lin.tree_text(best))}</pre>",
        ]
    front = read_front(result.path)
    if front is not None:
        parts += _front_section(result, lin, front, folder)
    parts += [
        "<h2>Which operators produced improvements</h2>",
        '<img src="operators.png" alt="offspring and improvements per operator">',
        "<p><i>improved</i>: the child beat its better parent; <i>new_best</i>: it beat everything of the "
        "earlier generations; <i>share</i>: the operator's part of all improvements.</p>",
        _table(gains.set_index("operator")),
        "</body></html>",
    ]
    page = folder / "report.html"
    page.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return page
