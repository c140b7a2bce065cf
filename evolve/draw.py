"""The drawings of evonas (matplotlib, Agg backend: no Graphviz, no display needed).

- :func:`draw_lattice`: a decoded architecture as a lattice. Levels run left to
  right, units of a level top to bottom; edge colours tell their kind: vertical
  (grey), skip (blue, arched), lateral (orange), from the raw input (green,
  dashed), into the output head (black). An image network's conv levels come
  first, from the image to the readout the lattice reads as its input (their
  skips arched in blue too).
- :func:`draw_lineage`: the ancestry tree of some individuals of a run
  (:class:`evolve.lineage.Lineage` holds the genealogy; this only draws it).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from evonas.evolve.formats import format_number, objective_label
from evonas.genome import INPUT, OUTPUT, Architecture

OPERATOR_COLORS = {"init": "#bdbdbd", "elite": "#7f7f7f", "crossover": "#1f77b4", "mutation": "#ff7f0e"}
OPERATOR_COLORS["crossover+mutation"] = "#9467bd"
OPERATOR_COLORS["textbook"] = "#2ca02c"
ARROW = dict(
    arrowstyle="-|>", mutation_scale=10, shrinkA=30, shrinkB=30, connectionstyle="arc3,rad=0.05", zorder=1
)


class Genealogy(Protocol):
    """What :func:`draw_lineage` reads (an :class:`evolve.lineage.Lineage`, which imports this module)."""

    rows: dict[int, dict[str, Any]]
    task: str

    def subgraph(
        self, ids: Sequence[int], depth: int | None = None
    ) -> tuple[list[int], list[tuple[int, int, str]]]: ...

    def parents(self, id: int) -> list[int]: ...

COLORS = {
    "vertical": "#7f7f7f",
    "skip": "#1f77b4",
    "lateral": "#ff7f0e",
    "input": "#2ca02c",
    "output": "#111111",
}


def draw_lattice(arch: Architecture, path: str | Path, title: str | None = None) -> Path:
    """Save a PNG (or any matplotlib format, by suffix) of ``arch`` and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch

    shift = len(arch.conv) + 1 if arch.conv else 0  # the image and the conv levels come first
    levels = max((u.level for u in arch.units), default=0) + 1 + shift
    rows = max((u.index for u in arch.units), default=0) + 1
    mid = (rows - 1) / 2
    pos: dict[str, tuple[float, float]] = {INPUT: (float(shift), mid), OUTPUT: (levels + 1.0, mid)}
    for u in arch.units:
        pos[u.name] = (u.level + 1.0 + shift, float(u.index))
    edges = list(arch.edges())
    boxes = {INPUT: INPUT if not arch.conv else f"readout\n{arch.readout}", OUTPUT: OUTPUT}
    if arch.conv:
        pos["image"] = (0.0, mid)
        boxes["image"] = "image"
        for level in arch.conv:
            pos[level.name] = (level.index + 1.0, mid)
            for src in level.inputs:
                source = "image" if isinstance(src, str) else f"C{src}"
                edges.append((source, level.name, "skip" if src in level.skips else "vertical"))
        edges.append((arch.conv[-1].name, INPUT, "vertical"))

    fig, ax = plt.subplots(figsize=(2.2 * (levels + 2), 1.3 * rows + 1.6))
    for source, target, kind in edges:
        (x0, y0), (x1, y1) = pos[source], pos[target]
        rad = {"skip": 0.3, "lateral": 0.5, "input": 0.15}.get(kind, 0.0)
        if kind == "skip" and target.startswith("C"):
            rad = -0.45  # conv skips arch over the row of conv levels
        ax.add_patch(
            FancyArrowPatch(
                (x0, y0),
                (x1, y1),
                connectionstyle=f"arc3,rad={rad}",
                arrowstyle="-|>",
                mutation_scale=12,
                shrinkA=22,
                shrinkB=22,
                color=COLORS[kind],
                linestyle="--" if kind == "input" else "-",
                linewidth=1.4,
                zorder=1,
            )
        )
    def box(name: str, text: str, colours: tuple[str, str], **font: Any) -> None:
        fc, ec = colours
        bbox = {"boxstyle": "round", "fc": fc, "ec": ec}
        ax.text(*pos[name], text, ha="center", va="center", bbox=bbox, zorder=2, **font)

    for u in arch.units:
        extra = ("+bn" if u.batchnorm else "") + (f"\nd{u.dropout:g}" if u.dropout else "")
        box(u.name, f"{u.name}\n{u.neurons} {u.activation}{extra}", ("#eef3fb", "#4a6fa5"), fontsize=8)
    for level in arch.conv:
        extra = ("+bn" if level.batchnorm else "") + (f"\nd{level.dropout:g}" if level.dropout else "")
        pool = f"\n{level.pooling} pool" if level.pooling != "none" else ""
        text = f"{level.name}\n{level.filters} {level.kernel}x{level.kernel}\n{level.activation}{extra}{pool}"
        box(level.name, text, ("#fbeee6", "#a5674a"), fontsize=8)
    for name, label in boxes.items():
        box(name, label, ("#f4f4f4", "#333333"), fontsize=9, fontweight="bold")
    handles = [
        plt.Line2D([], [], color=c, linestyle="--" if k == "input" else "-", label=k)
        for k, c in COLORS.items()
    ]
    ax.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=5, frameon=False, fontsize=8
    )
    ax.set_xlim(-0.6, levels + 1.6)
    ax.set_ylim(rows - 0.4, -0.9)
    ax.axis("off")
    ax.set_title(title or arch.describe(), fontsize=8, wrap=True)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out


def draw_lineage(
    lin: Genealogy,
    ids: Sequence[int],
    path: str | os.PathLike[str],
    depth: int | None = None,
    title: str | None = None,
) -> Path:
    """Save a picture of the ancestry tree (matplotlib; no Graphviz needed) and return its path.

    Generations run left to right; boxes show id, operator and objective;
    arrows go parent -> child, coloured by operator (dashed: elite copy,
    thin: second parent of a crossover); chosen individuals have a red border.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch

    nodes, edges = lin.subgraph(ids, depth)
    chosen = list(dict.fromkeys(ids))
    gens = sorted({lin.rows[i]["generation"] for i in nodes}, reverse=True)
    kids: dict[int, list[int]] = {i: [] for i in nodes}
    for p, c, _ in edges:
        kids[p].append(c)
    y: dict[int, float] = {}
    for gen in gens:  # newest first: parents sit near the mean height of their children
        here = [i for i in nodes if lin.rows[i]["generation"] == gen]

        def order(i: int) -> tuple[float, int]:
            if i in chosen:
                return (chosen.index(i) - 1e6, i)
            ys = [y[c] for c in kids[i] if c in y]
            return (sum(ys) / len(ys) if ys else math.inf, i)

        here.sort(key=order)
        for n, i in enumerate(here):
            y[i] = n - (len(here) - 1) / 2
    x = {g: n for n, g in enumerate(sorted(gens))}
    pos = {i: (float(x[lin.rows[i]["generation"]]), y[i]) for i in nodes}
    tall = max(sum(1 for i in nodes if lin.rows[i]["generation"] == g) for g in gens)
    fig, ax = plt.subplots(figsize=(min(2.0 * len(gens) + 1.0, 30.0), min(0.75 * tall + 1.4, 30.0)))
    for p, c, op in edges:
        second = lin.parents(c).index(p) > 0
        color, dash = OPERATOR_COLORS.get(op, "#333333"), "--" if op == "elite" else "-"
        width, alpha = (0.8, 0.6) if second else (1.6, 0.95)
        ax.add_patch(
            FancyArrowPatch(pos[p], pos[c], **ARROW, color=color, ls=dash, lw=width, alpha=alpha)
        )
    for i in nodes:
        r, top = lin.rows[i], i in chosen
        obj = r.get("objective")
        text = f"#{i} {r['operator'].replace('crossover', 'cx').replace('mutation', 'mut')}\n"
        text += format_number(obj, missing="failed")
        edge = "#d62728" if top else OPERATOR_COLORS.get(r["operator"], "#333333")
        box = {
            "boxstyle": "round",
            "fc": "#fff2b3" if top else "#f4f7fb",
            "ec": edge,
            "lw": 2 if top else 1,
        }
        ax.text(*pos[i], text, ha="center", va="center", fontsize=7, zorder=2, bbox=box)
    handles = [
        plt.Line2D([], [], color=c, ls="--" if k == "elite" else "-", label=k)
        for k, c in OPERATOR_COLORS.items()
        if k != "init" and (k != "textbook" or any(lin.rows[i]["operator"] == k for i in nodes))
    ]
    ax.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4, frameon=False, fontsize=7
    )
    bottom = (tall - 1) / 2 + 0.7
    for g, n in x.items():
        ax.text(n, bottom - 0.15, f"gen {g}", ha="center", va="bottom", fontsize=8)
    ax.axis("off")
    ax.set_xlim(-0.6, len(gens) - 0.4)
    ax.set_ylim(bottom, -bottom)
    name = objective_label(lin.task)
    what = ", ".join(f"#{i}" for i in chosen)
    ax.set_title(title or f"Lineage of {what} ({name}; parent -> child)", fontsize=9)
    out = Path(path)
    fig.savefig(out, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return out
