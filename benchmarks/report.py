"""The report of benchmarks/search_quality.py: the per-table markdown table, its wiring lines and
the best-so-far picture (``write_report``), and the suite table over the five public tables with its
ratios against the peers (``write_suite_report``), read from the result files alone.

Used by ``python -m benchmarks.search_quality`` (``--report-only`` rebuilds them) and by
``python -m benchmarks.page``.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.peers import PEERS, SUITE

NEURAL = ("evonas-genetic", "evonas-random", "kt-random", "kt-hyperband")
REFERENCES = ("hgb-default", "hgb-tuned", "linear")
METHODS = NEURAL + REFERENCES + PEERS


# -- the report --------------------------------------------------------------------
def load_results(
    results: Path, dataset: str, overlays: Sequence[Path] = ()
) -> dict[str, list[dict[str, Any]]]:
    """The saved results of one table, by method: those of ``results``, then of each overlay in turn.

    An overlay directory that has results of a method on the table replaces every result of that
    method read before it (all seeds): ``--overlay`` puts one run's evonas rows beside another
    run's peers in one table, without copying files between result directories.
    """
    found: dict[str, list[dict[str, Any]]] = {}
    for directory in (results, *overlays):
        mine: dict[str, list[dict[str, Any]]] = {}
        for path in sorted(directory.glob(f"{dataset}__*.json")):
            r = json.loads(path.read_text())
            r.setdefault("source", directory.name)
            mine.setdefault(r["method"], []).append(r)
        found.update(mine)
    return found


def searched_images(r: dict[str, Any]) -> bool:
    """Whether an evonas result searched the table as images (``--images``: conv levels ahead of the
    Dense lattice). Results written before the ``images`` field say so by their selected network."""
    return bool(r.get("images", str(r.get("selected", "")).startswith("conv ")))


def _median(values: list[float], fmt: str) -> str:
    return format(statistics.median(values), fmt) if values else "-"


def _med_range(values: list[float], fmt: str) -> str:
    if len(set(values)) <= 1:
        return _median(values, fmt)
    return f"{_median(values, fmt)} ({format(min(values), fmt)}-{format(max(values), fmt)})"


def active_only(selected: str) -> str:
    """Drop KerasTuner's values of inactive parameters (units of layers the model does not have)."""
    parts = [p.strip() for p in selected.split(",")]
    layers = next((int(p.split("=")[1]) for p in parts if p.startswith("layers=")), None)
    if layers is None:
        return selected
    return ", ".join(
        p for p in parts if not p.startswith("units_") or int(p.split("=")[0].split("_")[1]) < layers
    )


# each kind of wiring: what it is, and which networks can have it at all
WIRING = {
    "skip": ("skip connections (from a level below the previous one)", lambda c: c["levels"] >= 3),
    "lateral": ("lateral connections (inside a level)", lambda c: c["units"] > c["levels"]),
    "input": ("extra input connections (raw input into a level above 0)", lambda c: c["levels"] >= 2),
    "output": ("extra outputs (a unit below the last level feeds the head)", lambda c: c["levels"] >= 2),
    "batchnorm": ("batch normalisation (in at least one unit)", lambda c: True),
}
TOP = 10


def wiring_lines(found: dict[str, list[dict[str, Any]]], fmt: str) -> list[str]:
    """Which wiring goes with better networks, from the candidates the evonas runs kept.

    The random search's candidates are an unbiased sample of the space: their median
    val score with and without each kind of wiring, among the networks that can have
    it (skip connections need 3 levels, lateral ones a level of 2 units...). The
    genetic search's best candidates show what selection kept: the share of its TOP
    best per seed that have the wiring, against the share among the random candidates.
    """
    pool = [c for r in found.get("evonas-random", []) for c in r.get("candidates", [])]
    pool = [c for c in pool if c["objective"] is not None]
    tops = []
    for r in found.get("evonas-genetic", []):
        ok = [c for c in r.get("candidates", []) if c["objective"] is not None]
        tops.extend(sorted(ok, key=lambda c: c["objective"])[:TOP])
    if not pool or not tops:
        return []
    seeds = len(found.get("evonas-genetic", []))
    lines = [
        "",
        f"Which wiring goes with better networks: {len(pool)} candidates of the random search (an unbiased"
        f" sample of the space) and the {TOP} best candidates of each genetic run ({len(tops)} in all,"
        f" {seeds} seeds). With and without are compared among the random networks that can have the"
        " wiring (skip connections need 3 levels, lateral ones a level of 2 units, extra inputs and"
        " outputs 2 levels). An association, not a controlled experiment: wiring comes with other"
        " differences (bigger networks have more of it).",
        "",
        f"| wiring | random: with / without | random: median val with | random: median val without"
        f" | share among random | share among the genetic {TOP} best |",
        "|---|---|---|---|---|---|",
    ]
    for kind, (what, possible) in WIRING.items():
        with_ = [c["objective"] for c in pool if c[kind] > 0]
        without = [c["objective"] for c in pool if c[kind] == 0 and possible(c)]
        share_top = sum(1 for c in tops if c[kind] > 0) / len(tops)
        lines.append(
            f"| {what} | {len(with_)} / {len(without)} | {_median(with_, fmt)} | {_median(without, fmt)}"
            f" | {len(with_) / len(pool):.0%} | {share_top:.0%} |"
        )
    return lines


LINE_STYLES = {
    "hgb-default": ":",
    "hgb-tuned": "--",
    "linear": "-.",
    "realmlp-td": ":",
    "realmlp-hpo": "--",
    "catboost-default": "-.",
    "lightgbm-default": (0, (5, 1, 1, 1, 1, 1)),
}


def write_report(
    results: Path, dataset: str, report_dir: Path, command: str, overlays: Sequence[Path] = ()
) -> Path | None:
    found = load_results(results, dataset, overlays)
    if not found:
        return None
    task = next(iter(found.values()))[0]["task"]
    regression = task == "regression"
    val_name, test_name = ("val RMSE", "test RMSE") if regression else ("val log loss", "test accuracy")
    fmt = ",.0f" if regression else ".4f"
    lines = [
        f"Command: `{command}`",
        "",
        f"| method | seeds | {val_name} | {test_name} |"
        + ("" if regression else " val accuracy |")
        + " trainings | wall time s | selected (the run with the median test score) |",
        "|---|---|---|---|" + ("" if regression else "---|") + "---|---|---|",
    ]
    for method in METHODS:
        rs = found.get(method)
        if not rs:
            continue
        rs = sorted(rs, key=lambda r: r["seed"])
        tests = [r["test"] for r in rs]
        median_run = sorted(rs, key=lambda r: r["test"])[len(rs) // 2]
        seeds = "any (deterministic)" if method in REFERENCES else ",".join(str(r["seed"]) for r in rs)
        row = f"| {method} | {seeds} | {_med_range([r['val'] for r in rs], fmt)} | {_med_range(tests, fmt)} |"
        if not regression:
            row += f" {_med_range([r['val_accuracy'] for r in rs], '.4f')} |"
        row += (
            f" {_med_range([r['trainings'] for r in rs], '.0f')} |"
            f" {_med_range([r['seconds'] for r in rs], '.0f')} |"
            f" {active_only(median_run['selected']).replace('|', '/')} |"
        )
        lines.append(row)
    lines.append("")
    lines.append(
        "Median over the seeds, (range) where the seeds differ. Each method selects on the val split;"
    )
    lines.append("the test split is scored once, for the selected model.")
    lines.extend(wiring_lines(found, fmt))
    report_dir.mkdir(parents=True, exist_ok=True)
    table = report_dir / f"{dataset}.md"
    table.write_text("\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.8))
    for method in NEURAL:
        rs = found.get(method)
        if not rs:
            continue
        n = min(len(r["curve"]) for r in rs)
        curves = np.array([r["curve"][:n] for r in rs], dtype="float64")
        curves[~np.isfinite(curves)] = np.nan
        x = np.arange(1, n + 1)
        line = ax.plot(x, np.nanmedian(curves, axis=0), label=f"{method} (median of {len(rs)})")[0]
        if len(rs) > 1:
            ax.fill_between(
                x, np.nanmin(curves, axis=0), np.nanmax(curves, axis=0), alpha=0.15, color=line.get_color()
            )
    for method in REFERENCES + PEERS:
        rs = found.get(method)
        if rs:
            ax.axhline(
                statistics.median(r["val"] for r in rs),
                linestyle=LINE_STYLES[method],
                linewidth=1,
                color="black" if method in REFERENCES else "tab:gray",
                label=f"{method} (val{', median' if len(rs) > 1 else ''})",
            )
    ax.set_xlabel("trainings")
    ax.set_ylabel(f"best {val_name} so far")
    ax.set_title(f"{dataset}: best validation score against trainings spent")
    finite = [v for rs in found.values() for r in rs for v in r["curve"] if math.isfinite(v)]
    if finite:
        low = min(finite)
        ax.set_ylim(low * 0.95, min(max(finite), low * (1.6 if regression else 2.5)))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    picture = report_dir / f"{dataset}-best-so-far.png"
    fig.savefig(picture, dpi=110)
    plt.close(fig)
    print(f"wrote {table} and {picture}")
    return table


# -- the suite table -------------------------------------------------------------------------
REFERENCE_PEERS = ("realmlp-td", "catboost-default")  # the ratios of the suite table are against these


def suite_columns(results: Path, overlays: Sequence[Path] = ()) -> list[tuple[str, str, str, str]]:
    """(dataset, result key, column label, number format) for each suite table with results."""
    columns = []
    for dataset in SUITE:
        found = load_results(results, dataset, overlays)
        if not found:
            continue
        if next(iter(found.values()))[0]["task"] == "regression":
            columns.append((dataset, "test", f"{dataset} RMSE", ",.0f"))
        else:
            columns.append((dataset, "test", f"{dataset} accuracy", ".4f"))
            columns.append((dataset, "test_loss", f"{dataset} log loss", ".4f"))
    return columns


def _error(label: str, value: float) -> float:
    """The quantity a ratio compares (lower is better): RMSE, log loss, or the error rate 1 - accuracy."""
    return 1.0 - value if label.endswith("accuracy") else value


def wins_lines(
    found: dict[str, dict[str, list[dict[str, Any]]]],
    columns: list[tuple[str, str, str, str]],
    median: Any,
) -> list[str]:
    """For each evonas method: on how many tables its median main metric (RMSE or accuracy, the first
    column of a table) beats each reference peer's, and which."""
    main = {}
    for dataset, key, label, _ in columns:
        main.setdefault(dataset, (key, label))
    lines = []
    for method in ("evonas-genetic", "evonas-random"):
        if not any(method in found[d] for d in main):
            continue
        parts = []
        for peer in REFERENCE_PEERS:
            both = []
            better = []
            for dataset, (key, label) in main.items():
                mine, theirs = median(method, dataset, key), median(peer, dataset, key)
                if mine is None or theirs is None:
                    continue
                both.append(dataset)
                if _error(label, mine) < _error(label, theirs):
                    better.append(dataset)
            parts.append(
                f"than {peer} on {len(better)} of {len(both)}" + (f" ({', '.join(better)})" if better else "")
            )
        lines.append(f"- {method}, by the main metric (RMSE or accuracy), better " + "; ".join(parts) + ".")
    return lines


def sources_text(found: dict[str, dict[str, list[dict[str, Any]]]]) -> str:
    """``dir: method, method (tables); ...``: which result directory each method's rows came from
    (the tables named only where a directory gave a method on some of them)."""
    tables = list(found)
    where: dict[str, dict[str, list[str]]] = {}
    for dataset, by_method in found.items():
        for method, rs in by_method.items():
            for source in sorted({str(r.get("source")) for r in rs}):
                where.setdefault(source, {}).setdefault(method, []).append(dataset)
    parts = []
    for source, methods in where.items():
        named = [m if len(ds) == len(tables) else f"{m} ({', '.join(ds)})" for m, ds in methods.items()]
        parts.append(f"{source}: {', '.join(named)}")
    return "; ".join(parts) + "."


def write_suite_report(
    results: Path, report_dir: Path, command: str, overlays: Sequence[Path] = ()
) -> Path | None:
    """One markdown table over the suite: rows methods, columns tables, cells median test metric.

    Then the same cells as ratios against realmlp-td and catboost-default (of RMSE, log loss
    and error rate 1 - accuracy: below 1 is better than the peer), and the median wall times.
    """
    columns = suite_columns(results, overlays)
    if not columns:
        return None
    found = {dataset: load_results(results, dataset, overlays) for dataset in SUITE}
    methods = [m for m in METHODS if any(m in found[d] for d, *_ in columns)]

    def median(method: str, dataset: str, key: str) -> float | None:
        values = [r[key] for r in found[dataset].get(method, []) if r.get(key) is not None]
        return statistics.median(values) if values else None

    def seeds(method: str, dataset: str) -> int:
        return len(found[dataset].get(method, []))

    header = "| method | " + " | ".join(label for _, _, label, _ in columns) + " |"
    rule = "|---|" + "---|" * len(columns)
    lines = [
        f"Command: `{command}`",
        "",
        "Median test metric over the seeds (the number of seeds in brackets where it is not 3;"
        " deterministic methods run once). RMSE and log loss: lower is better; accuracy: higher.",
        "",
        header,
        rule,
    ]
    for method in methods:
        cells = []
        for dataset, key, _, fmt in columns:
            value, n = median(method, dataset, key), seeds(method, dataset)
            note = f" ({n})" if n not in (0, 3) and method not in REFERENCES else ""
            if any(searched_images(r) for r in found[dataset].get(method, [])):
                note += " (images)"
            cells.append("-" if value is None else format(value, fmt) + note)
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += ["", *wins_lines(found, columns, median)]
    if overlays:
        lines += ["", "Where each row's results come from (result directories): " + sources_text(found)]
    lines += [
        "",
        "Against " + " / ".join(f"`{m}`" for m in REFERENCE_PEERS) + ": the method's median RMSE, log loss"
        " or error rate (1 - accuracy) divided by the peer's; below 1 is better than the peer.",
        "",
        header,
        rule,
    ]
    for method in methods:
        cells = []
        for dataset, key, label, _ in columns:
            value = median(method, dataset, key)
            ratios = []
            for peer in REFERENCE_PEERS:
                base = median(peer, dataset, key)
                if value is None or base is None or _error(label, base) <= 0:
                    ratios.append("-")
                else:
                    ratios.append(f"{_error(label, value) / _error(label, base):.2f}")
            cells.append(" / ".join(ratios))
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    tables = [d for d in SUITE if any(d == c[0] for c in columns)]
    lines += [
        "",
        "Median wall time in seconds (fit, selection and the two predictions; evonas: the whole search).",
        "",
        "| method | " + " | ".join(tables) + " |",
        "|---|" + "---|" * len(tables),
    ]
    for method in methods:
        cells = [
            "-" if median(method, d, "seconds") is None else format(median(method, d, "seconds"), ",.0f")
            for d in tables
        ]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    report_dir.mkdir(parents=True, exist_ok=True)
    table = report_dir / "suite.md"
    table.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {table}")
    return table
