"""Target leaks: feature columns that give the target away, found on the train rows.

``find_leaks`` looks at each candidate feature column on its own, against the
target, and reports the columns that are the target in disguise. A model fed
such a column scores near-perfectly and every figure it produces is fiction,
so ``fitness.data`` drops them before training. The rules, first match wins:

1. Equal to the target, row for row (any dtype; numbers compare as numbers,
   so ``1`` equals ``1.0``; missing equals missing).
2. Regression, numeric feature (on the rows where the feature has a value; at
   least ``MIN_ROWS`` of them, the feature not constant there):

   * ``|Pearson r| >= PEARSON_LEAK``: a linear copy (``2 * y + 1``, cents);
   * ``|Spearman rank correlation| >= RANK_LEAK``: any strictly monotone
     transform (``log``, ``sqrt``, ranks). Ranks are pandas average ranks, so
     scipy is not needed.

   The same must hold on the rows off the feature's most frequent value
   (again at least ``MIN_ROWS`` rows, not constant): a big tied block, such
   as ``x == 0`` exactly where ``y == 0`` in 90% of the rows, makes either
   correlation near 1 by itself, whatever the feature does elsewhere.

3. A lookup on the column alone predicts the target out of fold. The rows are
   split into ``N_FOLDS`` folds (a fixed-seed permutation of the positions: no
   global random state); each row is predicted from the rows of the *other*
   folds with the same feature value (missing is a value of its own): their
   mean (regression) or majority class (classification, ties to the class seen
   first). A row whose value has no such row gets the mean / majority class of
   the other folds, so a column whose values are all distinct (a continuous
   measurement, an identifier) predicts no better than a constant, however
   perfectly a one-row-per-value table would "fit" it. At least ``MIN_ROWS``
   rows are needed.

   * Regression: out-of-fold ``R^2 >= LOOKUP_R2_LEAK``; or the same ``R^2``
     on just the rows whose value the lookup has seen in the other folds
     (around those rows' own mean), when they are at least ``SEEN_ROW_SHARE``
     of the rows. The second form keeps a text code of a rounded price a
     leak although its few one-row tail values (predicted by the mean, far
     off) sink the all-rows ``R^2``; needing 90% of the rows seen keeps a
     big pure group (``x == 0`` exactly where ``y == 0``) with distinct
     values elsewhere from counting. The rule catches what is not
     monotone: a text code of the target, ``y = f(x)`` for a repeated ``x``
     and a non-monotone ``f``.
   * Classification (numeric and non-numeric features alike): out-of-fold
     accuracy ``>= LOOKUP_ACCURACY_LEAK``, and only when the majority class
     covers less than ``MAX_MAJORITY_RATE`` of the rows: where a constant guess
     is already (nearly) that accurate, accuracy cannot tell a leak from any
     column, and only rule 1 applies.

Honest features stay: a strong but noisy one (``R^2`` around 0.9, a
five-level category explaining much of the target, the Ames house-price
features) is far from these thresholds. Columns in ``keep`` (kept on purpose
by the user) are never reported.

Not caught, by design of a one-column, value-lookup test: a continuous
feature that separates the classes perfectly by a threshold, a smooth
non-monotone function of a continuous feature, and leaks spread over several
columns. A table whose rows are nearly all duplicated (same features, same
target) makes any column look like a lookup; keep such columns with ``keep``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from evonas.fitness.validate import as_float, is_numeric

PEARSON_LEAK = 0.999  # |Pearson r| at or above this with the target: a linear copy
RANK_LEAK = 0.999  # |Spearman rho| at or above this: a monotone transform of the target
LOOKUP_R2_LEAK = 0.99  # out-of-fold R^2 of a one-column lookup at or above this (regression)
SEEN_ROW_SHARE = 0.9  # ... or that R^2 on the rows whose value it has seen, if they are this share
LOOKUP_ACCURACY_LEAK = 0.999  # out-of-fold accuracy of a one-column lookup at or above this
MAX_MAJORITY_RATE = 0.99  # the accuracy rule needs a majority class below this share of rows
MIN_ROWS = 20  # fewer rows (with a feature value, for rule 2) give no verdict
N_FOLDS = 5  # folds of the out-of-fold lookup
FOLD_SEED = 0  # seed of the local generator that assigns the folds
TASKS = ("regression", "classification")


def find_leaks(
    frame: pd.DataFrame,
    y: pd.Series,
    task: str,
    keep: Sequence[str] = (),
) -> dict[str, str]:
    """Feature columns that leak the target, with a one-line reason each (see the module docstring).

    Args:
        frame: The candidate feature columns, raw values, train rows only.
        y: The target on the same rows, aligned by position (rows where it is missing are ignored).
        task: ``"regression"`` or ``"classification"``.
        keep: Columns kept on purpose; never reported.

    Returns:
        ``{column: reason}`` in frame column order; the keys are ``frame``'s column labels.

    Raises:
        ValueError: An unknown task, a non-numeric regression target, or ``frame`` and ``y``
            of different lengths.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}: use 'regression' or 'classification'")
    if len(frame) != len(y):
        raise ValueError(f"frame has {len(frame)} rows but y has {len(y)}: give the target on the same rows")
    if task == "regression" and not is_numeric(y):
        raise ValueError(f"a regression target must be numeric, not {y.dtype}")
    target = _Target.of(y, task)
    if target.rows == 0:
        return {}
    kept = {str(k) for k in keep}
    leaks: dict[str, str] = {}
    for i, name in enumerate(frame.columns):
        if name in kept or str(name) in kept:
            continue
        reason = _column_leak(frame.iloc[:, i][target.present], target)
        if reason is not None:
            leaks[name] = reason  # the frame's own label: a str for every table read from a file
    return leaks


@dataclass(frozen=True, eq=False)
class _Target:
    """The target on its present rows, in the forms the rules compare a column with."""

    task: str
    present: np.ndarray  # bool per input row: the target has a value there
    objects: pd.Series  # present values as Python objects, default index (rule 1)
    values: np.ndarray | None  # float64 when the target is numeric (rules 1 and 2, regression lookup)
    ranks: np.ndarray | None  # average ranks of ``values`` (regression, rule 2)
    labels: np.ndarray | None  # class codes (classification lookup)
    majority_rate: float  # share of the most frequent class (1.0 for regression)
    folds: np.ndarray  # fold of each present row (rule 3)

    @property
    def rows(self) -> int:
        return len(self.objects)

    @classmethod
    def of(cls, y: pd.Series, task: str) -> _Target:
        """Prepare ``y`` for ``task``: drop missing (and, when numeric, infinite) values."""
        values = as_float(y.to_frame())[:, 0] if is_numeric(y) else None
        present = ~np.isnan(values) if values is not None else y.notna().to_numpy(dtype=bool)
        values = values[present] if values is not None else None
        objects = pd.Series(y[present].to_numpy(dtype=object))
        labels, majority_rate, ranks = None, 1.0, None
        if task == "classification" and len(objects):
            labels = pd.factorize(objects.to_numpy(), use_na_sentinel=False)[0]
            majority_rate = float(np.bincount(labels).max() / len(labels))
        elif values is not None:
            ranks = _ranks(values)
        return cls(task, present, objects, values, ranks, labels, majority_rate, _folds(len(objects)))


def _column_leak(series: pd.Series, target: _Target) -> str | None:
    """The reason one column (on the target's present rows) leaks the target, or None."""
    values = as_float(series.to_frame())[:, 0] if is_numeric(series) else None
    if values is not None and target.values is not None:
        if np.array_equal(values, target.values, equal_nan=True):
            return "equal to the target"
    elif pd.Series(series.to_numpy(dtype=object)).equals(target.objects):
        return "equal to the target"
    if target.task == "regression" and values is not None:
        reason = _correlation_leak(values, target.values, target.ranks)
        if reason is not None:
            return reason
    if target.rows < MIN_ROWS:
        return None
    groups = pd.factorize(
        values if values is not None else series.to_numpy(dtype=object), use_na_sentinel=False
    )[0]
    if target.labels is None:
        fit = _lookup_r2(groups, target.values, target.folds)
        if fit.r2 >= LOOKUP_R2_LEAK:
            return (
                "determines the target: a one-feature lookup predicts it with "
                f"out-of-fold R^2 = {fit.r2:.3f} on the train rows"
            )
        if fit.seen_r2 >= LOOKUP_R2_LEAK and fit.seen_share >= SEEN_ROW_SHARE:
            return (
                "determines the target: a one-feature lookup predicts it with out-of-fold "
                f"R^2 = {fit.seen_r2:.3f} on the {math.floor(fit.seen_share * 100)}% of the train rows "
                "whose value it has seen"
            )
    elif target.majority_rate < MAX_MAJORITY_RATE:
        accuracy = _lookup_accuracy(groups, target.labels, target.folds)
        if accuracy >= LOOKUP_ACCURACY_LEAK:
            return (
                f"determines the class: a lookup on this column alone is {_percent(accuracy)} accurate "
                f"out of fold on the train rows (the majority class: {_percent(target.majority_rate)})"
            )
    return None


def _folds(n: int) -> np.ndarray:
    """Fold of each of ``n`` rows: balanced, from a fixed-seed local generator."""
    folds = np.empty(n, dtype=np.int64)
    folds[np.random.default_rng(FOLD_SEED).permutation(n)] = np.arange(n) % N_FOLDS
    return folds


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank), as float64."""
    return pd.Series(values).rank(method="average").to_numpy(dtype=np.float64)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r of two float arrays; NaN when either is constant."""
    a, b = a - a.mean(), b - b.mean()
    denominator = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / denominator if denominator > 0 else math.nan


def _correlation_leak(values: np.ndarray, target: np.ndarray, target_ranks: np.ndarray | None) -> str | None:
    """Rule 2: the reason when a numeric feature is a linear or monotone copy of the target, else None."""
    ok = ~np.isnan(values)
    count = int(ok.sum())
    x, t = values[ok], target[ok]
    found = _correlated(x, t, target_ranks if count == len(values) else None)
    if found is None:
        return None
    # a copy is a copy off its most frequent value too: a big tied block (x == 0 where y == 0)
    # otherwise decides the correlation on its own, whatever the other rows do
    distinct, counts = np.unique(x, return_counts=True)
    if counts.max() > 1 and _correlated(*(a[x != distinct[np.argmax(counts)]] for a in (x, t)), None) is None:
        return None
    kind, value = found
    where = (
        "" if count == len(values) else f" (on the {count:,} of {len(values):,} rows where it has a value)"
    )
    if kind == "pearson":
        return f"|Pearson r| = {abs(value):.4f} with the target{where}"
    return f"rank correlation {value:.4f} with the target (a monotone transform of it){where}"


def _correlated(x: np.ndarray, t: np.ndarray, t_ranks: np.ndarray | None) -> tuple[str, float] | None:
    """("pearson", r) or ("rank", rho) when ``x`` is a linear or monotone copy of ``t``, else None.

    No verdict (None) on fewer than ``MIN_ROWS`` rows or when either side is constant.
    """
    if len(x) < MIN_ROWS or np.ptp(x) == 0 or np.ptp(t) == 0:
        return None
    r = _pearson(x, t)
    if abs(r) >= PEARSON_LEAK:
        return "pearson", r
    rho = _pearson(_ranks(x), _ranks(t) if t_ranks is None else t_ranks)
    return ("rank", rho) if abs(rho) >= RANK_LEAK else None


class _Fit(NamedTuple):
    """Out-of-fold R^2 of a lookup: on every row, and on the rows whose value it has seen."""

    r2: float  # every row; an unseen value is predicted by the other folds' mean
    seen_r2: float  # the rows whose value has a row in the other folds, around their own mean
    seen_share: float  # the share of the rows those are


def _lookup_r2(groups: np.ndarray, target: np.ndarray, folds: np.ndarray) -> _Fit:
    """Out-of-fold R^2 of the group-mean lookup (the other folds' mean where a group has no row there)."""
    centred = target - target.mean()
    total_ss = float(centred @ centred)
    if total_ss == 0:
        return _Fit(-math.inf, -math.inf, 0.0)
    n_groups = int(groups.max()) + 1
    cells = groups * N_FOLDS + folds
    n_cells = n_groups * N_FOLDS
    group_sum = np.bincount(groups, centred, n_groups)[groups] - np.bincount(cells, centred, n_cells)[cells]
    group_count = (
        np.bincount(groups, minlength=n_groups)[groups] - np.bincount(cells, minlength=n_cells)[cells]
    )
    fold_sum = centred.sum() - np.bincount(folds, centred, N_FOLDS)[folds]
    fold_count = len(centred) - np.bincount(folds, minlength=N_FOLDS)[folds]
    seen = group_count > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        prediction = np.where(seen, group_sum / group_count, fold_sum / fold_count)
    errors = (centred - prediction) ** 2
    seen_ss = float(np.sum((centred[seen] - centred[seen].mean()) ** 2)) if seen.any() else 0.0
    seen_r2 = 1.0 - float(errors[seen].sum()) / seen_ss if seen_ss > 0 else -math.inf
    return _Fit(1.0 - float(errors.sum()) / total_ss, seen_r2, float(seen.mean()))


def _lookup_accuracy(groups: np.ndarray, labels: np.ndarray, folds: np.ndarray) -> float:
    """Out-of-fold accuracy of the group-majority lookup (the other folds' majority where a group has no row).

    Sparse: only the (group, fold) cells that hold rows, times the classes seen in the group, are
    counted, so many groups and many classes cost no more than the rows.
    """
    n_classes = int(labels.max()) + 1
    group_class, group_class_total = np.unique(groups * n_classes + labels, return_counts=True)
    gc_group, gc_class = np.divmod(group_class, n_classes)
    cell, row_cell = np.unique(groups * N_FOLDS + folds, return_inverse=True)
    cell_class, cell_class_count = np.unique(
        (groups * N_FOLDS + folds) * n_classes + labels, return_counts=True
    )
    # every (cell, class of the cell's group) pair: the candidates for the cell's prediction
    start = np.searchsorted(gc_group, cell // N_FOLDS, "left")
    length = np.searchsorted(gc_group, cell // N_FOLDS, "right") - start
    pair_cell = np.repeat(np.arange(len(cell)), length)
    pair_gc = np.repeat(start - (np.cumsum(length) - length), length) + np.arange(int(length.sum()))
    key = cell[pair_cell] * n_classes + gc_class[pair_gc]
    at = np.minimum(np.searchsorted(cell_class, key), len(cell_class) - 1)
    in_fold = np.where(cell_class[at] == key, cell_class_count[at], 0)
    outside = group_class_total[pair_gc] - in_fold
    order = np.lexsort((gc_class[pair_gc], -outside, pair_cell))  # per cell: most rows outside, then class
    first = order[np.r_[True, pair_cell[order][1:] != pair_cell[order][:-1]]]
    # the other folds' majority class, for cells whose group has no row outside the fold
    class_total = np.bincount(labels, minlength=n_classes)
    fold_class = np.bincount(folds * n_classes + labels, minlength=N_FOLDS * n_classes).reshape(N_FOLDS, -1)
    fold_majority = np.argmax(class_total - fold_class, axis=1)
    prediction = np.where(outside[first] > 0, gc_class[pair_gc[first]], fold_majority[cell % N_FOLDS])
    return float(np.mean(prediction[row_cell] == labels))


def _percent(share: float) -> str:
    """'100%' when exact, else two decimals rounded down (so 0.99996 reads 99.99%, not 100.00%)."""
    return "100%" if share >= 1 else f"{math.floor(share * 10000) / 100:.2f}%"
