"""Views of a run's rows for one training: cross-validation folds (``search.folds``) and row samples.

The train and validation rows are pooled and each pooled row goes to fold
``hash % K``, where ``hash`` is the content hash that decided its split
(:func:`fitness.data.load_dataset`): a row's fold depends on that row alone, so
adding rows (test rows, or any other) moves no row from one fold to another, and
identical rows share a fold. The test rows are never part of a fold.

Fold ``r`` of ``K`` (:func:`fold_data`) is the run's dataset with the rows of the
other folds as train rows and fold ``r``'s rows as validation rows; the encoding,
the scaling and the target statistics stay the run's (fitted on the train split
once, so every fold's network reads rows as the delivered one does; they are
statistics of the inputs, not choices made on a validation score). Replicate
``r`` of a network in a cross-validated search (:mod:`evolve.loop`) is its training
on fold ``r``, early-stopped on that fold's rows.

A row sample (:func:`row_sample`) keeps ``n`` of a dataset's train rows, the same ``n``
for every network: the short first training of multi-fidelity on a large table
(:mod:`evolve.fidelity`) fits them alone, validated on all the validation rows. The
rows kept are those whose content hash, mixed, is smallest: the rows' content decides
which are kept, not their order in the file (a fold's sample is drawn from its train rows).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from evonas.fitness.data import Dataset


class FoldError(ValueError):
    """A fold count the data cannot give (one line, for the user)."""


def pooled_folds(data: Dataset, k: int) -> np.ndarray:
    """The fold of each pooled row (the train rows, then the val rows), in ``0..k-1``."""
    if data.hash_train is None or data.hash_val is None:
        raise FoldError(f"the dataset {data.name!r} has no row hashes (load it with fitness.load_dataset)")
    hashes = np.concatenate([data.hash_train, data.hash_val]).astype(np.uint64)
    return (hashes % np.uint64(k)).astype(np.int64)


def check_folds(data: Dataset, k: int) -> None:
    """Refuse a fold count the train and val rows cannot give: a ``FoldError`` saying why.

    Every fold needs rows; in classification every class needs at least ``k`` pooled rows
    (a class with fewer cannot be in every fold's train rows and validation rows).
    """
    if k <= 1:
        return
    folds = pooled_folds(data, k)
    rows = len(folds)
    counts = np.bincount(folds, minlength=k)
    if rows < k or (counts == 0).any():
        empty = int((counts == 0).sum())
        raise FoldError(
            f"search.folds = {k} is more than the {rows} train and validation rows of {data.name!r} "
            f"can give ({empty} fold{'s' if empty != 1 else ''} would be empty): use fewer folds"
        )
    if data.task == "classification":
        y = np.concatenate([data.y_train, data.y_val])
        per_class = np.bincount(y.astype(np.int64), minlength=len(data.classes))
        small = [i for i, n in enumerate(per_class) if n < k]
        if small:
            i = small[0]
            raise FoldError(
                f"search.folds = {k} is more than the {int(per_class[i])} train and validation rows "
                f"of class {data.classes[i]!r} in {data.name!r}: use at most {int(per_class[i])} folds"
                if per_class[i] > 1
                else f"search.folds = {k}: class {data.classes[i]!r} of {data.name!r} has "
                f"{int(per_class[i])} train and validation row; use search.folds = 1"
            )


def fold_data(data: Dataset, fold: int, k: int) -> Dataset:
    """Fold ``fold`` of ``k``: the other folds' rows train, this fold's validate (``k`` = 1: ``data``)."""
    if k <= 1:
        return data
    if not 0 <= fold < k:
        raise ValueError(f"fold {fold} is not in 0..{k - 1}")
    folds = pooled_folds(data, k)
    x = np.concatenate([data.x_train, data.x_val])
    y = np.concatenate([data.y_train, data.y_val])
    hashes = np.concatenate([data.hash_train, data.hash_val])
    held = folds == fold
    return dataclasses.replace(
        data,
        x_train=x[~held],
        y_train=y[~held],
        x_val=x[held],
        y_val=y[held],
        hash_train=hashes[~held],
        hash_val=hashes[held],
    )


def fitted_rows(data: Dataset, k: int) -> int:
    """The rows one training fits: the train rows, or with ``k`` > 1 folds a fold's (the other folds')."""
    if k <= 1:
        return len(data.y_train)
    return (len(data.y_train) + len(data.y_val)) * (k - 1) // k


_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: an order unrelated to hash % K (folds, split)


def row_sample(data: Dataset, n: int) -> Dataset:
    """``data`` with ``n`` of its train rows (all of them when it has ``n`` or fewer), the validation
    and test rows as they are. The rows kept: the smallest mixed row hashes (see the module
    docstring), in their order in ``data``; without row hashes, a fixed pseudo-random draw."""
    rows = len(data.y_train)
    if n >= rows:
        return data
    if n < 1:
        raise ValueError(f"a row sample needs at least one row, got {n}")
    if data.hash_train is not None:
        with np.errstate(over="ignore"):  # the multiplication wraps modulo 2**64, as it should
            mixed = data.hash_train.astype(np.uint64) * _MIX
        keep = np.sort(np.argsort(mixed, kind="stable")[:n])
    else:
        keep = np.sort(np.random.default_rng(0).permutation(rows)[:n])
    return dataclasses.replace(
        data,
        x_train=data.x_train[keep],
        y_train=data.y_train[keep],
        hash_train=None if data.hash_train is None else data.hash_train[keep],
    )


__all__ = ["FoldError", "check_folds", "fitted_rows", "fold_data", "pooled_folds", "row_sample"]
