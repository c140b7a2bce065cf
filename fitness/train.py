"""Train one candidate with early stopping and turn the outcome into a record.

The record is plain data (see :func:`evaluate_genome`); a failing candidate
(an exception, a NaN loss, too many parameters) becomes a record with
``status="failed"`` and no objective, never an exception that stops a search.

Every evaluation is seeded from ``(run seed, architecture key)`` and
TensorFlow runs with op determinism and a fixed number of threads, so the same
genome trains to the same numbers on any worker, in any order, after any resume.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import math
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from fitness.data import Dataset
from fitness.model import build_model, make_optimizer, with_target_scale
from fitness.trainer import train_compiled
from genome import SearchSpace, decode


class SettingsError(ValueError):
    """Invalid training setting (one clear line naming the key)."""


@dataclass(frozen=True)
class TrainSettings:
    """How each candidate is trained.

    Attributes:
        max_epochs: Epoch cap per candidate.
        patience: Epochs without improvement of the validation loss before stopping
            (the best weights are restored).
        tf_threads: TensorFlow threads per worker. Fixed (not derived from the
            machine) so that results do not depend on where a candidate runs.
    """

    max_epochs: int = 30
    patience: int = 4
    tf_threads: int = 1

    def __post_init__(self) -> None:
        for name in ("max_epochs", "patience", "tf_threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SettingsError(f"training.{name} must be an integer >= 1, got {value!r}")

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainSettings:
        known = set(cls.__dataclass_fields__)
        for k in d:
            if k not in known:
                raise SettingsError(f"unknown key 'training.{k}' (known: {', '.join(sorted(known))})")
        return cls(**dict(d))


_CONFIGURED: dict[str, int] = {}


def import_tensorflow():
    """Import TensorFlow without its start-up chatter on stderr (shown only if the import fails)."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as chatter:
        os.dup2(chatter.fileno(), 2)
        try:
            import tensorflow as tf
        except BaseException:
            os.dup2(saved, 2)
            chatter.seek(0)
            sys.stderr.write(chatter.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return tf


def configure_tensorflow(threads: int) -> None:
    """Set TensorFlow threads, op determinism and GPU memory growth, once per process.

    The first call also imports Keras and then freezes every object alive at that
    point (``gc.freeze``): the ~400,000 objects of the TensorFlow and Keras modules
    live as long as the process, and without this each of the garbage collections
    done between candidates walks all of them (about 0.2 s each on a 2-core machine,
    measured; two per candidate). Afterwards a collection only looks at what the
    candidates created.
    """
    if _CONFIGURED.get("threads") == threads:
        return
    tf = import_tensorflow()

    if "threads" not in _CONFIGURED:
        import keras  # noqa: F401  (imported here so that its modules are frozen below)

        gc.collect()
        gc.freeze()
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # runtime already initialised by the caller: keep its setting
            pass
        for gpu in tf.config.list_physical_devices("GPU"):
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:
                pass
        tf.config.experimental.enable_op_determinism()
    _CONFIGURED["threads"] = threads


def evaluation_seed(run_seed: int, key: str) -> int:
    """The seed of one evaluation: a function of the run seed and the architecture key only."""
    digest = hashlib.sha256(f"{run_seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def objective_name(task: str) -> str:
    """What the objective of a task measures (minimised)."""
    return "val_rmse" if task == "regression" else "val_loss"


def failed_record(
    space: SearchSpace, genes: np.ndarray, data: Dataset, run_seed: int, error: str | None
) -> dict[str, Any]:
    """The record of a candidate that did not train (also the starting point of every record)."""
    arch = decode(space, genes)
    return {
        "key": arch.key,
        "status": "failed",
        "objective": None,
        "metrics": {},
        "params": arch.n_params(data.n_features, data.n_outputs),
        "epochs": 0,
        "seconds": 0.0,
        "seed": evaluation_seed(run_seed, arch.key),
        "error": error,
    }


def estimated_seconds(space: SearchSpace, genes: np.ndarray, data: Dataset, settings: TrainSettings) -> float:
    """Roughly how long evaluating ``genes`` takes on one CPU thread, to start the longest candidates first.

    Early stopping makes the number of epochs unknown, so this assumes
    ``settings.max_epochs``; what matters is the order it puts candidates in,
    not the seconds. Per epoch: the matrix products (parameters x training
    rows), the per-step work on every weight (optimizer update, gradients:
    parameters x steps) and a little per step; plus a fixed part (build, trace,
    score). The coefficients were fitted by least squares on the 38 trained
    candidates of ``benchmarks/train_speed.py --part throughput`` (2-core AMD
    EPYC, 2026-12-01): with their real epochs, the estimate's correlation with
    the measured seconds was 0.98. A candidate over ``max_params`` is rejected
    before it trains: 0.
    """
    arch = decode(space, genes)
    params = arch.n_params(data.n_features, data.n_outputs)
    if params > space.max_params:
        return 0.0
    rows = len(data.x_train)
    steps = math.ceil(rows / arch.batch_size)
    per_epoch = 8.6e-11 * params * rows + 1.8e-9 * params * steps + 1.0e-5 * steps
    return 0.46 + settings.max_epochs * per_epoch


def inject_faults(params: int) -> None:
    """Testing aid: simulate failures chosen by the ``EVONAS_FAULTS`` environment variable.

    ``EVONAS_FAULTS="exit_above=N"`` kills the worker process (as the kernel's
    out-of-memory killer would) for candidates with more than N parameters;
    ``"raise_above=N"`` raises an exception while building them; ``"sleep=S"``
    makes every candidate take S seconds longer (so that tests can interrupt a
    run mid-generation however fast training is). Rules combine with commas.
    Unset (the normal case), this does nothing.
    """
    spec = os.environ.get("EVONAS_FAULTS")
    if not spec:
        return
    for rule in spec.split(","):
        name, _, value = rule.partition("=")
        if name.strip() == "exit_above" and params > int(value):
            os._exit(137)
        if name.strip() == "raise_above" and params > int(value):
            raise RuntimeError(f"injected fault: {params} parameters > {value}")
        if name.strip() == "sleep":
            time.sleep(float(value))


def evaluate_genome(
    space: SearchSpace,
    genes: np.ndarray,
    data: Dataset,
    settings: TrainSettings,
    run_seed: int,
    model_path: str | None = None,
    save_below: float = math.inf,
) -> dict[str, Any]:
    """Decode, build, train and score one genome; never raises for a bad candidate.

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
    record = failed_record(space, genes, data, run_seed, None)
    if record["params"] > space.max_params:
        record["error"] = f"too many parameters: {record['params']:,} > max_params {space.max_params:,}"
        record["seconds"] = round(time.perf_counter() - start, 3)
        return record
    configure_tensorflow(settings.tf_threads)
    import keras

    try:
        keras.backend.clear_session()  # and a garbage collection
        keras.utils.set_random_seed(record["seed"])
        inject_faults(record["params"])
        model = build_model(
            arch,
            data.n_features,
            data.n_outputs,
            data.task,
            data.feature_mean,
            data.feature_var,
            record["seed"],
        )
        optimizer = make_optimizer(arch.optimizer, arch.learning_rate)
        history = train_compiled(
            model, arch, optimizer, data, settings.max_epochs, settings.patience, record["seed"]
        )
        val_loss = np.asarray(history.get("val_loss", []), dtype="float64")
        losses = np.asarray(history.get("loss", []), dtype="float64")
        record["epochs"] = len(losses)
        if len(val_loss) == 0 or not np.all(np.isfinite(losses)) or not np.all(np.isfinite(val_loss)):
            record["error"] = f"non-finite loss after {len(losses)} epochs"
        else:
            best = int(np.argmin(val_loss))
            if data.task == "regression":
                rmse = float(math.sqrt(val_loss[best]) * data.target_std)
                record["objective"] = rmse
                record["metrics"] = {"val_rmse": rmse}
            else:
                acc = float(history["val_accuracy"][best])
                record["objective"] = float(val_loss[best])
                record["metrics"] = {"val_loss": float(val_loss[best]), "val_accuracy": acc}
            record["status"] = "ok"
            record["best_epoch"] = best + 1
            if model_path is not None and record["objective"] < save_below:
                saved = model
                if data.task == "regression":
                    saved = with_target_scale(model, data.target_mean, data.target_std)
                saved.save(model_path)
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


def score_test(model_path: str, data: Dataset) -> dict[str, float]:
    """Measure a saved model once on the held-out test split (used only by the final report)."""
    configure_tensorflow(1)
    import keras

    model = keras.models.load_model(model_path)
    pred = model.predict(data.x_test, batch_size=1024, verbose=0)
    if data.task == "regression":
        err = pred.reshape(-1).astype("float64") - data.y_test.astype("float64")
        return {"test_rmse": float(np.sqrt(np.mean(err**2))), "test_rows": int(len(err))}
    p = np.clip(pred.astype("float64"), 1e-12, 1.0)
    y = data.y_test.astype("int64")
    ce = float(-np.mean(np.log(p[np.arange(len(y)), y])))
    acc = float(np.mean(np.argmax(p, axis=1) == y))
    return {"test_loss": ce, "test_accuracy": acc, "test_rows": int(len(y))}


__all__ = [
    "SettingsError",
    "TrainSettings",
    "configure_tensorflow",
    "evaluate_genome",
    "evaluation_seed",
    "failed_record",
    "objective_name",
    "score_test",
]
