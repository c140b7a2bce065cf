"""Evaluate one genome: decode, build, train with early stopping, and turn the outcome into a record.

The record is plain data (see :func:`evaluate_genome`); a failing candidate
(an exception, a NaN loss, too many parameters) becomes a record with
``status="failed"`` and no objective, never an exception that stops a search.
:func:`refit_genome` trains a selected architecture again on the train and
validation rows (``search.refit``); :func:`bag_fold_models` averages its fold models instead
(cross-validated). :func:`score_test` measures a saved model
once on the test split (only the final report calls it).

Every evaluation is seeded from ``(run seed, architecture key)`` and
TensorFlow runs with op determinism and a fixed number of threads
(:mod:`fitness.runtime`), so the same genome trains to the same numbers on any
worker, in any order, after any resume.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import time
import traceback
from collections.abc import Sequence
from typing import Any

import numpy as np

from evonas.fitness.data import Dataset
from evonas.fitness.ensemble import average_models
from evonas.fitness.folds import fold_data, row_sample
from evonas.fitness.latency import measure_latency
from evonas.fitness.model import build_model, optimizer_for, with_target_scale
from evonas.fitness.runtime import configure_tensorflow
from evonas.fitness.settings import TrainSettings
from evonas.fitness.trainers import train
from evonas.fitness.transforms import to_model_space
from evonas.genome import Architecture, SearchSpace, decode

PREDICT_BATCH = 1024  # rows per forward call, for the test score and evonas predict alike (same numbers)


def forward(model: Any, x: np.ndarray) -> np.ndarray:
    """The outputs of a Keras ``model`` on the rows ``x``, :data:`PREDICT_BATCH` rows per call.

    The model is called eagerly (``model(batch, training=False)``), not through
    ``model.predict``: that traces a predict function and builds a data pipeline for
    every model it sees, about 0.3 s each on a 2-core machine, which a refit guard,
    an ensemble or a test score pay once per model. The numbers are those of
    ``predict`` (the same layers on the same batches; ``tests/fitness/test_evaluate.py``
    compares them).
    """
    x = np.asarray(x)
    starts = range(0, max(len(x), 1), PREDICT_BATCH)
    return np.concatenate([np.asarray(model(x[i : i + PREDICT_BATCH], training=False)) for i in starts])


def evaluation_seed(run_seed: int, key: str, replicate: int = 0) -> int:
    """The seed of one evaluation: a function of the run seed, the architecture key and the replicate.

    Replicate 0 (a key's first evaluation) has the seed evonas always gave it; replicate r > 0
    (:mod:`evolve.loop`'s racing: the (r+1)-th evaluation of a key) a new one.
    """
    text = f"{run_seed}:{key}" if replicate == 0 else f"{run_seed}:{key}:{replicate}"
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def objective_name(task: str) -> str:
    """What the objective of a task measures (minimised)."""
    return "val_rmse" if task == "regression" else "val_loss"


def failed_record(
    space: SearchSpace,
    genes: np.ndarray,
    data: Dataset,
    run_seed: int,
    error: str | None,
    replicate: int = 0,
) -> dict[str, Any]:
    """The record of a candidate that did not train (also the starting point of every record)."""
    arch = decode(space, genes)
    return {
        "key": arch.key,
        "status": "failed",
        "objective": None,
        "metrics": {},
        "params": data.n_params(arch),
        "epochs": 0,
        "seconds": 0.0,
        "seed": evaluation_seed(run_seed, arch.key, replicate),
        "error": error,
    }


def evaluate_genome(
    space: SearchSpace,
    genes: np.ndarray,
    data: Dataset,
    settings: TrainSettings,
    run_seed: int,
    model_path: str | None = None,
    save_below: float = math.inf,
    epoch_cap: int | None = None,
    latency: bool = False,
    replicate: int = 0,
    row_cap: int | None = None,
) -> dict[str, Any]:
    """Decode, build, train and score one genome; never raises for a bad candidate.

    ``epoch_cap`` (multi-fidelity, :mod:`evolve.fidelity`) stops the training
    after that many epochs; the learning-rate schedule still spans
    ``settings.max_epochs``, so the epochs trained are exactly the first ones of
    the full training (the record then has ``epoch_cap``). ``row_cap`` fits that many of
    the train rows alone (:func:`fitness.row_sample`, the same rows for every network;
    the record then has ``row_cap``, when it is fewer than the train rows). ``latency``: time the
    trained network's predictions too (:mod:`fitness.latency`; ``latency_ms`` and
    ``latency_spread_ms`` in the record of a success). ``replicate``: which evaluation of
    this architecture it is (:func:`evaluation_seed`: another seed for each).

    Returns a plain record: ``key``, ``status`` ("ok" | "failed"), ``objective``
    (minimised: validation RMSE in the target's units for regression,
    validation cross-entropy for classification; ``None`` when failed),
    ``metrics`` (validation metrics in user units), ``params``, ``epochs``,
    ``seconds``, ``seed`` and ``error``. When ``model_path`` is given and the
    objective is below ``save_below``, the model (predicting in the target's
    units) is saved there: workers keep only candidates that may become the best.
    """
    start = time.perf_counter()
    arch = decode(space, genes)
    smears = settings.smears(len(data.y_train))  # decided on the rows of the full training
    if row_cap is not None and row_cap < len(data.y_train):
        data = row_sample(data, row_cap)
    else:
        row_cap = None
    record = failed_record(space, genes, data, run_seed, None, replicate)
    if row_cap is not None:
        record["row_cap"] = int(row_cap)
    if record["params"] > space.max_params:
        record["error"] = f"too many parameters: {record['params']:,} > max_params {space.max_params:,}"
        record["seconds"] = round(time.perf_counter() - start, 3)
        return record
    configure_tensorflow(settings.tf_threads)
    import keras

    try:
        model, history = _train(
            arch,
            data,
            record["seed"],
            min(epoch_cap or settings.max_epochs, settings.max_epochs),
            settings.patience,
            trainer=settings.trainer,
            horizon_epochs=settings.max_epochs,
        )
        if epoch_cap is not None:
            record["epoch_cap"] = int(epoch_cap)
        val_loss = np.asarray(history.get("val_loss", []), dtype="float64")
        losses = np.asarray(history.get("loss", []), dtype="float64")
        record["epochs"] = len(losses)
        if len(val_loss) == 0 or not np.all(np.isfinite(losses)) or not np.all(np.isfinite(val_loss)):
            record["error"] = f"non-finite loss after {len(losses)} epochs"
        else:
            best = int(np.argmin(val_loss))
            if data.task == "regression":
                smear = smearing_factor(model, data) if smears else None
                if smear is not None:
                    record["smear"] = smear
                rmse = val_rmse(model, data, float(val_loss[best]), smear)
                record["objective"] = rmse
                record["metrics"] = {"val_rmse": rmse}
            else:
                acc = float(history["val_accuracy"][best])
                record["objective"] = float(val_loss[best])
                record["metrics"] = {"val_loss": float(val_loss[best]), "val_accuracy": acc}
            record["status"] = "ok"
            record["best_epoch"] = best + 1
            if latency:  # a timing that fails leaves the training's result as it is
                try:
                    record.update(measure_latency(model, data.x_val))
                except Exception as exc:
                    record["latency_error"] = f"{type(exc).__name__}: {exc}"
            if model_path is not None and record["objective"] < save_below:
                _save(model, data, model_path, record.get("smear"))
    except Exception as exc:  # a bad candidate is a record, not a crash
        record["status"] = "failed"
        record["objective"] = None
        last = traceback.extract_tb(exc.__traceback__)[-1:]
        where = f" ({last[0].name})" if last else ""
        record["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}{where}"
    finally:
        keras.backend.clear_session()
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


def smearing_factor(model: Any, data: Dataset) -> float | None:
    """Duan's smearing factor of a trained log-target regression model (``training.smearing``): the mean
    of ``exp`` of its residuals in ``log1p`` units on its train rows; None without a log target, or when
    the factor is not a finite positive number."""
    if data.task != "regression" or data.target_transform != "log":
        return None
    out = np.asarray(forward(model, data.x_train), dtype="float64").reshape(-1)
    residuals = to_model_space(data.y_train.astype("float64"), "log") - (
        out * data.target_std + data.target_mean
    )
    with np.errstate(over="ignore", invalid="ignore"):
        factor = float(np.mean(np.exp(residuals)))
    return factor if math.isfinite(factor) and factor > 0 else None


def val_rmse(model: Any, data: Dataset, best_val_loss: float, smear: float | None = None) -> float:
    """The validation RMSE in the target's units of a trained (best-epoch) regression model.

    Without a target transform it is ``sqrt(val MSE) * target_std`` (the loss is
    the MSE of the standardised target); with ``"log"``, the RMSE of the val
    rows' predictions turned back into target units (:meth:`Dataset.from_model_outputs`),
    which a loss in log units cannot give. A non-finite RMSE is an error.
    """
    if data.target_transform == "none":
        return float(math.sqrt(best_val_loss) * data.target_std)
    out = np.asarray(model(data.x_val, training=False), dtype="float64")
    pred = data.from_model_outputs(out)
    if smear is not None:  # exp(z) * smear - 1
        pred = (pred + 1.0) * smear - 1.0
    err = pred - data.y_val.astype("float64")
    with np.errstate(over="ignore", invalid="ignore"):
        rmse = float(np.sqrt(np.mean(err**2)))
    if not math.isfinite(rmse):
        raise FloatingPointError("non-finite validation predictions in target units")
    return rmse


def _train(
    arch: Architecture,
    data: Dataset,
    seed: int,
    max_epochs: int,
    patience: int,
    restore_best: bool = True,
    trainer: str = "compiled",
    horizon_epochs: int | None = None,
) -> tuple[Any, dict[str, list[float]]]:
    """Build the seeded model of ``arch`` and train it with ``trainer`` (:func:`fitness.trainers.train`).

    The learning-rate schedule spans ``horizon_epochs`` epochs (the search's
    epoch cap; ``max_epochs`` by default), see :func:`fitness.model.optimizer_for`.
    """
    import keras

    keras.backend.clear_session()  # and a garbage collection
    keras.utils.set_random_seed(seed)
    model = build_model(
        arch,
        data.n_features,
        data.n_outputs,
        data.task,
        data.feature_mean,
        data.feature_var,
        seed,
        ple_bins=data.ple_bins,
        image_shape=data.image_shape,
    )
    optimizer = optimizer_for(arch, len(data.x_train), horizon_epochs or max_epochs)
    history = train(trainer, model, arch, optimizer, data, max_epochs, patience, seed, restore_best)
    return model, history


def _save(model: Any, data: Dataset, path: str, smear: float | None = None) -> None:
    """Save a trained model; a regression model is wrapped to predict in the target's units (``smear``:
    its smearing factor, :func:`smearing_factor`)."""
    if data.task == "regression":
        model = with_target_scale(model, data.target_mean, data.target_std, data.target_transform, smear)
    model.save(path)


def train_and_val(data: Dataset) -> Dataset:
    """``data`` with the validation rows added to the train rows (the encoding and scaling stay those
    fitted on the train rows, so the refitted model reads rows exactly as the selected one)."""
    return dataclasses.replace(
        data,
        x_train=np.concatenate([data.x_train, data.x_val]),
        y_train=np.concatenate([data.y_train, data.y_val]),
    )


def refit_genome(
    space: SearchSpace,
    genes: np.ndarray,
    data: Dataset,
    settings: TrainSettings,
    run_seed: int,
    epochs: int,
    model_path: str,
    reference_path: str | None = None,
) -> dict[str, Any]:
    """Train the architecture of ``genes`` again on the train and validation rows, ``epochs`` epochs.

    ``epochs`` is the number early stopping chose in the search (the record's
    ``best_epoch``); there is no early stopping here, since the validation rows
    are training rows now. Same seed as the genome's evaluation. The model is
    saved to ``model_path``. Returns ``{"key", "status", "epochs", "rows",
    "seconds", "error"}``; a failure is a record, not an exception.

    ``reference_path``: the model the search trained (on the train rows only).
    The refit has trained on every train and validation row, so it must fit
    them at least as well as that model, which never saw the validation rows;
    a refit that fits them worse (its training went astray on the new number
    of steps) is ``"rejected"``, with both losses in the record (``fit_loss``,
    ``reference_fit_loss``: RMSE in the target's units, or cross-entropy), and
    the search's model stays the one to use.
    """
    start = time.perf_counter()
    arch = decode(space, genes)
    both = train_and_val(data)
    record: dict[str, Any] = {"key": arch.key, "status": "failed", "epochs": int(epochs), "error": None}
    record["rows"] = len(both.x_train)
    configure_tensorflow(settings.tf_threads)
    import keras

    try:
        seed = evaluation_seed(run_seed, arch.key)
        model, history = _train(
            arch,
            both,
            seed,
            epochs,
            epochs + 1,
            False,
            trainer=settings.trainer,
            horizon_epochs=settings.max_epochs,
        )
        losses = np.asarray(history["loss"], dtype="float64")
        if len(losses) < epochs or not np.all(np.isfinite(losses)):
            record["error"] = f"non-finite loss after {len(losses)} of {epochs} epochs"
        else:
            # fitted on its own train rows
            smear = smearing_factor(model, both) if settings.smears(len(both.y_train)) else None
            if smear is not None:
                record["smear"] = smear
            _save(model, data, model_path, smear)
            record["status"] = "ok"
    except Exception as exc:
        record["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    finally:
        keras.backend.clear_session()
    if record["status"] == "ok" and reference_path is not None:
        _check_refit(record, model_path, reference_path, both)
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


def fit_loss(model_path: str | os.PathLike[str], rows: Dataset) -> float:
    """How a saved model fits the train rows of ``rows`` (RMSE in the target's units, or cross-entropy)."""
    seen = dataclasses.replace(rows, x_test=rows.x_train, y_test=rows.y_train)
    scores = score_test(model_path, seen)
    return scores["test_rmse"] if rows.task == "regression" else scores["test_loss"]


def _check_refit(record: dict[str, Any], model_path: str, reference_path: str, both: Dataset) -> None:
    """Reject the refit (:func:`refit_genome`) that fits the train+val rows worse than the reference model."""
    refit, reference = fit_loss(model_path, both), fit_loss(reference_path, both)
    record["fit_loss"], record["reference_fit_loss"] = refit, reference
    if not refit <= reference:
        record["status"] = "rejected"
        record["error"] = (
            f"it fits the train+val rows worse than the search's model ({refit:.4g} against "
            f"{reference:.4g}), which is kept"
        )


def bag_fold_models(
    space: SearchSpace,
    genes: np.ndarray,
    data: Dataset,
    settings: TrainSettings,
    run_seed: int,
    model_path: str,
    fold_paths: Sequence[str],
    epoch_cap: int | None = None,
    row_cap: int | None = None,
) -> dict[str, Any]:
    """The K fold models of ``genes`` averaged into one model, saved at ``model_path``.

    What a cross-validated search (``search.folds`` = K = ``len(fold_paths)``) delivers
    for a selected network instead of a refit: fold ``r``'s model is the network trained
    on the other folds' rows and early-stopped on fold ``r`` (replicate ``r`` of the
    search, :func:`fitness.fold_data`). It is read from ``fold_paths[r]`` when the search
    kept it there, else trained here and saved there, which gives the model the search
    would have (same rows, same seed, ``epoch_cap`` and ``row_cap`` as the search's). The average is one
    Keras model (:func:`fitness.ensemble.average_models`): regression predictions in the
    target's units, or class probabilities. Returns ``{"key", "status", "kind": "folds",
    "folds", "trained", "rows", "seconds", "error"}`` (``trained``: fold models trained
    here); a failure is a record, not an exception.
    """
    start = time.perf_counter()
    arch = decode(space, genes)
    folds = len(fold_paths)
    record: dict[str, Any] = {"key": arch.key, "status": "failed", "kind": "folds", "folds": folds}
    record.update(trained=0, rows=int(len(data.y_train) + len(data.y_val)), error=None)
    configure_tensorflow(settings.tf_threads)
    import keras

    for r, path in enumerate(fold_paths):
        if os.path.isfile(path):
            continue
        rows = fold_data(data, r, folds)
        trained = evaluate_genome(
            space, genes, rows, settings, run_seed, path, epoch_cap=epoch_cap, replicate=r, row_cap=row_cap
        )
        record["trained"] += 1
        if trained["status"] != "ok" or not os.path.isfile(path):
            record["error"] = f"fold {r}: {trained.get('error') or 'no model saved'}"
            record["seconds"] = round(time.perf_counter() - start, 3)
            return record
    try:
        models = [keras.models.load_model(p) for p in fold_paths]
        average_models(models, [f"fold_{r}" for r in range(folds)], name="folds").save(model_path)
        record["status"] = "ok"
    except Exception as exc:
        record["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    finally:
        keras.backend.clear_session()
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


def score_test(
    model_path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    data: Dataset,
    weights: Sequence[float] | None = None,
) -> dict[str, float]:
    """Measure a saved model once on the held-out test split (used only by the final report).

    Given several paths, the ensemble of those models is measured on its averaged
    output, as :func:`fitness.ensemble.average_models` gives it: regression, the
    mean prediction in the target's units; classification, the mean of the class
    probabilities (accuracy from its argmax; cross-entropy from the members'
    float64 log-probabilities, ``log(mean(p))`` as a log-sum-exp, so no clip is needed).
    ``weights`` (one per path; None: equal) make it the weighted mean, as
    :func:`fitness.ensemble.average_models` with those weights.
    """
    configure_tensorflow(1)
    import keras

    paths = [model_path] if isinstance(model_path, (str, os.PathLike)) else list(model_path)
    w = np.ones(len(paths)) if weights is None else np.asarray(weights, dtype=np.float64)
    if len(w) != len(paths) or (w <= 0).any():
        raise ValueError("score_test needs one positive weight per model")
    w = w / w.sum()
    models = [keras.models.load_model(p) for p in paths]
    preds = [forward(m, data.x_test) for m in models]
    if data.task == "regression":
        if len(preds) == 1:
            pred = preds[0]
        else:
            pred = np.tensordot(w, np.asarray([p.astype("float64") for p in preds]), axes=1)
        err = pred.reshape(-1).astype("float64") - data.y_test.astype("float64")
        return {"test_rmse": float(np.sqrt(np.mean(err**2))), "test_rows": int(len(err))}
    y = data.y_test.astype("int64")
    log_probs = []
    for model, pred in zip(models, preds, strict=True):
        logits = _logits(model, data.x_test)
        if logits is None:  # not a model of fitness.model: the log of its probabilities, renormalised
            logits = np.log(np.clip(pred.astype("float64"), 1e-300, None))
        log_probs.append(log_softmax(logits))
    if len(models) == 1:
        log_p, proba = log_probs[0], preds[0]
    else:
        stacked = np.stack(log_probs)
        top = np.max(stacked, axis=0)
        log_p = top + np.log(np.tensordot(w, np.exp(stacked - top), axes=1))
        proba = np.tensordot(w, np.asarray([p.astype("float64") for p in preds]), axes=1)
    ce = float(-np.mean(log_p[np.arange(len(y)), y]))
    acc = float(np.mean(np.argmax(proba, axis=1) == y))
    return {"test_loss": ce, "test_accuracy": acc, "test_rows": int(len(y))}


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``logits - logsumexp(logits)`` per row, in float64: the formula of the training and validation loss.

    :func:`fitness.trainers.plain.softmax_cross_entropy` computes the same in the
    compiled graph (float32): ``shifted = logits - max``, ``shifted - log(sum(exp(shifted)))``.
    """
    z = np.asarray(logits, dtype="float64")
    shifted = z - np.max(z, axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def _logits(model: Any, x: np.ndarray) -> np.ndarray | None:
    """The pre-softmax output of a classification model of :func:`fitness.model.build_model`, or None.

    The saved model ends in ``Dense(activation="softmax", name="output")``: its
    input, from a sub-model, times its kernel plus its bias are the logits (in
    float64), so the test cross-entropy is computed as the validation loss is,
    from the logits, not from probabilities that underflow to 0 (and then needed a clip).
    """
    import keras

    try:
        head = model.get_layer("output")
    except ValueError:
        return None
    if getattr(head, "activation", None) is not keras.activations.softmax or not hasattr(head, "kernel"):
        return None
    features = forward(keras.Model(model.input, head.input), x)
    kernel, bias = (np.asarray(v, dtype="float64") for v in (head.kernel, head.bias))
    return np.asarray(features, dtype="float64") @ kernel + bias


__all__ = [
    "PREDICT_BATCH",
    "evaluate_genome",
    "refit_genome",
    "train_and_val",
    "evaluation_seed",
    "failed_record",
    "forward",
    "log_softmax",
    "objective_name",
    "score_test",
    "val_rmse",
]
