"""Checks on user data: every problem becomes one ``DataError`` line naming the fix.

``fitness.data`` calls these while it reads, splits and encodes a table; they
run before anything is trained or written, so bad data stops a command at once.
The policies they implement are listed in the ``fitness.data`` docstring.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MOSTLY_NUMERIC = 0.9  # an object column with at least this share of numbers is numeric
FLOAT32_MAX = float(np.finfo(np.float32).max)  # larger finite values count as infinite
_SHOWN = 3  # how many examples a message or the audit quotes


class DataError(ValueError):
    """Bad user data; the message is one line naming the problem and the fix."""


def is_numeric(series: pd.Series) -> bool:
    """True for int/float/bool columns; strings, categories, dates are non-numeric."""
    return pd.api.types.is_numeric_dtype(series.dtype) and not isinstance(series.dtype, pd.CategoricalDtype)


def as_float(frame: pd.DataFrame) -> np.ndarray:
    """Numeric columns as float64; missing, infinite and beyond-float32 values become NaN."""
    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(values) & (np.abs(values) <= FLOAT32_MAX), values, np.nan)


def suggest(name: str, choices: Sequence[Any]) -> str:
    """' (did you mean ...?)' with the closest names (case ignored), or ''."""
    by_lower = {str(c).lower(): str(c) for c in reversed(list(choices))}
    close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=3, cutoff=0.5)
    return f" (did you mean {', '.join(repr(by_lower[c]) for c in close)}?)" if close else ""


def _quote(values: Sequence[Any], total: int | None = None) -> str:
    """'a', 'b', 'c', ... : the first few values, quoted."""
    total = len(values) if total is None else total
    return ", ".join(repr(v) for v in values[:_SHOWN]) + (", ..." if total > _SHOWN else "")


def check_split(split: Sequence[float]) -> tuple[float, float, float]:
    """Validate train/val/test fractions: three positive numbers summing to 1."""
    try:
        fractions = [float(f) for f in split]
    except (TypeError, ValueError):
        fractions = []
    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise DataError(f"bad split {split!r}: give three fractions > 0 (train, val, test) summing to 1")
    return fractions[0], fractions[1], fractions[2]


# ---------------------------------------------------------------- reading files


def _encoding_error(path: Path, exc: UnicodeDecodeError) -> DataError:
    """Where the first byte that is not UTF-8 sits, and how to fix the file."""
    raw = path.read_bytes()
    found = f"it is not UTF-8 text ({exc.reason})"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        found = "it is UTF-16 text, not UTF-8"
    else:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as full:
            line = raw[: full.start].count(b"\n") + 1
            found = f"byte 0x{raw[full.start]:02x} on line {line} is not UTF-8 text"
    return DataError(f"cannot read {path}: {found}: re-save the file as UTF-8 (in Excel: 'CSV UTF-8')")


def _parse_error(path: Path, exc: Exception) -> DataError:
    """A parser error as one line; a row with too many fields is named."""
    text = str(exc)
    ragged = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if ragged:
        header, line, seen = ragged.groups()
        return DataError(
            f"cannot read {path}: line {line} has {seen} fields but the header has {header}: "
            "fix that line (quote values that contain commas)"
        )
    reason = text.splitlines()[0] if text else type(exc).__name__
    return DataError(f"cannot read {path}: {reason}: check that it is a valid {path.suffix[1:]} file")


def read_table_file(path: Path, text_columns: Sequence[str] = ()) -> pd.DataFrame:
    """Read a UTF-8 .csv or a .parquet file with at least one row; failures are DataErrors.

    ``text_columns`` of a CSV are read as text whatever they look like (the
    categorical columns of a trained model: ``"01"`` stays ``"01"``).
    """
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise DataError(
            f"unsupported file type {suffix or '(none)'!r} for {path}: use a .csv or .parquet file"
        )
    try:
        if suffix == ".csv":
            header = pd.read_csv(path, encoding="utf-8", nrows=0).columns if text_columns else []
            text = {c: str for c in text_columns if c in set(header)}
            frame = pd.read_csv(path, encoding="utf-8", low_memory=False, dtype=text or None)
        else:
            frame = pd.read_parquet(path)
    except ImportError:
        raise DataError(f"reading {path} needs pyarrow: pip install pyarrow") from None
    except UnicodeDecodeError as exc:
        raise _encoding_error(path, exc) from None
    except pd.errors.EmptyDataError:
        raise DataError(
            f"data file {path} is empty: export the table again, with a header row and data rows"
        ) from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise _parse_error(path, exc) from None
    columns = [str(c) for c in frame.columns]
    if len(columns) == 1 and (sep := next((s for s in ";\t|" if s in columns[0]), None)):
        raise DataError(
            f"{path} has a single column {columns[0]!r}: its values look separated by {sep!r}; "
            "re-save it with commas as separators"
        )
    if len(frame) == 0:
        raise DataError(
            f"data file {path} has a header ({_quote(columns)}) but no data rows: add rows below the header"
        )
    return frame


# ---------------------------------------------------------------- columns


def resolve_columns(
    frame: pd.DataFrame, name: str, target: str | None, ids: Sequence[str]
) -> tuple[str, list[str]]:
    """Check the target and identifier columns exist; return them."""
    columns = [str(c) for c in frame.columns]
    if not columns:
        raise DataError(f"dataset {name!r} has no columns: give a table with feature and target columns")
    if frame.empty:
        raise DataError(f"dataset {name!r} has columns but no rows: add data rows")
    if frame.columns.duplicated().any():
        dup = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise DataError(f"duplicate column names {dup} in {name!r}: give every column a unique name")
    if target is None:
        shown = ", ".join(columns[:8]) + (", ..." if len(columns) > 8 else "")
        raise DataError(f"no target column for {name!r}: pass --target COLUMN (columns: {shown})")
    if target not in frame.columns:
        hint = suggest(target, columns)
        raise DataError(f"target column {target!r} not found in {name!r}{hint}: check --target")
    for column in ids:
        if column not in frame.columns:
            hint = suggest(column, columns)
            raise DataError(f"id column {column!r} not found in {name!r}{hint}: check the id columns")
        if column == target:
            raise DataError(f"column {target!r} is both target and id column: remove it from the id columns")
    return target, list(dict.fromkeys(ids))


# ---------------------------------------------------------------- columns of mixed types


def _text_like(series: pd.Series) -> bool:
    return series.dtype == object or isinstance(series.dtype, pd.StringDtype)


def _numbers_and_words(series: pd.Series) -> tuple[pd.Series, pd.Series, int]:
    """(the column as numbers, which present values are not numbers, how many are present)."""
    numbers = pd.to_numeric(series.astype(object), errors="coerce")
    present = series.notna()
    return numbers, present & numbers.isna(), int(present.sum())


def coerce_mixed_columns(frame: pd.DataFrame, columns: Sequence[Any]) -> tuple[pd.DataFrame, dict]:
    """Text columns holding mostly (>= 90%) numbers become numeric; their words become missing.

    Returns the frame (a copy when a column changed) and, for every column that
    mixes numbers and words, what was found and how it is treated.
    """
    converted: dict[Any, pd.Series] = {}
    mixed: dict[str, dict[str, Any]] = {}
    for column in columns:
        series = frame[column]
        if not _text_like(series):
            continue
        numbers, words, present = _numbers_and_words(series)
        n_words = int(words.sum())
        if present == 0 or n_words == present:
            continue
        numeric = present - n_words >= MOSTLY_NUMERIC * present
        if numeric:
            converted[column] = numbers.astype(np.float64)
        if n_words:
            mixed[str(column)] = {
                "numbers": present - n_words,
                "text": n_words,
                "examples": [str(v) for v in pd.unique(series[words])[:_SHOWN]],
                "treated_as": "numeric (text values as missing)" if numeric else "categorical",
            }
    if converted:
        frame = frame.copy()
        for column, values in converted.items():
            frame[column] = values
    return frame, mixed


# ---------------------------------------------------------------- the target


def prepare_target(y: pd.Series, task: str) -> pd.Series:
    """The target column ready for task detection, or a DataError.

    Text that is all numbers becomes numeric. A target that mixes numbers and
    words is an error unless the task is classification (then every value is a
    label): it is most likely a numeric target with a few stray words, which
    would otherwise become hundreds of classes. A text target for regression is
    an error too.
    """
    name = y.name
    if not _text_like(y):
        return y
    numbers, words, present = _numbers_and_words(y)
    n_words = int(words.sum())
    if n_words == 0:
        return numbers.astype(np.float64).rename(name)
    if task == "classification" or (task == "auto" and n_words == present):
        return y
    examples = _quote(list(pd.unique(y[words])))
    if n_words == present:
        raise DataError(
            f"target {name!r} is not numeric (values such as {examples}), so it cannot be a regression "
            "target: use --task classification or choose a numeric target"
        )
    raise DataError(
        f"target {name!r} mixes numbers and text ({n_words} of {present} values are not numbers: "
        f"{examples}): fix or remove those values, "
        "or use --task classification to treat every value as a label"
    )


def check_target_values(y: pd.Series, present: np.ndarray) -> None:
    """The target must have values, and more than one distinct value."""
    name = y.name
    if not present.any():
        raise DataError(
            f"target {name!r} has no values (all {len(y)} rows are missing or infinite): "
            "choose another --target column"
        )
    values = y[present]
    if values.nunique() < 2:
        rows = "rows" if present.all() else "rows that have a value"
        value = values.iloc[0].item() if isinstance(values.iloc[0], np.generic) else values.iloc[0]
        raise DataError(
            f"target {name!r} has fewer than two distinct values ({value!r} in all {len(values)} {rows}): "
            "choose a target that varies"
        )


def check_classes(codes: np.ndarray, classes: Sequence[Any], train: np.ndarray, target: str) -> None:
    """Every class needs at least one train row, or the model could never learn it."""
    total = np.bincount(codes, minlength=len(classes))
    in_train = np.bincount(codes[train], minlength=len(classes))
    absent = [(classes[i], int(total[i])) for i in np.flatnonzero(in_train == 0)]
    if not absent:
        return
    shown = ", ".join(f"{c!r} ({n} row{'s' if n > 1 else ''})" for c, n in absent[:_SHOWN])
    shown += ", ..." if len(absent) > _SHOWN else ""
    which = "class" if len(absent) == 1 else f"{len(absent)} classes"
    raise DataError(
        f"{which} of target {target!r} with no row in the train split: {shown}; drop or merge rare classes, "
        "or add rows (every class needs at least one train row)"
    )


# ---------------------------------------------------------------- the features


def check_features(x_train: np.ndarray, columns: Sequence[Any], name: str, dropped: Sequence[Any]) -> None:
    """There must be features, and at least one must vary on the train rows."""
    if x_train.shape[1] == 0:
        gone = f" (dropped: {_quote([str(c) for c in dropped])})" if dropped else ""
        raise DataError(
            f"no feature columns left in {name!r}{gone}: add columns to learn from besides the target"
        )
    if not np.any(x_train.max(axis=0) > x_train.min(axis=0)):
        raise DataError(
            f"every feature of {name!r} is constant on the train rows ({_quote([str(c) for c in columns])}): "
            "there is nothing to learn from; add columns that vary"
        )
