"""scikit-learn estimators around a search: ``EvonasRegressor`` and ``EvonasClassifier``.

``fit`` runs a whole genetic search (:func:`evolve.run_search`) on the rows it is
given and keeps the best network (:func:`evolve.load_predictor`); ``predict``
applies it. The estimators follow scikit-learn's rules (the constructor only
stores its parameters, fitted attributes end in ``_``), so they work with
``clone``, ``Pipeline``, ``cross_val_score``, ``GridSearchCV`` and pickling
(the fitted network travels with the estimator).

X is a DataFrame (numeric and categorical columns: the run's encoding imputes
missing numbers and one-hot encodes text) or a numeric array-like (columns
``x0``, ``x1``, ...). Every column of X is a feature: none is dropped as a
target leak (they are all kept on purpose, ``data.keep_columns``), but a text
column whose train values are all distinct is dropped as an identifier, as in
every run. Each fit writes, and keeps, a run directory (``run_dir_``). Leave
``run_dir=None`` under ``cross_val_score`` or ``GridSearchCV``: every clone of
the estimator would otherwise be given the same directory, and a fit refuses a
directory that is not empty.

Example:
    >>> from sklearn.model_selection import cross_val_score
    >>> from evonas import EvonasRegressor
    >>> model = EvonasRegressor(population=4, generations=1, max_epochs=10)
    >>> cross_val_score(model, houses, prices, cv=3)      # doctest: +SKIP
    array([0.81, 0.78, 0.84])
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import assert_all_finite
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d

from evonas.evolve.api import run_search
from evonas.evolve.config import RunConfig, SearchConfig
from evonas.evolve.rundir import RunDirError
from evonas.fitness.data import load_dataset

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _sk_validate
except ImportError:  # pragma: no cover - older scikit-learn: the estimator's own method
    _sk_validate = None

TEST_FRACTION = 0.05  # the share of the fit rows held back as the run's test split
TARGET = "__evonas_target__"
MIN_ROWS = 3  # one per split at the very least; the hash split needs a few dozen to fill all three


def _validate(estimator: BaseEstimator, X: Any, *, reset: bool, frame: bool, **check: Any) -> Any:
    """scikit-learn's checks of X (feature names, feature count; arrays also via ``check_array``)."""
    if _sk_validate is not None:
        return _sk_validate(estimator, X, reset=reset, skip_check_array=frame, **check)
    if "ensure_all_finite" in check:  # pragma: no cover - its name before scikit-learn 1.6
        check["force_all_finite"] = check.pop("ensure_all_finite")
    return estimator._validate_data(X, reset=reset, cast_to_ndarray=not frame, **check)  # pragma: no cover


def _quiet(_line: str) -> None:
    """A ``log`` that drops the per-generation lines."""


class _EvonasEstimator(BaseEstimator):
    """What both estimators share: the parameters, ``fit`` and the conversion of X."""

    _task = "regression"

    def __init__(
        self,
        population: int = 8,
        generations: int = 2,
        max_epochs: int = 30,
        patience: int = 4,
        workers: int | None = None,
        engine: str = "loky",
        random_state: int | None = 0,
        run_dir: str | os.PathLike[str] | None = None,
        space: Mapping[str, Any] | None = None,
        validation_fraction: float = 0.15,
        quiet: bool = True,
    ) -> None:
        self.population = population
        self.generations = generations
        self.max_epochs = max_epochs
        self.patience = patience
        self.workers = workers
        self.engine = engine
        self.random_state = random_state
        self.run_dir = run_dir
        self.space = space
        self.validation_fraction = validation_fraction
        self.quiet = quiet

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing numbers are imputed (train median + indicator)
        tags.input_tags.categorical = True  # text / categorical DataFrame columns are one-hot encoded
        return tags

    def _more_tags(self) -> dict[str, Any]:  # pragma: no cover - scikit-learn < 1.6
        return {"allow_nan": True, "categorical": True}

    # -- parameters ---------------------------------------------------------------
    def _split(self) -> tuple[float, float, float]:
        val = self.validation_fraction
        if isinstance(val, bool) or not isinstance(val, (int, float)) or not 0 < val < 1 - TEST_FRACTION:
            raise ValueError(f"validation_fraction must be in (0, {1 - TEST_FRACTION:g}), got {val!r}")
        return (1.0 - TEST_FRACTION - val, float(val), TEST_FRACTION)

    def _config(self, target: str, columns: list[str]) -> RunConfig:
        """The run configuration of these parameters (a ``ConfigError`` names a bad one)."""
        seed = 0 if self.random_state is None else self.random_state
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"random_state must be an integer >= 0 or None, got {self.random_state!r}")
        search = {"population": self.population, "generations": self.generations, "seed": int(seed)}
        if isinstance(self.population, int) and self.population >= 2:  # else the config names the error
            search["elites"] = min(SearchConfig().elites, self.population - 1)  # population=2 keeps 1
        return RunConfig().with_overrides(
            data={
                "dataset": "dataframe",
                "target": target,
                "task": self._task,
                "split": list(self._split()),
                "keep_columns": columns,  # X's columns are the features: none is dropped as a leak
            },
            search={**search, "workers": self.workers, "engine": self.engine},
            training={"max_epochs": self.max_epochs, "patience": self.patience},
            space=dict(self.space or {}),
        )

    def _new_run_dir(self) -> Path:
        if self.run_dir is None:
            return Path(tempfile.mkdtemp(prefix="evonas-"))
        path = Path(self.run_dir)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise RunDirError(
                f"run_dir {path} exists and is not empty: give a new or empty directory, "
                "or run_dir=None for a fresh temporary one (each fit needs its own)"
            )
        return path

    # -- rows -----------------------------------------------------------------------
    def _rows(self, X: Any, *, reset: bool) -> pd.DataFrame:
        """X as a DataFrame whose columns are those of fit (by position: names are checked first)."""
        if isinstance(X, pd.DataFrame):
            _validate(self, X, reset=reset, frame=True)
            frame = X.reset_index(drop=True)
        else:  # numbers only, unless fit saw a DataFrame (whose text columns an array may carry)
            dtype = "numeric" if reset or not getattr(self, "_fitted_on_frame", False) else None
            array = _validate(self, X, reset=reset, frame=False, dtype=dtype, ensure_all_finite=False)
            frame = pd.DataFrame(array)
        if frame.shape[1] == 0:
            raise ValueError(f"X has 0 feature columns: {type(self).__name__} needs at least one")
        if reset:
            self._fitted_on_frame = isinstance(X, pd.DataFrame)
            names = [str(c) for c in frame.columns] if self._fitted_on_frame else []
            if len(set(names)) != len(names):
                raise ValueError("the columns of X must have distinct names")
            self._columns = names or [f"x{i}" for i in range(frame.shape[1])]
        return frame.set_axis(self._columns, axis=1)

    def _target(self, y: Any, n_rows: int) -> np.ndarray:
        """The target column to learn (regression: floats); the classifier sets ``classes_`` here."""
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        y = column_or_1d(y, warn=True, dtype=np.float64)
        check_consistent_length(np.empty(n_rows), y)
        assert_all_finite(y, input_name="y")  # a row without its target is an error, not dropped
        return y

    # -- fitting and predicting ----------------------------------------------------------
    def fit(self, X: Any, y: Any) -> _EvonasEstimator:
        """Run a search on (X, y) and keep its best network.

        Args:
            X: a DataFrame (numeric and categorical columns) or a numeric array-like
                (its columns are named ``x0``, ``x1``, ...).
            y: the target, one value per row of X.

        Returns:
            self, with ``run_dir_``, ``predictor_``, ``best_architecture_`` and
            ``n_features_in_`` set (and ``feature_names_in_`` for a DataFrame with
            string column names).
        """
        frame = self._rows(X, reset=True)
        if len(frame) < MIN_ROWS:
            raise ValueError(
                f"{type(self).__name__} needs at least {MIN_ROWS} samples (train, validation and test rows), "
                f"got n_samples = {len(frame)}"
            )
        target = self._target(y, len(frame))
        name = TARGET
        while name in frame.columns:  # never one of X's columns
            name += "_"
        config = self._config(name, list(frame.columns))
        d = config.data
        frame = frame.assign(**{name: target})
        data = load_dataset(
            frame,
            name,
            task=d.task,
            split=d.split,
            keep_columns=d.keep_columns,
            numeric_transform=d.numeric_transform,
            target_transform=d.target_transform,
        )
        run_dir = self._new_run_dir()
        run_search(config, run_dir, data=data, progress=not self.quiet, log=_quiet if self.quiet else print)
        from evonas.evolve.predict import load_predictor  # TensorFlow / Keras: only once a model is needed

        self.run_dir_ = run_dir
        self.predictor_ = load_predictor(run_dir)
        self.best_architecture_ = self.predictor_.architecture.describe()
        return self

    def _checked_rows(self, X: Any) -> pd.DataFrame:
        """X to predict, converted exactly as in fit (after checking the estimator is fitted)."""
        check_is_fitted(self, "predictor_")
        return self._rows(X, reset=False)


class EvonasRegressor(RegressorMixin, _EvonasEstimator):
    """A neural network for regression, its architecture found by a genetic search.

    ``fit`` runs :func:`evolve.run_search` on the rows given. They are split by a
    hash of each row's content (:func:`fitness.load_dataset`): 80% (the rest) train the
    candidates, ``validation_fraction`` (15%) rank them, and 5% are held back as
    the run's test split, which the search never uses (``test.json`` in the run
    directory scores the best network on it); at least a few dozen rows are
    needed for all three splits to get rows. Every fit writes a run directory
    (``run_dir``, new or empty, or else a fresh ``evonas-*`` folder in the
    system's temporary directory, ``tempfile.mkdtemp``); it is kept, and its
    path is ``run_dir_``: delete it when done.

    Args:
        population: individuals per generation (>= 2).
        generations: generations bred after the initial one (>= 1).
        max_epochs: epoch cap per candidate.
        patience: epochs without improvement of the validation loss before a candidate stops.
        workers: trainings at once (default: one per CPU core).
        engine: ``"loky"`` (worker processes) or ``"serial"`` (one training at a time in this
            process: no worker to start, the same results).
        random_state: the search's seed (an integer >= 0; None means 0).
        run_dir: where the run is written; must be new or empty at each fit.
        space: overrides of :class:`genome.SearchSpace`, e.g. ``{"max_levels": 2}``.
        validation_fraction: share of the rows that rank the candidates.
        quiet: no progress bars or per-generation lines.

    Attributes:
        run_dir_: the run directory of the last fit.
        predictor_: the :class:`evolve.predict.Predictor` of the best individual.
        best_architecture_: its architecture in one line.
        n_features_in_: number of columns of X in fit.
        feature_names_in_: their names (a DataFrame with string column names only).

    Example:
        >>> model = EvonasRegressor(population=4, generations=1, space={"max_levels": 2})
        >>> model.fit(X_train, y_train).score(X_test, y_test)   # doctest: +SKIP
        0.83
    """

    _task = "regression"

    def predict(self, X: Any) -> np.ndarray:
        """The predicted target of each row of X (in the target's units)."""
        rows = self._checked_rows(X)
        return self.predictor_.predict(rows)


class EvonasClassifier(ClassifierMixin, _EvonasEstimator):
    """A neural network classifier, its architecture found by a genetic search.

    Labels may be strings or numbers. As for :class:`EvonasRegressor`, the fit
    rows are split by content hash into 80% (the rest) train, ``validation_fraction`` (15%)
    validation and 5% test (held back from the search); every class needs at
    least one train row. The run directory is kept (``run_dir_``). The
    parameters are those of :class:`EvonasRegressor`.

    Attributes:
        classes_: the class labels (sorted), in the order of ``predict_proba``'s columns.
        run_dir_, predictor_, best_architecture_, n_features_in_, feature_names_in_:
            as for :class:`EvonasRegressor`.

    Example:
        >>> model = EvonasClassifier(population=4, generations=1).fit(X_train, pets)  # doctest: +SKIP
        >>> model.classes_, model.predict_proba(X_test)[:1]                      # doctest: +SKIP
        (array(['cat', 'dog'], dtype=object), array([[0.91, 0.09]]))
    """

    _task = "classification"

    def _target(self, y: Any, n_rows: int) -> np.ndarray:
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        y = column_or_1d(y, warn=True)
        check_consistent_length(np.empty(n_rows), y)
        if pd.isna(y).any():
            raise ValueError("Input y contains NaN or None: every row needs its label")
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 classes in y, got 1 class")
        return codes.astype(np.int64)  # the run's labels are 0..K-1, the indices of classes_

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of each row of X, one column per label of ``classes_``."""
        rows = self._checked_rows(X)
        return self.predictor_.predict_proba(rows)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable label of each row of X."""
        proba = self.predict_proba(X)  # first: it checks that the estimator is fitted
        return self.classes_[np.argmax(proba, axis=1)]


__all__ = ["EvonasClassifier", "EvonasRegressor"]
