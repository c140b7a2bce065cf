"""The time budget of a search (``search.time_budget``, ``--time-budget``): whether the next generation fits.

A search under a budget checks, before breeding each generation after the first
(generation 0 always runs: a run needs one finished generation to report),
whether the next generation is expected to end within what is left of the
budget; if not, it stops at that generation boundary, after the checkpoint,
and finishes as a completed run does (refit, test score, summary).

The expected length of the next generation (:func:`next_generation_seconds`)
is the larger of two measured figures:

* the wall time of the last generation this process ran (breeding, training,
  bookkeeping; absent for the first generation after a resume);
* the makespan of the population just evaluated trained again from scratch:
  each of its individuals other than the elites (their children take their
  places) with the seconds its training took (cached ones included, with the
  seconds of the training they reused), handed longest first to the workers.
  This covers a generation made fast by cache hits, followed by one that is not.

The budget covers the whole command: after the search come the refits (with
``search.refit``: the best and each other ensemble member retrained on the train
and validation rows, one after the other in the search's process) and the test
score. Their seconds (:func:`end_seconds`) are reserved from the start of the
next generation's check, each refit estimated from the training it repeats: its
seconds, scaled to the refit's epochs and rows (:func:`refit_seconds`; a row sample's seconds
scaled up to all rows first, :func:`at_full_rows`); cross-validated,
a delivered network's fold models that the race did not train are trained then
(:func:`folds_seconds`); then the test scores of the delivered models and the workers'
shutdown (:func:`scoring_seconds`). A search stops when the next generation *and* that end
would not fit.

The cost model of :func:`fitness.estimated_seconds` is not used for the
seconds: it assumes ``max_epochs`` for every candidate (early stopping makes
most stop sooner) and its coefficients were fitted on one 2-core machine, so it
orders candidates well but is not a clock on another machine or on a GPU.
What is not foreseen (a child much larger than its parents, a slower worker)
can make a generation overrun; it overruns by about one candidate's training
time, since the stop is at a generation boundary (``docs/performance.md``).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping
from typing import Any

from evonas.evolve.config import DEFAULT_GENERATIONS
from evonas.evolve.records import Evaluation


def makespan(seconds: Iterable[float], workers: int) -> float:
    """The wall time of ``seconds`` of work handed longest first to ``workers`` that take the next when free.

    Example:
        >>> makespan([3, 2, 2, 1], 2)
        4.0
    """
    free = [0.0] * max(1, workers)
    for s in sorted((float(x) for x in seconds), reverse=True):
        heapq.heapreplace(free, free[0] + s)
    return max(free)


def next_generation_seconds(
    population: Iterable[Any],
    cache: Mapping[str, Mapping[str, Any]],
    workers: int,
    last_wall: float | None,
) -> float:
    """How long the next generation is expected to take (see the module docstring).

    Args:
        population: the individuals just evaluated (``key`` and ``operator``).
        cache: the evaluation records by key (``seconds``).
        workers: how many trainings run at once.
        last_wall: the wall time of the last generation this process ran, or None.
    """
    trained = [
        float(cache[ind.key].get("seconds") or 0.0)
        for ind in population
        if ind.operator != "elite" and ind.key in cache
    ]
    return max(makespan(trained, workers), last_wall or 0.0)


def mean_best_epoch(records: Iterable[Mapping[str, Any]]) -> int | None:
    """The epochs a refit of one network trains: the mean, rounded, of the epochs early stopping chose
    in its successful trainings (each one's ``best_epoch``, or its ``epochs`` when it has none); None
    without a successful training."""
    evaluations = [Evaluation.from_dict(r) for r in records]
    chosen = [e.chosen_epochs for e in evaluations if e.ok]
    return max(1, round(sum(chosen) / len(chosen))) if chosen else None


def refit_seconds(records: Iterable[Mapping[str, Any]], rows_factor: float) -> float:
    """The expected seconds of a refit of one network from its successful trainings (``records``, each
    with ``seconds``, ``epochs`` and ``best_epoch``): the mean seconds per epoch, times the refit's
    epochs (the mean best epoch, :meth:`evolve.search.Search.refit_epochs`), times ``rows_factor``
    (train+val rows over the rows a training fitted). 0 without a successful training.

    Example:
        >>> refit_seconds([{"status": "ok", "seconds": 10.0, "epochs": 10, "best_epoch": 6}], 1.5)
        9.0
    """
    ok = [r for r in records if r.get("status", "ok") == "ok" and int(r.get("epochs") or 0) > 0]
    if not ok:
        return 0.0
    per_epoch = sum(float(r.get("seconds") or 0.0) / int(r["epochs"]) for r in ok) / len(ok)
    return per_epoch * (mean_best_epoch(ok) or 1) * rows_factor


def at_full_rows(record: Mapping[str, Any], fitted_rows: int) -> Mapping[str, Any]:
    """A training's record as if it had fitted ``fitted_rows`` rows: a row sample's (multi-fidelity's
    short training, ``row_cap``) with its seconds scaled up by the rows, and its best epoch scaled down
    (as many steps on more rows: fewer epochs, at least 1); any other record as it is.

    Example:
        >>> full = at_full_rows({"seconds": 2.0, "epochs": 10, "best_epoch": 8, "row_cap": 5000}, 20000)
        >>> full["seconds"], full["best_epoch"]
        (8.0, 2)
    """
    cap = record.get("row_cap")
    if not cap:
        return record
    factor = fitted_rows / int(cap)
    best = record.get("best_epoch") or record.get("epochs")
    scaled = {**record, "seconds": float(record.get("seconds") or 0.0) * factor}
    if best:
        scaled["best_epoch"] = max(1, round(int(best) / factor))
    return scaled


def folds_seconds(records: Iterable[Mapping[str, Any]], missing: int) -> float:
    """The expected seconds of training ``missing`` fold models of one network after the search: the
    mean seconds of its successful trainings (``records``, one per fold it trained), ``missing`` times.

    Example:
        >>> folds_seconds([{"seconds": 4.0}, {"seconds": 6.0}], 3)
        15.0
    """
    ok = [float(r.get("seconds") or 0.0) for r in records if r.get("status", "ok") == "ok"]
    return sum(ok) / len(ok) * missing if ok and missing > 0 else 0.0


SCORE_SECONDS = 0.5  # loading one delivered model and predicting the test rows (0.3 s on ames, 2 cores)
CLOSE_SECONDS = 2.0  # the workers' shutdown and the outcome's lines after the test score


def scoring_seconds(models: int) -> float:
    """The seconds after the refits: ``models`` delivered models scored on the test rows, then the
    engine closed. Constants, measured on the suite (``docs/performance.md``): the budget runs ended
    3 to 8 s past the search's stop plus its reserved refits before this was reserved.

    Example:
        >>> scoring_seconds(6)
        5.0
    """
    return CLOSE_SECONDS + SCORE_SECONDS * max(0, models)


def end_seconds(refits: Iterable[float], scoring: float = 0.0) -> float:
    """The seconds the command needs after its last generation: the refits, one after the other,
    and the test scoring."""
    return float(sum(refits)) + scoring


def format_duration(seconds: float) -> str:
    """``"45 s"``, ``"12 min 5 s"``, ``"1 h 30 min"``: a budget or an estimate in one short phrase."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def budget_stop_line(stop: Mapping[str, Any], run_path: Any, generations: float) -> str:
    """The one line that says the budget stopped a search, and how to continue it (``generations``:
    the search's last generation, ``inf`` when only the budget bounds it)."""
    left = f"{format_duration(stop['left'])} were left" if stop["left"] > 0 else "the budget was spent"
    bounded = not math.isinf(generations)
    after = f"{stop['generation']} of {int(generations)}" if bounded else f"{stop['generation']}"
    without = f"search.generations = {int(generations)}" if bounded else f"generation {DEFAULT_GENERATIONS}"
    return (
        f"evonas: the time budget of {format_duration(stop['budget'])} stopped the search after generation "
        f"{after}, {format_duration(stop['elapsed'])} in (the next generation "
        f"was expected to take {format_duration(stop['expected'])}"
        + (f" and the end after it {format_duration(stop['end'])}" if stop.get("end") else "")
        + f", {left}); "
        f"continue with: evonas resume {run_path} --time-budget DURATION "
        f"(without --time-budget, up to {without})"
    )


__all__ = [
    "at_full_rows",
    "budget_stop_line",
    "end_seconds",
    "format_duration",
    "makespan",
    "mean_best_epoch",
    "next_generation_seconds",
    "folds_seconds",
    "scoring_seconds",
    "refit_seconds",
]
