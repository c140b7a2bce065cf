"""Multi-fidelity inside a generation (``search.multi_fidelity``): successive halving with one rung.

Every new candidate of a generation first trains at most :func:`rung_epochs`
epochs (a fifth of ``training.max_epochs``, rounded up); the learning-rate
schedule still spans the whole cap, and each training is seeded from (run seed,
key), so those epochs are exactly the first ones of its full training. Then:

- a candidate whose short training already ended by early stopping (it stopped
  before the cap, or ``patience`` epochs after its best) is complete: its short
  record is what its full training would have recorded (:func:`complete`);
- of the others, the best :data:`PROMOTE` (a quarter, at least one) by
  validation objective train again from the start with the full cap
  (:func:`promoted`; ties by individual id); the rest keep their short record,
  which says ``epoch_cap``.

The short and the full records both go to the journal (``evaluations.jsonl``),
the full one last, so the journal's last record of a key is its result; the
choice of who continues is a function of the generation's short records alone,
so a run stopped during the second stage and resumed promotes the same
candidates and ends as an uninterrupted one (a test). The cost: every new
candidate's first fifth, plus the promoted quarter's full training, against
every candidate's full training (the measured saving is in docs/benchmarks.md).
Short records compete with full ones for selection and the best: a
candidate that was not promoted was among the worst three quarters after a
fifth of its training, so its (pessimistic) short objective rarely matters.

On a large table the short training is a row sample instead (:func:`rung_rows`): when
the rows a training fits are at least twice :data:`ROW_RUNG_MIN`, every new candidate
first fits a quarter of them (at least :data:`ROW_RUNG_MIN`; :func:`fitness.row_sample`,
the same rows for every network) with the whole epoch cap and early stopping,
validated on all the validation rows, and its record says ``row_cap``. Such a
training is never what the full one would be, so none is complete: the best quarter
of every generation's short trainings train again on all rows. An epoch is then a
quarter of the work or less and a small network stops early on its own, so the screen
costs about a quarter of a full training without judging networks after a few hundred
steps (an epoch cap on top of the sample would). With folds, the sample is drawn from
each fold's train rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from evonas.evolve.records import Evaluation

PROMOTE = 0.25  # the share of still-improving short trainings that continue
RUNG_FRACTION = 0.2  # the short training: this share of the epoch cap
ROW_RUNG_MIN = 5_000  # a row sample has at least this many rows ...
ROW_FRACTION = 0.25  # ... and this share of the rows a training fits


def rung_epochs(max_epochs: int) -> int:
    """Epochs of the short first training: a fifth of the cap, rounded up (at least 1)."""
    return max(1, math.ceil(RUNG_FRACTION * max_epochs))


def rung_rows(fitted_rows: int, minimum: int | None = None) -> int | None:
    """Train rows of the short first training on a table whose trainings fit ``fitted_rows``: a
    quarter of them, at least ``minimum`` (default :data:`ROW_RUNG_MIN`); None (no row sample) when
    that is more than half of them.

    Example:
        >>> rung_rows(43_112), rung_rows(19_680), rung_rows(7_000)
        (10778, 5000, None)
    """
    n = max(ROW_RUNG_MIN if minimum is None else minimum, math.ceil(ROW_FRACTION * fitted_rows))
    return n if 2 * n <= fitted_rows else None


def short_training(setting: bool | str, fitted_rows: int, max_epochs: int) -> tuple[int | None, int | None]:
    """The short first training of a new candidate, as ``(epoch cap, row sample)``; ``(None, None)``:
    none, every candidate trains in full once.

    ``setting`` is ``search.multi_fidelity``: true, a row sample on a table whose trainings fit
    ``fitted_rows`` rows when :func:`rung_rows` gives one, else a fifth of ``max_epochs``;
    ``"auto"``, the row sample where there is one and nothing else; false, nothing.

    Example:
        >>> short_training(True, 1_000, 30), short_training(True, 43_112, 30)
        ((6, None), (None, 10778))
        >>> short_training("auto", 1_000, 30), short_training("auto", 43_112, 30)
        ((None, None), (None, 10778))
    """
    if setting is False:
        return None, None
    rows = rung_rows(fitted_rows)
    if rows is not None or setting == "auto":
        return None, rows
    cap = rung_epochs(max_epochs)
    return (cap if cap < max_epochs else None), None


def is_short(record: dict[str, Any]) -> bool:
    """Whether ``record`` is of a short training: capped in epochs or fitted on a row sample."""
    return record.get("epoch_cap") is not None or record.get("row_cap") is not None


def complete(record: dict[str, Any], patience: int) -> bool:
    """Whether a short training ended as its full training would: failed, or stopped by early stopping."""
    e = Evaluation.from_dict(record)
    if not e.ok:
        return True
    if e.row_cap is not None:  # a row sample is never the full training
        return False
    if e.epoch_cap is None:
        raise ValueError(f"complete() reads short trainings; the record of {e.key} has no epoch_cap")
    return e.epochs < e.epoch_cap or e.epochs - e.chosen_epochs >= patience


def promoted(short: Iterable[dict[str, Any]], patience: int, share: float = PROMOTE) -> list[str]:
    """Keys of the short records that continue: the best ``share`` (at least one) of the incomplete ones."""
    open_ = [r for r in short if not complete(r, patience)]
    open_.sort(key=lambda r: (r["objective"], r["individual"]))
    return [r["key"] for r in open_[: max(1, math.ceil(share * len(open_)))]] if open_ else []


__all__ = [
    "PROMOTE",
    "ROW_FRACTION",
    "ROW_RUNG_MIN",
    "RUNG_FRACTION",
    "complete",
    "is_short",
    "promoted",
    "rung_epochs",
    "rung_rows",
    "short_training",
]
