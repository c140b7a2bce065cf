"""Lineage: who descends from whom, by which operator, with which architectural change.

Every line of ``individuals.jsonl`` names its parents (``[]`` for ``init``, the
original for an ``elite``, two for a crossover child), so the run's genealogy is
a directed graph parent -> child. :class:`Lineage` reads it and answers in
architecture terms: each child is compared with each parent by
:func:`genome.diff` ("level 2 unit 1: 64 -> 128 neurons").

Example:
    >>> lin = Lineage.load("runs/my-ames")           # doctest: +SKIP
    >>> best = lin.best_ids(1)[0]                     # doctest: +SKIP
    >>> lin.ancestry(best)                            # doctest: +SKIP  (a pandas DataFrame)
    >>> print(lin.tree_text([best]))                  # doctest: +SKIP
    >>> lin.graph()                                   # doctest: +SKIP  (a networkx DiGraph)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd

from evonas.evolve.api import RunResult
from evonas.evolve.draw import OPERATOR_COLORS, draw_lineage
from evonas.evolve.formats import format_objective
from evonas.evolve.rundir import RunDirError
from evonas.genome import Architecture, SearchSpace, decode, diff

MAX_CHANGES = 6  # changes listed per parent in the text tree; the DataFrame has them all


def _short(changes: list[str], limit: int = MAX_CHANGES) -> str:
    if not changes:
        return "no architectural change"
    more = f"; ... +{len(changes) - limit} more" if len(changes) > limit else ""
    return "; ".join(changes[:limit]) + more


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


class Lineage:
    """The genealogy of one run: individuals by id, their parents and architectures.

    Args:
        individuals: rows of ``individuals.jsonl``.
        space: the run's search space (decodes the genes).
        task: ``"regression"`` (objective is val RMSE) or a classification task (val loss).
    """

    def __init__(self, individuals: Iterable[dict[str, Any]], space: SearchSpace, task: str = "regression"):
        self.rows: dict[int, dict[str, Any]] = {int(r["id"]): r for r in individuals}
        self.space = space
        self.task = task
        self.source = "individuals.jsonl"
        self._arch: dict[int, Architecture] = {}
        self._owner: dict[str, int] = {}  # key -> the individual whose evaluation it is
        for i in sorted(self.rows):
            if not self.rows[i].get("cached"):
                self._owner.setdefault(self.rows[i]["key"], i)

    @classmethod
    def load(cls, run: RunResult | str | os.PathLike[str]) -> Lineage:
        """The lineage of a run directory (or of an open :class:`RunResult`)."""
        result = run if isinstance(run, RunResult) else RunResult(run)
        rows = result.run.individuals()
        if not rows:
            raise RunDirError(f"{result.path} has no individuals yet: no generation has finished")
        lin = cls(rows, result.config.space, result.task)
        lin.source = str(result.run.individuals_path)
        return lin

    # -- look-ups ----------------------------------------------------------
    def check(self, ids: Iterable[int]) -> list[int]:
        """``ids`` as a list; a :class:`RunDirError` naming the first id the run does not have."""
        ids = [int(i) for i in ids]
        for i in (i for i in ids if i not in self.rows):
            span = f"ids run from {min(self.rows)} to {max(self.rows)}"
            raise RunDirError(f"no individual with id {i} in {self.source} ({span})")
        return ids

    def architecture(self, id: int) -> Architecture:
        """The decoded architecture of individual ``id`` (decoded once)."""
        if id not in self._arch:
            self._arch[id] = decode(self.space, self.rows[id]["genes"])
        return self._arch[id]

    def best_ids(self, k: int = 1) -> list[int]:
        """The ``k`` best distinct architectures, best first (as ``RunResult.best``: the first holder)."""
        ok = [r for r in self.rows.values() if r.get("status") == "ok" and r.get("objective") is not None]
        first: dict[str, int] = {}
        for r in sorted(ok, key=lambda r: (r["objective"], r["id"])):
            first.setdefault(r["key"], int(r["id"]))
        return list(first.values())[:k]

    def parents(self, id: int) -> list[int]:
        """Parent ids as recorded (first parent first)."""
        return [int(p) for p in self.rows[id].get("parents") or []]

    def same_as(self, id: int) -> int | None:
        """For a cached individual, the id whose evaluation it shares (None when not cached)."""
        row = self.rows[id]
        if not row.get("cached"):
            return None
        owner = self._owner.get(row["key"])
        return owner if owner != id else None

    def changes(self, id: int) -> dict[int, list[str]]:
        """``{parent id: Architecture.diff(parent, child)}`` for each recorded parent."""
        child = self.architecture(id)
        return {p: diff(self.architecture(p), child) for p in self.parents(id) if p in self.rows}

    def ancestors(self, id: int, depth: int | None = None) -> dict[int, int]:
        """``{ancestor id: steps from id}`` (``id`` itself at 0), up to ``depth`` steps back."""
        found = {id: 0}
        frontier = [id]
        while frontier:
            nxt = []
            for i in frontier:
                if depth is not None and found[i] >= depth:
                    continue
                for p in self.parents(i):
                    if p in self.rows and p not in found:
                        found[p] = found[i] + 1
                        nxt.append(p)
            frontier = nxt
        return found

    # -- tables and graphs ----------------------------------------------------
    def ancestry(self, id: int, depth: int | None = None) -> pd.DataFrame:
        """One row per ancestor of ``id`` (itself included), newest first.

        Columns: id, generation, operator, parents, steps (from ``id``), objective,
        status, cached, same_as (the individual whose evaluation a cached one
        shares), params, changes (``{parent id: [change, ...]}``), architecture, key.
        """
        (id,) = self.check([id])
        rows = []
        for i, steps in self.ancestors(id, depth).items():
            r = {k: self.rows[i].get(k) for k in ("generation", "operator", "objective", "status", "params")}
            r.update(id=i, parents=self.parents(i), steps=steps, cached=bool(self.rows[i].get("cached")))
            r.update(same_as=self.same_as(i), changes=self.changes(i), key=self.rows[i]["key"])
            rows.append({**r, "architecture": self.architecture(i).describe()})
        columns = "id generation operator parents steps objective status cached same_as params changes"
        table = pd.DataFrame(rows, columns=[*columns.split(), "architecture", "key"])
        return table.sort_values(["generation", "id"], ascending=[False, True], ignore_index=True)

    def edges(self) -> list[tuple[int, int, str]]:
        """The whole genealogy as ``(parent, child, operator)`` triples, by child id."""
        return [(p, i, self.rows[i]["operator"]) for i in sorted(self.rows) for p in self.parents(i)]

    def graph(self) -> nx.DiGraph:
        """The whole genealogy: nodes are ids (with their row's fields), edges parent -> child.

        Edge attributes: ``operator`` and ``role`` (``first`` or ``second`` parent).
        """
        g = nx.DiGraph()
        for i, r in sorted(self.rows.items()):
            g.add_node(i, **{k: v for k, v in r.items() if k not in ("id", "genes")})
        for i in sorted(self.rows):
            for n, p in enumerate(self.parents(i)):
                g.add_edge(p, i, operator=self.rows[i]["operator"], role="first" if n == 0 else "second")
        return g

    # -- text ------------------------------------------------------------------
    def label(self, id: int) -> str:
        """``#23  gen 3  crossover+mutation  val loss 0.1234`` plus cached/elite notes."""
        r = self.rows[id]
        text = f"#{id}  gen {r['generation']}  {r['operator']}  "
        text += format_objective(r.get("objective"), self.task)
        same = self.same_as(id)
        if r["operator"] == "elite" and self.parents(id):
            text += f"  [elite: copy of #{self.parents(id)[0]}, cached]"
        elif same is not None:
            text += f"  [cached: same architecture as #{same}]"
        elif r.get("status") == "failed":
            text += f"  [failed: {r.get('error')}]"
        return text

    def details(self, id: int, root: bool = False) -> list[str]:
        """The lines under a node of the text tree: its changes, or its architecture."""
        r = self.rows[id]
        out = [f"architecture: {self.architecture(id).describe()}"] if root or not self.parents(id) else []
        if r["operator"] == "elite":
            return out
        changes = self.changes(id)
        for p, ch in changes.items():
            out.append(f"{'from #' + str(p) if len(changes) > 1 else 'changes'}: {_short(ch)}")
        out.extend(
            f"parent #{p}: not in {Path(self.source).name}" for p in self.parents(id) if p not in changes
        )
        return out

    def tree_text(self, ids: Sequence[int], depth: int | None = None) -> str:
        """The ancestry tree of each id, back to generation 0 (or ``depth`` steps), as text.

        An ancestor reached twice (through both parents of a crossover) is
        expanded once and marked ``(shown above)`` afterwards.
        """
        blocks = []
        for rank, id in enumerate(self.check(ids), start=1):
            r = self.rows[id]
            params = f", {int(r['params']):,} params" if r.get("params") is not None else ""
            head = f"Lineage of #{id} ({format_objective(r.get('objective'), self.task)}{params})"
            if len(ids) > 1:
                head = f"{rank}. {head}"
            lines = [head]
            self._render(id, None, 0, depth, set(), lines)
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    def _render(
        self,
        id: int,
        at: tuple[str, bool] | None,
        steps: int,
        depth: int | None,
        seen: set[int],
        lines: list[str],
    ) -> None:
        """Append the lines of ``id`` and its ancestors; ``at`` is (prefix, last child) except at the root."""
        root = at is None
        prefix, last = at or ("", True)
        head = "" if root else prefix + ("└─ " if last else "├─ ")
        body = "" if root else prefix + ("   " if last else "│  ")
        if id in seen:
            lines.append(head + self.label(id) + "  (shown above)")
            return
        seen.add(id)
        known = [p for p in dict.fromkeys(self.parents(id)) if p in self.rows]
        cut = depth is not None and steps >= depth and bool(known)
        parents = [] if cut else known
        lines.append(head + self.label(id))
        inner = body + ("│  " if parents else "   ")
        for line in self.details(id, root=root):
            lines.append(inner + line)
        if cut:
            lines.append(
                inner + f"... parents {', '.join(f'#{p}' for p in known)} not shown (--depth {depth})"
            )
        for n, p in enumerate(parents):
            self._render(p, (body, n == len(parents) - 1), steps + 1, depth, seen, lines)

    # -- DOT and picture ----------------------------------------------------------
    def subgraph(
        self, ids: Sequence[int], depth: int | None = None
    ) -> tuple[list[int], list[tuple[int, int, str]]]:
        """Nodes (sorted) and edges ``(parent, child, operator)`` of the ancestries of ``ids``."""
        nodes: set[int] = set()
        for i in self.check(ids):
            nodes.update(self.ancestors(i, depth))
        edges = [(p, c, op) for p, c, op in dict.fromkeys(self.edges()) if p in nodes and c in nodes]
        return sorted(nodes), edges

    def to_dot(self, ids: Sequence[int], depth: int | None = None) -> str:
        """Graphviz DOT of the ancestries: generations left to right, edges labelled by operator."""
        nodes, edges = self.subgraph(ids, depth)
        chosen = set(ids)
        lines = [
            "digraph lineage {",
            "  rankdir=LR;",
            '  node [shape=box, style="rounded,filled", fillcolor="white", fontname="Helvetica",',
            "        fontsize=10];",
            '  edge [fontname="Helvetica", fontsize=9];',
        ]
        for gen in sorted({self.rows[i]["generation"] for i in nodes}):
            same = " ".join(f"n{i};" for i in nodes if self.rows[i]["generation"] == gen)
            lines.append(f"  subgraph gen_{gen} {{ rank=same; {same} }}")
        for i in nodes:
            r = self.rows[i]
            text = f"#{i}  gen {r['generation']}\n{format_objective(r.get('objective'), self.task)}\n"
            label = _dot_text(text + self.architecture(i).describe()).replace("\n", "\\n")
            style = ', fillcolor="#fff2b3", penwidth=2' if i in chosen else ""
            lines.append(f'  n{i} [label="{label}"{style}];')
        for p, c, op in edges:
            color = OPERATOR_COLORS.get(op, "#333333")
            dashed = ", style=dashed" if op == "elite" else ""
            lines.append(f'  n{p} -> n{c} [label="{_dot_text(op)}", color="{color}"{dashed}];')
        lines.append("}")
        return "\n".join(lines) + "\n"

    def draw(
        self,
        ids: Sequence[int],
        path: str | os.PathLike[str],
        depth: int | None = None,
        title: str | None = None,
    ) -> Path:
        """Save a picture of the ancestry tree and return its path (see :func:`evolve.draw.draw_lineage`)."""
        return draw_lineage(self, ids, path, depth, title)

    def save(
        self,
        ids: Sequence[int],
        depth: int | None = None,
        dot: str | os.PathLike[str] | None = None,
        png: str | os.PathLike[str] | None = None,
    ) -> list[Path]:
        """Write the DOT text and/or the picture; an unwritable path is a :class:`RunDirError`.

        Both destinations are checked before either is written.
        """
        targets = [(flag, Path(p)) for flag, p in (("--dot", dot), ("--png", png)) if p is not None]
        for flag, p in targets:
            parent = p.parent if str(p.parent) else Path(".")
            if p.is_dir() or not parent.is_dir() or not os.access(parent, os.W_OK):
                raise RunDirError(f"cannot write {flag} {p}: not a writable file path")
            if p.exists() and not os.access(p, os.W_OK):
                raise RunDirError(f"cannot write {flag} {p}: permission denied")
        written = []
        for flag, p in targets:
            try:
                if flag == "--dot":
                    p.write_text(self.to_dot(ids, depth), encoding="utf-8")
                else:
                    self.draw(ids, p, depth)
            except OSError as exc:
                raise RunDirError(f"cannot write {flag} {p}: {exc.strerror or exc}") from None
            written.append(p)
        return written


def ancestry(run: RunResult | str | os.PathLike[str], id: int, depth: int | None = None) -> pd.DataFrame:
    """The ancestry of individual ``id`` of a run as a DataFrame (see :meth:`Lineage.ancestry`)."""
    return Lineage.load(run).ancestry(id, depth)


def genealogy(run: RunResult | str | os.PathLike[str]) -> nx.DiGraph:
    """The whole genealogy of a run as a networkx DiGraph (see :meth:`Lineage.graph`)."""
    return Lineage.load(run).graph()


def genealogy_edges(run: RunResult | str | os.PathLike[str]) -> list[tuple[int, int, str]]:
    """The whole genealogy as plain ``(parent, child, operator)`` triples."""
    return Lineage.load(run).edges()
