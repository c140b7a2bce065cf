"""What a search minimises: the validation objective, and optionally the size or the speed of a network.

``search.objectives`` names them, the first always ``val``:

- ``val``: the validation objective of the task (val RMSE, or val cross-entropy);
- ``params``: the network's parameter count (as ``max_params`` counts it);
- ``latency``: its inference time in milliseconds per 1,000 rows, timed in the
  worker right after training (:func:`fitness.latency.measure_latency`, on the worker's
  ``training.tf_threads`` threads, one by default), with its spread.

With two objectives a search keeps a Pareto front: the individuals that no other
evaluated individual dominates (as good on both, better on one). It is written
to ``front.csv`` after every generation, one row per distinct architecture.
The parameter count is a function of the genome, so a ``val,params`` search is
reproducible by seed; latencies are timings, which vary run to run (a resumed
run reuses those in its journal).

Example:
    >>> parse_objectives("val,params")
    ('val', 'params')
    >>> pareto_mask([(1.0, 5.0), (2.0, 1.0), (2.0, 6.0), (1.0, 5.0)])
    [True, True, False, True]
    >>> hypervolume_2d([(1.0, 3.0), (2.0, 1.0)], reference=(4.0, 4.0))
    7.0
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from evonas.genome import SearchSpace, decode

OBJECTIVES = ("val", "params", "latency")
SECOND = ("params", "latency")  # what the second objective may be
FRONT = "front.csv"
# the record field of each objective (individuals.jsonl and evaluations.jsonl alike)
FIELDS = {"val": "objective", "params": "params", "latency": "latency_ms"}


class ObjectivesError(ValueError):
    """``search.objectives`` is not ``val``, ``val,params`` or ``val,latency`` (one line)."""


def parse_objectives(value: Any) -> tuple[str, ...]:
    """The objectives of ``"val,params"``, ``["val", "latency"]`` or ``"val"``, validated.

    Raises:
        ObjectivesError: naming ``search.objectives`` and what it may be.
    """
    if isinstance(value, str):
        names = tuple(v.strip() for v in value.split(","))
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        names = tuple(v.strip() for v in value)
    else:
        names = ()
    ok = names in (("val",), *(("val", s) for s in SECOND))
    if not ok:
        raise ObjectivesError(f"search.objectives must be val, val,params or val,latency, got {value!r}")
    return names


def value_of(record: Mapping[str, Any], name: str) -> float:
    """One objective of an evaluation or individual record; ``inf`` when it failed or lacks the figure."""
    if record.get("status") != "ok":
        return math.inf
    value = record.get(FIELDS[name])
    return math.inf if value is None else float(value)


def values_of(record: Mapping[str, Any], names: Sequence[str]) -> tuple[float, ...]:
    return tuple(value_of(record, n) for n in names)


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` is no worse than ``b`` on every objective and better on one (all minimised)."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


def pareto_mask(points: Sequence[Sequence[float]]) -> list[bool]:
    """For each point: is it dominated by none of the others? (Equal points are all kept.)

    Points with an infinite value are never on the front. Sorting by the first
    objective, then the second, makes it ``O(n log n)`` for two objectives.
    """
    order = sorted(range(len(points)), key=lambda i: tuple(points[i]))
    mask = [False] * len(points)
    best_second = math.inf
    last: tuple[float, ...] | None = None
    mask_last = False
    for i in order:
        p = tuple(points[i])
        if any(math.isinf(v) for v in p):
            continue
        if len(p) != 2:
            mask[i] = not any(dominates(q, p) for q in points)
            continue
        if last is not None and p == last and mask_last:
            mask[i] = True
        elif p[1] < best_second:
            mask[i] = True
        best_second = min(best_second, p[1])
        last, mask_last = p, mask[i]
    return mask


def front_rows(rows: Iterable[Mapping[str, Any]], names: Sequence[str]) -> list[dict[str, Any]]:
    """The Pareto front of the successful individuals, one per distinct key (its first individual).

    Sorted by the objectives (the first, then the second), then the id. Each row: ``id``, one value per
    objective (named after it), and the record it came from under ``"record"``.
    """
    first: dict[str, Mapping[str, Any]] = {}
    for r in rows:
        if r.get("status") == "ok" and r["key"] not in first:
            first[r["key"]] = r
    kept = list(first.values())
    points = [values_of(r, names) for r in kept]
    front = [(p, r) for p, r, on in zip(points, kept, pareto_mask(points), strict=True) if on]
    front.sort(key=lambda pr: (pr[0], pr[1]["id"]))
    return [{"id": r["id"], **dict(zip(names, p, strict=True)), "record": r} for p, r in front]


def front_csv(front: Sequence[Mapping[str, Any]], names: Sequence[str], space: SearchSpace) -> str:
    """The text of ``front.csv``: ``id``, one column per objective, ``architecture`` (one line).

    A latency front also has ``latency_spread`` (the interquartile range of the
    timings, in ms). Values are written in full precision; the parameter count as a whole number.
    """
    columns = ["id", *names, *(["latency_spread"] if "latency" in names else []), "architecture"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in front:
        record = row["record"]
        values = [int(row[n]) if n == "params" else repr(float(row[n])) for n in names]
        if "latency" in names:
            spread = record.get("latency_spread_ms")
            values.append("" if spread is None else repr(float(spread)))
        writer.writerow([row["id"], *values, decode(space, record["genes"]).describe()])
    return out.getvalue()


def read_front(run_dir: str | os.PathLike[str]) -> pd.DataFrame | None:
    """A run's ``front.csv`` as a DataFrame (None when the run has a single objective)."""
    path = Path(run_dir) / FRONT
    return pd.read_csv(path) if path.is_file() else None


def hypervolume_2d(points: Iterable[Sequence[float]], reference: Sequence[float]) -> float:
    """The area dominated by ``points`` and bounded by ``reference`` (both objectives minimised).

    Points not strictly better than the reference on both objectives add nothing.
    """
    ref_x, ref_y = float(reference[0]), float(reference[1])
    inside = sorted({(float(x), float(y)) for x, y in points if x < ref_x and y < ref_y})
    area, ceiling = 0.0, ref_y
    for x, y in inside:
        if y < ceiling:
            area += (ref_x - x) * (ceiling - y)
            ceiling = y
    return area


__all__ = [
    "FIELDS",
    "FRONT",
    "OBJECTIVES",
    "ObjectivesError",
    "dominates",
    "front_csv",
    "front_rows",
    "hypervolume_2d",
    "pareto_mask",
    "parse_objectives",
    "read_front",
    "value_of",
    "values_of",
]
