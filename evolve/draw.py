"""Draw a decoded architecture as a lattice (matplotlib, no Graphviz needed).

Levels run left to right, units of a level top to bottom; edge colours tell
their kind: vertical (grey), skip (blue, arched), lateral (orange), from the
raw input (green, dashed), into the output head (black).
"""

from __future__ import annotations

from pathlib import Path

from genome import INPUT, OUTPUT, Architecture

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

    levels = max((u.level for u in arch.units), default=0) + 1
    rows = max((u.index for u in arch.units), default=0) + 1
    mid = (rows - 1) / 2
    pos: dict[str, tuple[float, float]] = {INPUT: (0.0, mid), OUTPUT: (levels + 1.0, mid)}
    for u in arch.units:
        pos[u.name] = (u.level + 1.0, float(u.index))

    fig, ax = plt.subplots(figsize=(2.2 * (levels + 2), 1.3 * rows + 1.6))
    for source, target, kind in arch.edges():
        (x0, y0), (x1, y1) = pos[source], pos[target]
        rad = {"skip": 0.3, "lateral": 0.5, "input": 0.15}.get(kind, 0.0)
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
    for u in arch.units:
        x, y = pos[u.name]
        extra = ("+bn" if u.batchnorm else "") + (f"\nd{u.dropout:g}" if u.dropout else "")
        ax.text(
            x,
            y,
            f"{u.name}\n{u.neurons} {u.activation}{extra}",
            ha="center",
            va="center",
            fontsize=8,
            bbox={"boxstyle": "round", "fc": "#eef3fb", "ec": "#4a6fa5"},
            zorder=2,
        )
    for name in (INPUT, OUTPUT):
        x, y = pos[name]
        ax.text(
            x,
            y,
            name,
            ha="center",
            va="center",
            fontsize=9,
            fontweight="bold",
            bbox={"boxstyle": "round", "fc": "#f4f4f4", "ec": "#333333"},
            zorder=2,
        )
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
