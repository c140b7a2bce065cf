"""How a raw row becomes the model's input: the encoding fitted on the train rows, saved as JSON.

:meth:`Encoder.fit` decides everything from the train rows alone: which text
columns are read as numbers, each numeric column's median and whether it gets a
``"col:missing"`` indicator, the kept levels of each categorical column, the
class labels. :meth:`Encoder.transform` applies it to any rows (val, test, or
new rows given to ``evonas predict``), so a row is encoded exactly as the
search saw it. ``encoder.json`` in the run directory is :meth:`Encoder.to_dict`.

Encoding, in feature order:

1. numeric columns: the value, missing / infinite / beyond-float32 values
   replaced by the train median (0 for a column with no train value), then
   the run's numeric transform (``data.numeric_transform``: ``"standard"``,
   the value as is; ``"robust"`` or ``"quantile"``, fitted on the train rows:
   :mod:`fitness.transforms`);
2. one 0/1 indicator ``"col:missing"`` per numeric column that had a missing
   value on some train row;
3. categorical columns: one-hot over the kept levels (the ``max_levels`` most
   frequent train levels, ties by name); missing is the level ``"<missing>"``;
   unseen or dropped levels encode as all zeros (and are counted).

Example:
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"area": [50.0, None, 70.0], "kind": ["a", "b", "a"]})
    >>> enc = Encoder.fit(rows, ["area", "kind"], target="price", task="regression")
    >>> enc.feature_names
    ('area', 'area:missing', 'kind=a', 'kind=b')
    >>> enc.transform(pd.DataFrame({"area": [None], "kind": ["c"]})).x.tolist()
    [[60.0, 1.0, 0.0, 0.0]]
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evonas.fitness.transforms import (
    apply_quantile,
    apply_robust,
    check_numeric_transform,
    fit_quantile,
    fit_robust,
)
from evonas.fitness.validate import DataError, as_float, is_numeric

MISSING = "<missing>"
FORMAT = 2  # 2: the numeric transform; format 1 (no transform) reads as "standard"


@dataclass(frozen=True)
class NumericColumn:
    """A numeric feature: its train median, whether it has an indicator, whether words are missing values.

    ``words_as_missing``: the column was text holding mostly numbers in the
    train rows, so a word in it (``"?"``, ``"unknown"``) is a missing value;
    otherwise text in it is an error when new rows are encoded. ``centre`` /
    ``spread`` (robust) and ``knots`` / ``scores`` (quantile) are the fitted
    numeric transform (:mod:`fitness.transforms`); unused otherwise.
    """

    name: str
    median: float
    indicator: bool
    words_as_missing: bool = False
    centre: float = 0.0
    spread: float = 1.0
    knots: tuple[float, ...] = ()
    scores: tuple[float, ...] = ()


@dataclass(frozen=True)
class CategoricalColumn:
    """A categorical feature: the kept levels (one-hot, in this order) and how many the train rows had."""

    name: str
    levels: tuple[str, ...]
    train_levels: int


@dataclass(frozen=True)
class Encoded:
    """The result of :meth:`Encoder.transform`: the float32 matrix and what was unusual in the rows."""

    x: np.ndarray
    unseen_levels: dict[str, int] = field(default_factory=dict)
    missing_values: dict[str, int] = field(default_factory=dict)


def _image_shape(value: Any) -> tuple[int, int, int] | None:
    if value is None:
        return None
    shape = tuple(int(n) for n in value)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"image_shape must be three positive sizes, got {value!r}")
    return shape  # type: ignore[return-value]


def _labels(series: pd.Series) -> pd.Series:
    """Category labels as strings, missing as ``"<missing>"``."""
    return series.astype(object).where(series.notna(), MISSING).astype(str)


def _first_row(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0]) + 1


@dataclass(frozen=True)
class Encoder:
    """The encoding of one run's features, fitted on its train rows (see the module docstring).

    Attributes:
        target: the target column (never a feature).
        task: ``"regression"`` or ``"classification"``.
        classes: the class labels in output order (classification), else ``()``.
        id_columns: identifier columns (given and automatic): passed through by ``predict``.
        numeric: the numeric features, in feature order.
        categorical: the categorical features, in feature order.
        numeric_transform: ``"standard"``, ``"robust"`` or ``"quantile"`` (:mod:`fitness.transforms`).
        image_shape: ``(height, width, channels)`` of an image run (its numeric
            columns are the pixels, :mod:`fitness.images`); ``None`` for a table.
    """

    target: str
    task: str
    classes: tuple = ()
    id_columns: tuple[str, ...] = ()
    numeric: tuple[NumericColumn, ...] = ()
    categorical: tuple[CategoricalColumn, ...] = ()
    numeric_transform: str = "standard"
    image_shape: tuple[int, int, int] | None = None

    # -- fitting ---------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        train: pd.DataFrame,
        features: Sequence[str],
        *,
        target: str,
        task: str,
        classes: Sequence[Any] = (),
        id_columns: Sequence[str] = (),
        max_levels: int = 50,
        words_as_missing: Sequence[str] = (),
        numeric_transform: str = "standard",
    ) -> Encoder:
        """Fit on the train rows ``train`` (the columns ``features``; numeric ones already numeric)."""
        check_numeric_transform(numeric_transform)
        numeric_names = [c for c in features if is_numeric(train[c])]
        values = as_float(train[numeric_names]) if numeric_names else np.zeros((len(train), 0))
        missing = np.isnan(values)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN train column
            medians = np.nanmedian(values, axis=0) if len(train) else np.zeros(len(numeric_names))
        medians = np.where(np.isnan(medians), 0.0, medians)
        filled = np.where(missing, medians, values)  # what the transform sees, as in transform()
        numeric = tuple(
            NumericColumn(
                str(c),
                float(m),
                bool(f),
                str(c) in set(map(str, words_as_missing)),
                **_fit_transform(numeric_transform, filled[:, i]),
            )
            for i, (c, m, f) in enumerate(zip(numeric_names, medians, missing.any(axis=0), strict=True))
        )
        categorical = []
        for column in (c for c in features if c not in set(numeric_names)):
            counts = _labels(train[column]).value_counts()
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            kept = tuple(str(level) for level, _ in ranked[:max_levels])
            categorical.append(CategoricalColumn(str(column), kept, len(ranked)))
        return cls(
            target=str(target),
            task=task,
            classes=tuple(classes),
            id_columns=tuple(str(c) for c in id_columns),
            numeric=numeric,
            categorical=tuple(categorical),
            numeric_transform=numeric_transform,
        )

    # -- what it holds -----------------------------------------------------------
    @property
    def columns(self) -> tuple[str, ...]:
        """The raw feature columns a row must have (numeric first, then categorical)."""
        return tuple(c.name for c in self.numeric) + tuple(c.name for c in self.categorical)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the encoded columns, in the order of the model's input."""
        return (
            tuple(c.name for c in self.numeric)
            + tuple(f"{c.name}:missing" for c in self.numeric if c.indicator)
            + tuple(f"{c.name}={level}" for c in self.categorical for level in c.levels)
        )

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    # -- applying it ---------------------------------------------------------------
    def check_columns(self, frame: pd.DataFrame, where: str = "the rows") -> None:
        """A ``DataError`` naming every feature column that ``frame`` lacks."""
        have = {str(c) for c in frame.columns}
        absent = [c for c in self.columns if c not in have]
        if absent:
            shown = ", ".join(repr(c) for c in absent)
            raise DataError(
                f"{where} lack{'s' if where != 'the rows' else ''} {len(absent)} feature column"
                f"{'s' if len(absent) > 1 else ''} the model needs: {shown}"
            )

    def _numbers(self, frame: pd.DataFrame, where: str) -> np.ndarray:
        """The numeric columns as float64 (missing as NaN); text in a column read as numbers is an error."""
        if not self.numeric:
            return np.zeros((len(frame), 0))
        out = np.empty((len(frame), len(self.numeric)))
        for i, col in enumerate(self.numeric):
            series = frame[col.name]
            if not is_numeric(series):
                numbers = pd.to_numeric(series.astype(object), errors="coerce")
                words = series.notna().to_numpy(dtype=bool) & numbers.isna().to_numpy(dtype=bool)
                if words.any() and not col.words_as_missing:
                    row = _first_row(words)
                    raise DataError(
                        f"column {col.name!r} of {where} holds text ({series[words].iloc[0]!r} on row {row}) "
                        "but it was numeric in training: fix or remove that value"
                    )
                series = numbers.astype(np.float64)
            out[:, i] = as_float(series.to_frame())[:, 0]
        return out

    def transform(self, frame: pd.DataFrame, where: str = "the rows") -> Encoded:
        """Encode ``frame`` (raw rows with at least :attr:`columns`) into the model's float32 input."""
        self.check_columns(frame, where)
        values = self._numbers(frame, where)
        missing = np.isnan(values)
        medians = np.array([c.median for c in self.numeric], dtype=np.float64)
        blocks = [self._transformed(np.where(missing, medians, values))]
        flagged = np.array([c.indicator for c in self.numeric], dtype=bool)
        blocks.append(missing[:, flagged].astype(np.float64))
        unseen: dict[str, int] = {}
        for col in self.categorical:
            labels = _labels(frame[col.name])
            codes = pd.Index(list(col.levels), dtype=object).get_indexer(labels.astype(object))
            onehot = np.zeros((len(frame), len(col.levels)))
            rows = np.flatnonzero(codes >= 0)
            onehot[rows, codes[rows]] = 1.0
            blocks.append(onehot)
            n_unseen = int((codes < 0).sum())
            if n_unseen:
                unseen[col.name] = n_unseen
        counts = {c.name: int(n) for c, n in zip(self.numeric, missing.sum(axis=0), strict=True) if n}
        x = np.hstack(blocks).astype(np.float32) if blocks else np.zeros((len(frame), 0), np.float32)
        return Encoded(x=x, unseen_levels=unseen, missing_values=counts)

    def _transformed(self, filled: np.ndarray) -> np.ndarray:
        """The numeric transform applied to the imputed numeric columns (float64)."""
        if self.numeric_transform == "robust":
            centre = np.array([c.centre for c in self.numeric], dtype=np.float64)
            spread = np.array([c.spread for c in self.numeric], dtype=np.float64)
            return apply_robust(filled, centre, spread)
        if self.numeric_transform == "quantile":
            out = np.empty_like(filled)
            for i, c in enumerate(self.numeric):
                out[:, i] = apply_quantile(filled[:, i], c.knots, c.scores)
            return out
        return filled

    # -- plain data ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """What ``encoder.json`` holds (plain JSON types; ``image_shape`` only for an image run)."""
        extra = {"image_shape": list(self.image_shape)} if self.image_shape else {}
        return {
            **extra,
            "format": FORMAT,
            "target": self.target,
            "task": self.task,
            "classes": list(self.classes),
            "id_columns": list(self.id_columns),
            "numeric_transform": self.numeric_transform,
            "numeric": [
                {
                    "name": c.name,
                    "median": c.median,
                    "indicator": c.indicator,
                    "words_as_missing": c.words_as_missing,
                    **_transform_dict(self.numeric_transform, c),
                }
                for c in self.numeric
            ],
            "categorical": [
                {"name": c.name, "levels": list(c.levels), "train_levels": c.train_levels}
                for c in self.categorical
            ],
            "feature_names": list(self.feature_names),
            "missing_level": MISSING,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Encoder:
        """Read back :meth:`to_dict` (a ``ValueError`` when it is not an evonas encoder)."""
        if d.get("format") not in (1, FORMAT):
            raise ValueError(f"encoder format {d.get('format')!r}; this evonas reads 1 to {FORMAT}")
        transform = str(d.get("numeric_transform", "standard"))  # format 1: no transform
        check_numeric_transform(transform)
        enc = cls(
            target=str(d["target"]),
            task=str(d["task"]),
            classes=tuple(d.get("classes", ())),
            id_columns=tuple(d.get("id_columns", ())),
            numeric=tuple(
                NumericColumn(
                    str(c["name"]),
                    float(c["median"]),
                    bool(c["indicator"]),
                    bool(c["words_as_missing"]),
                    centre=float(c.get("centre", 0.0)),
                    spread=float(c.get("spread", 1.0)),
                    knots=tuple(map(float, c.get("knots", ()))),
                    scores=tuple(map(float, c.get("scores", ()))),
                )
                for c in d.get("numeric", ())
            ),
            categorical=tuple(
                CategoricalColumn(str(c["name"]), tuple(map(str, c["levels"])), int(c["train_levels"]))
                for c in d.get("categorical", ())
            ),
            numeric_transform=transform,
            image_shape=_image_shape(d.get("image_shape")),
        )
        if transform == "quantile" and any(not c.knots or len(c.knots) != len(c.scores) for c in enc.numeric):
            raise ValueError("encoder quantile knots and scores are missing or of different lengths")
        if "feature_names" in d and list(d["feature_names"]) != list(enc.feature_names):
            raise ValueError("encoder feature_names do not match its columns")
        return enc


def _fit_transform(kind: str, values: np.ndarray) -> dict[str, Any]:
    """The fitted parameters of one numeric column's transform (keyword arguments of NumericColumn)."""
    if kind == "robust":
        centre, spread = fit_robust(values)
        return {"centre": centre, "spread": spread}
    if kind == "quantile":
        knots, scores = fit_quantile(values)
        return {"knots": knots, "scores": scores}
    return {}


def _transform_dict(kind: str, column: NumericColumn) -> dict[str, Any]:
    """What ``encoder.json`` holds of one column's transform."""
    if kind == "robust":
        return {"centre": column.centre, "spread": column.spread}
    if kind == "quantile":
        return {"knots": list(column.knots), "scores": list(column.scores)}
    return {}


__all__ = ["MISSING", "CategoricalColumn", "Encoded", "Encoder", "NumericColumn"]
