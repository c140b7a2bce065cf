"""Per-generation statistics, computed once from the individuals' records.

The search prints one :class:`GenerationSummary` line per generation;
``RunResult.by_generation`` (``evonas show``, the report) tabulates the same
:func:`generation_stats` for every generation of a run directory.

:func:`failure_reasons` groups why candidates failed (what ``show``, a run
with no success and ``predict`` report).

Best and median are taken over the candidates that trained successfully (NaN
when none did); ``trained`` counts individuals whose evaluation is their own,
``cached`` those that reused another's, ``unique`` the distinct architecture keys.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from evonas.evolve.formats import format_number

STAT_COLUMNS = ("best", "median", "trained", "cached", "failed", "unique")


def generation_stats(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Best and median objective, trained / cached / failed counts and distinct keys of some individuals."""
    rows = list(rows)
    ok = [float(r["objective"]) for r in rows if r.get("status") == "ok" and r.get("objective") is not None]
    return {
        "best": min(ok) if ok else math.nan,
        "median": statistics.median(ok) if ok else math.nan,
        "trained": sum(not r.get("cached") for r in rows),
        "cached": sum(bool(r.get("cached")) for r in rows),
        "failed": sum(r.get("status") == "failed" for r in rows),
        "unique": len({r["key"] for r in rows}),
    }


def by_generation(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """:func:`generation_stats` of each generation of ``individuals.jsonl`` rows, indexed by generation."""
    groups: dict[int, list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault(int(r["generation"]), []).append(r)
    if not groups:
        return pd.DataFrame()
    table = pd.DataFrame([generation_stats(groups[g]) for g in sorted(groups)], index=sorted(groups))
    table.index.name = "generation"
    return table[list(STAT_COLUMNS)]


@dataclass
class GenerationSummary:
    """One line of the logbook: what a generation achieved."""

    generation: int
    best: float
    median: float
    best_so_far: float
    trained: int
    cached: int
    failed: int
    unique_keys: int
    seconds: float

    @classmethod
    def of(
        cls, generation: int, rows: Iterable[Mapping[str, Any]], best_so_far: float, seconds: float
    ) -> GenerationSummary:
        """The summary of one generation's individuals (``Individual.to_record()`` rows)."""
        s = generation_stats(rows)
        return cls(
            generation=generation,
            best=s["best"],
            median=s["median"],
            best_so_far=best_so_far,
            trained=s["trained"],
            cached=s["cached"],
            failed=s["failed"],
            unique_keys=s["unique"],
            seconds=seconds,
        )

    def line(self, label: str) -> str:
        def f(x: float) -> str:
            return format_number(x, missing="failed")

        return (
            f"gen {self.generation:>3} | best {f(self.best)} | median {f(self.median)} | "
            f"best so far {f(self.best_so_far)} {label} | trained {self.trained} cached {self.cached} "
            f"failed {self.failed} | unique {self.unique_keys} | {self.seconds:.1f}s"
        )


_NUMBER = re.compile(r"\d+(?:[,_.]\d+)*(?:e[-+]?\d+)?")


def failure_reasons(rows: Iterable[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """The reasons candidates failed, most frequent first, each with how many candidates it stopped.

    ``rows`` are records with ``status`` and ``error`` (``individuals.jsonl`` or
    ``evaluations.jsonl``). A candidate is one architecture: rows sharing a key
    count once. Messages that differ only in their numbers are one reason
    (``RuntimeError: injected fault: <n> parameters > <n>``); a reason that never
    varies is given verbatim.
    """
    seen: set[Any] = set()
    counts: Counter[str] = Counter()
    texts: dict[str, set[str]] = {}
    for r in rows:
        if r.get("status") != "failed":
            continue
        key = r.get("key")
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        text = str(r.get("error") or "unknown error")
        shape = _NUMBER.sub("<n>", text)
        counts[shape] += 1
        texts.setdefault(shape, set()).add(text)
    verbatim = {shape: next(iter(found)) for shape, found in texts.items() if len(found) == 1}
    return [(verbatim.get(shape, shape), n) for shape, n in counts.most_common()]


def most_common_failure(rows: Iterable[Mapping[str, Any]]) -> tuple[str, int] | None:
    """The most frequent reason candidates failed and how many it stopped (see :func:`failure_reasons`);
    None when none failed."""
    reasons = failure_reasons(rows)
    return reasons[0] if reasons else None


def no_success_reason(rows: Iterable[Mapping[str, Any]]) -> str | None:
    """``"most often: REASON, N of M candidates"`` when rows exist and none succeeded; else None."""
    rows = list(rows)
    if not rows or any(r.get("status") == "ok" for r in rows):
        return None
    common = most_common_failure(rows)
    if common is None:
        return None
    total = len({r.get("key", i) for i, r in enumerate(rows)})
    return f"most often: {common[0]}, {common[1]} of {total} candidate{'s' if total != 1 else ''}"


__all__ = [
    "STAT_COLUMNS",
    "GenerationSummary",
    "by_generation",
    "failure_reasons",
    "generation_stats",
    "most_common_failure",
    "no_success_reason",
]
