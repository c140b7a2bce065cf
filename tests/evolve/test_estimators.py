"""The scikit-learn estimators (evolve/estimators.py): API rules, cross-validation, pipelines, grid search.

Every fit runs a real (tiny) search: ``TINY`` is 2 individuals, 1 generation,
1 epoch, networks of one unit of 4 neurons, on the serial engine (in the test's
process: no worker process importing TensorFlow at every fit). Every test that
fits is marked ``slow``; the quick tier checks the parameters, ``clone``,
``get_params`` / ``set_params`` and the checks of scikit-learn that never fit.
Run directories go to pytest's ``tmp_path`` (``run_dir``, or ``tempfile.tempdir``
pointed there for fits that make their own).

scikit-learn's own checks (``estimator_checks_generator``, the generator behind
``parametrize_with_checks``, with the marks chosen here) run on both estimators.

Run, quick tier (no fit): cloneable, tags, repr, no attributes set in
``__init__``, ``NotFittedError`` before fit, ``__init__`` / ``set_params`` raise
nothing, mixin order, complex / empty / sparse X refused, NaN in y and
``y=None`` refused, 1-d X refused, 1 sample refused, a single class refused,
continuous y refused by the classifier, default-constructible parameters,
``get_params`` invariance, ``set_params``, no ``partial_fit`` / ``n_iter_`` /
``decision_function`` to check. ``check_array_api_input`` skips itself
(``SCIPY_ARRAY_API`` unset). Run, slow tier (they fit): regressor
``check_dont_overwrite_parameters``, ``check_n_features_in_after_fitting``,
``check_estimators_pickle`` (twice: plain and read-only memmap data),
``check_fit_check_is_fitted``, ``check_n_features_in``, ``check_fit2d_predict1d``;
classifier ``check_estimators_overwrite_params``, ``check_estimators_fit_returns_self``.

Expected failures (``xfail``, not strict; they fail in ``load_dataset``, before
anything trains, so they cost nothing): the check's data (10-30 rows) is too
small for the content-hash three-way split, which leaves the validation or test
split empty (``DataError``; ``check_fit2d_1feature`` and
``check_positive_only_tag_during_fit`` turn it into an ``AssertionError``). Each
xfail names the exception it expects: any other error fails the test. Which
checks hit it depends on the rows each check draws. Regressor: ``check_estimators_overwrite_params``,
``check_estimators_fit_returns_self``, ``check_readonly_memmap_input``,
``check_estimators_dtypes``, ``check_pipeline_consistency``, ``check_fit2d_1feature``.
Classifier: ``check_fit_score_takes_y``, ``check_dont_overwrite_parameters``,
``check_n_features_in_after_fitting``, ``check_positive_only_tag_during_fit``,
``check_estimators_dtypes``, ``check_pipeline_consistency``,
``check_estimators_pickle`` (both), ``check_f_contiguous_array_estimator``,
``check_classifier_data_not_an_array``, ``check_classifiers_classes``,
``check_supervised_y_2d``, ``check_methods_sample_order_invariance``,
``check_methods_subset_invariance``, ``check_fit2d_1feature``,
``check_dict_unchanged``, ``check_fit2d_predict1d``. (The API rules these would
test, fit returning self, no parameter changed by fit, are checked on the other
estimator or by the tests above.)

Skipped for time: each trains one to four searches (5-25 s); they pass (run once
with ``EVONAS_SKLEARN_CHECKS=all``, which runs them). Regressor:
``check_fit_score_takes_y``, ``check_positive_only_tag_during_fit``,
``check_dtype_object``, ``check_f_contiguous_array_estimator``,
``check_regressor_data_not_an_array``, ``check_regressors_no_decision_function``,
``check_supervised_y_2d``, ``check_regressors_int``,
``check_methods_sample_order_invariance``, ``check_methods_subset_invariance``,
``check_dict_unchanged``, ``check_fit_idempotent``. Classifier:
``check_readonly_memmap_input``, ``check_dtype_object``, ``check_fit_idempotent``,
``check_fit_check_is_fitted``, ``check_n_features_in``.

Skipped always: ``check_regressors_train`` and ``check_classifiers_train`` (3
each) want R^2 > 0.5 or accuracy > 0.83, which 1 epoch of a 4-neuron network
does not reach (they fail on ``TINY``); an xfail would still train, 11-22 s each.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import estimator_checks_generator

from evonas.evolve.config import ConfigError
from evonas.evolve.estimators import EvonasClassifier, EvonasRegressor
from evonas.evolve.rundir import RunDirError
from evonas.fitness import DataError

TINY: dict[str, Any] = {
    "population": 2,
    "generations": 1,
    "max_epochs": 1,
    "patience": 1,
    "engine": "serial",  # in this process: no worker process importing TensorFlow at every fit
    "space": {"max_levels": 1, "max_units": 1, "neuron_choices": [4]},
}


@pytest.fixture
def temp_runs(tmp_path, monkeypatch):
    """Fits without ``run_dir`` make their ``evonas-*`` folders under ``tmp_path``."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def mixed_frame(n: int = 150, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Numeric and categorical columns (one with a missing value), a noisy target."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "area": rng.normal(100, 20, n),
            "rooms": rng.integers(1, 6, n),
            "kind": rng.choice(["flat", "house", "villa"], n),
            "city": pd.Categorical(rng.choice(["a", "b"], n)),
        }
    )
    X.loc[3, "area"] = np.nan
    y = 2.0 * X["area"].fillna(100) + 30.0 * (X["kind"] == "villa") + rng.normal(0, 10, n)
    return X, pd.Series(y, name="price")


# -- quick: parameters, clone, no fitting ------------------------------------------------------


@pytest.mark.parametrize("cls", [EvonasRegressor, EvonasClassifier])
def test_constructor_stores_parameters_unchanged_and_clone_copies_them(cls):
    space = {"max_levels": 2}
    model = cls(population=3, generations=4, max_epochs=5, patience=2, workers=1, engine="serial",
                random_state=7, run_dir="somewhere", space=space, validation_fraction=0.2, quiet=False)
    params = model.get_params()
    assert params == {
        "population": 3, "generations": 4, "max_epochs": 5, "patience": 2, "workers": 1, "engine": "serial",
        "random_state": 7, "run_dir": "somewhere", "space": {"max_levels": 2},
        "validation_fraction": 0.2, "quiet": False,
    }
    assert model.space is space  # stored as given, not copied or validated
    copy = clone(model)
    assert copy is not model and copy.get_params() == params
    assert copy.set_params(population=5) is copy and copy.population == 5 and model.population == 3
    assert not [k for k in vars(model) if k.endswith("_")]  # nothing fitted


def test_defaults_and_bad_values_are_accepted_until_fit(temp_runs):
    assert EvonasRegressor().get_params() == {
        "population": 8, "generations": 2, "max_epochs": 30, "patience": 4, "workers": None, "engine": "loky",
        "random_state": 0, "run_dir": None, "space": None, "validation_fraction": 0.15, "quiet": True,
    }
    X, y = mixed_frame(40)
    bad = EvonasRegressor(population=1)  # no validation in __init__ ...
    with pytest.raises(ConfigError, match="population"):  # ... but at fit, before anything trains
        bad.fit(X, y)
    with pytest.raises(ValueError, match="validation_fraction"):
        EvonasRegressor(validation_fraction=0.99).fit(X, y)
    with pytest.raises(ValueError, match="random_state"):
        EvonasRegressor(random_state="seven").fit(X, y)
    with pytest.raises(ConfigError, match="max_levels"):
        EvonasRegressor(space={"max_levels": 0}).fit(X, y)
    with pytest.raises(ConfigError, match="search.engine must be one of loky, serial, dask"):
        EvonasRegressor(engine="threads").fit(X, y)
    assert list(temp_runs.iterdir()) == []  # no run directory made


def test_predict_before_fit_raises_not_fitted():
    X, _ = mixed_frame(10)
    with pytest.raises(NotFittedError):
        EvonasRegressor().predict(X)
    with pytest.raises(NotFittedError):
        EvonasClassifier().predict_proba(X)


def test_a_run_dir_that_is_not_empty_is_refused_before_training(tmp_path):
    (tmp_path / "old.txt").write_text("x")
    X, y = mixed_frame(60)
    with pytest.raises(RunDirError, match="not empty"):
        EvonasRegressor(run_dir=tmp_path).fit(X, y)


# -- slow: real (tiny) searches ------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted_regressor(tmp_path_factory):
    X, y = mixed_frame()
    run_dir = tmp_path_factory.mktemp("estimators") / "reg-run"
    model = EvonasRegressor(**TINY, run_dir=run_dir)
    assert model.fit(X, y) is model
    return model, X, y


@pytest.mark.slow
def test_regressor_fit_sets_attributes_and_predicts_frames(fitted_regressor):
    model, X, y = fitted_regressor
    assert model.run_dir_ == model.run_dir and (model.run_dir_ / "test.json").is_file()
    assert model.n_features_in_ == 4
    assert list(model.feature_names_in_) == ["area", "rooms", "kind", "city"]
    assert isinstance(model.best_architecture_, str) and "1 level" in model.best_architecture_
    pred = model.predict(X.iloc[:7])
    assert pred.shape == (7,) and np.isfinite(pred).all()
    np.testing.assert_allclose(model.predict(X.iloc[3:5]), pred[3:5], rtol=1e-5)  # row-wise
    assert np.isfinite(model.score(X, y))
    with pytest.raises(ValueError, match="feature names"):  # columns in another order
        model.predict(X[["rooms", "area", "kind", "city"]])
    with pytest.raises(RunDirError, match="not empty"):  # the same run_dir twice
        clone(model).fit(X, y)


@pytest.mark.slow
def test_cross_val_score_on_numeric_and_categorical_columns(temp_runs):
    X, y = mixed_frame()
    scores = cross_val_score(EvonasRegressor(**TINY), X, y, cv=2)  # two folds: clone, fit, score each
    assert scores.shape == (2,) and np.isfinite(scores).all()
    runs = [p for p in temp_runs.iterdir() if p.name.startswith("evonas-") and (p / "config.toml").is_file()]
    assert len(runs) == 2  # one run directory per fold, kept


@pytest.mark.slow
def test_classifier_with_string_labels(tmp_path):
    X, y = mixed_frame(120, seed=1)
    labels = np.where(y > y.median(), "dear", "cheap").astype(object)
    labels[:10] = "mid"
    model = EvonasClassifier(**TINY, run_dir=tmp_path / "run").fit(X, labels)
    assert list(model.classes_) == ["cheap", "dear", "mid"]
    proba = model.predict_proba(X)
    assert proba.shape == (120, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    pred = model.predict(X)
    assert set(pred) <= {"cheap", "dear", "mid"}
    np.testing.assert_array_equal(pred, model.classes_[proba.argmax(axis=1)])
    assert 0.0 <= model.score(X, labels) <= 1.0


@pytest.mark.slow
def test_pipeline_clone_and_grid_search_set_the_parameters(temp_runs):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(0, 0.1, 120)
    pipe = Pipeline([("scale", StandardScaler()), ("nas", EvonasRegressor(**TINY))])
    copy = clone(pipe)
    assert copy.get_params()["nas__space"] == TINY["space"]
    search = GridSearchCV(copy, param_grid={"nas__population": [2, 3]}, cv=2).fit(X, y)
    assert search.best_params_["nas__population"] in (2, 3)
    assert sorted(search.cv_results_["param_nas__population"]) == [2, 3]
    best = search.best_estimator_.named_steps["nas"]
    assert best.n_features_in_ == 3 and not hasattr(best, "feature_names_in_")  # arrays: x0, x1, x2
    assert search.predict(X[:4]).shape == (4,)
    assert pipe.named_steps["nas"].population == 2 and not hasattr(pipe.named_steps["nas"], "predictor_")


# -- scikit-learn's estimator checks -----------------------------------------------------------------

NO_FIT = {  # checks that never train (quick tier)
    "check_estimator_cloneable", "check_estimator_tags_renamed", "check_valid_tag_types",
    "check_estimator_repr", "check_no_attributes_set_in_init", "check_estimators_unfitted",
    "check_do_not_raise_errors_in_init_or_set_params", "check_mixin_order", "check_complex_data",
    "check_estimators_empty_data_messages", "check_estimator_sparse_tag", "check_estimator_sparse_array",
    "check_estimator_sparse_matrix", "check_estimators_partial_fit_n_features", "check_supervised_y_no_nan",
    "check_non_transformer_estimators_n_iter", "check_parameters_default_constructible",
    "check_get_params_invariance", "check_set_params", "check_fit1d", "check_requires_y_none",
    "check_fit2d_1sample", "check_classifiers_one_label", "check_classifiers_one_label_sample_weights",
    "check_classifiers_regression_target", "check_decision_proba_consistency", "check_array_api_input",
}
SMALL = "its 10-30 rows leave a split of the content-hash train/val/test split empty (DataError)"
EXPECTED_FAILED = {
    "EvonasRegressor": (
        "check_estimators_overwrite_params", "check_estimators_fit_returns_self",
        "check_readonly_memmap_input", "check_estimators_dtypes", "check_pipeline_consistency",
        "check_fit2d_1feature",
    ),
    "EvonasClassifier": (
        "check_fit_score_takes_y", "check_dont_overwrite_parameters", "check_n_features_in_after_fitting",
        "check_positive_only_tag_during_fit", "check_estimators_dtypes", "check_pipeline_consistency",
        "check_estimators_pickle", "check_f_contiguous_array_estimator", "check_classifier_data_not_an_array",
        "check_classifiers_classes", "check_supervised_y_2d", "check_methods_sample_order_invariance",
        "check_methods_subset_invariance", "check_fit2d_1feature", "check_dict_unchanged",
        "check_fit2d_predict1d",
    ),
}
REWORDED = ("check_fit2d_1feature", "check_positive_only_tag_during_fit")  # the DataError comes back
SLOW = "trains one or more searches (5-25 s); EVONAS_SKLEARN_CHECKS=all runs it"
POOR = "wants R^2 > 0.5 / accuracy > 0.83 from 1 epoch of a 4-neuron network; an xfail would still train"
SKIPPED_FOR_TIME = {
    "EvonasRegressor": (
        "check_fit_score_takes_y", "check_positive_only_tag_during_fit", "check_dtype_object",
        "check_f_contiguous_array_estimator", "check_regressor_data_not_an_array",
        "check_regressors_no_decision_function", "check_supervised_y_2d", "check_regressors_int",
        "check_methods_sample_order_invariance", "check_methods_subset_invariance", "check_dict_unchanged",
        "check_fit_idempotent",
    ),
    "EvonasClassifier": (
        "check_readonly_memmap_input", "check_dtype_object", "check_fit_idempotent",
        "check_fit_check_is_fitted", "check_n_features_in",
    ),
}
POOR_SCORE = ("check_regressors_train", "check_classifiers_train")


def _sklearn_checks() -> list[Any]:
    run_all = os.environ.get("EVONAS_SKLEARN_CHECKS") == "all"
    params = []
    for estimator in (EvonasRegressor(**TINY), EvonasClassifier(**TINY)):
        kind = type(estimator).__name__
        for instance, check in estimator_checks_generator(estimator, mark=None):
            name = check.func.__name__
            marks = [] if name in NO_FIT else [pytest.mark.slow]
            if name in EXPECTED_FAILED[kind]:  # only for that reason: another error fails the test
                raises = AssertionError if name in REWORDED else DataError
                marks.append(pytest.mark.xfail(reason=SMALL, raises=raises, strict=False))
            elif name in POOR_SCORE:
                marks.append(pytest.mark.skip(reason=POOR))
            elif name in SKIPPED_FOR_TIME[kind] and not run_all:
                marks.append(pytest.mark.skip(reason=SLOW))
            params.append(pytest.param(instance, check, marks=marks, id=f"{kind}-{name}"))
    return params


@pytest.mark.parametrize("estimator, check", _sklearn_checks())
def test_sklearn_estimator_checks(estimator, check, temp_runs):
    check(estimator)
