"""Apply a network a search found to new raw rows: ``load_predictor`` and ``evonas predict``.

A :class:`Predictor` reads a run directory and never writes into it: the
encoding (``encoder.json``, fitted on the run's train rows), the model of the
chosen individual (``best/model.keras`` for the best; any other individual is
trained again, deterministically, in a temporary folder), and the class labels.
With ``search.ensemble`` > 1 the default is the ensemble of the K best
(:mod:`evolve.ensemble`): one Keras model averaging its members' outputs.
Raw rows go through the same encoding as in training, so a row predicts as
the search saw it.

Example:
    >>> from evonas import load_predictor
    >>> model = load_predictor("runs/my-ames")             # doctest: +SKIP
    >>> model.predict(new_houses)[:3]                       # doctest: +SKIP
    array([181234.5, 143020.1, 251877.9])
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evonas.evolve.api import load_data
from evonas.evolve.delivered import Delivered, delivered_model
from evonas.evolve.logbook import no_success_reason
from evonas.evolve.rundir import ENCODER, RunDir, RunDirError
from evonas.fitness import DataError, evaluate_genome, fold_data
from evonas.fitness.encoder import Encoded, Encoder
from evonas.fitness.evaluate import forward
from evonas.fitness.images import FILE, is_image_source, read_images
from evonas.fitness.runtime import import_tensorflow, in_callers_process
from evonas.fitness.validate import read_table_file
from evonas.genome import Architecture, decode

PREDICTION = "prediction"


def proba_column(label: Any) -> str:
    """The name of the probability column of one class: ``proba_<label>``."""
    return f"proba_{label}"


def _no_model_reason(run: RunDir) -> str:
    reason = no_success_reason(run.individuals())
    return "no generation has finished yet" if reason is None else f"every candidate failed ({reason})"


class Predictor:
    """The encoding and the trained model of one individual of a run (see :func:`load_predictor`).

    Attributes:
        run_dir: the run directory read.
        id: the individual whose network predicts.
        architecture: its decoded architecture.
        encoder: the encoding of raw rows (fitted on the run's train rows).
        keras_model: the Keras model; it takes the encoded rows and gives target
            units (regression) or class probabilities (classification).
        refitted: the model is the best retrained on train+val rows (``search.refit``).
        members: the ids of the ensemble's members, best first, when the model is
            the ensemble (``search.ensemble`` > 1; ``id`` is then the first); empty otherwise.
    """

    def __init__(
        self,
        run_dir: Path,
        id: int,
        architecture: Architecture,
        encoder: Encoder,
        keras_model: Any,
        refitted: bool = False,
        members: tuple[int, ...] = (),
    ) -> None:
        self.refitted = refitted
        self.members = tuple(members)
        self.run_dir = run_dir
        self.id = id
        self.architecture = architecture
        self.encoder = encoder
        self.keras_model = keras_model

    @property
    def task(self) -> str:
        return self.encoder.task

    def describe(self) -> str:
        """``#58``, or ``the ensemble of #58, #61, #40`` (for the command line)."""
        if self.members:
            return "the ensemble of " + ", ".join(f"#{i}" for i in self.members)
        return f"#{self.id}"

    @property
    def classes_(self) -> np.ndarray:
        """The class labels, in the order of :meth:`predict_proba`'s columns (empty for regression)."""
        return np.asarray(self.encoder.classes, dtype=object if self.encoder.classes else float)

    def encode(self, rows: pd.DataFrame, where: str = "the rows") -> Encoded:
        """The rows as the model's input, with counts of unseen levels and missing numbers."""
        if not isinstance(rows, pd.DataFrame):
            raise DataError(f"{where} must be a pandas DataFrame with the training columns")
        if len(rows) == 0:
            raise DataError(f"{where} have no rows: give at least one row to predict")
        return self.encoder.transform(rows, where)

    def _outputs(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(forward(self.keras_model, x), dtype=np.float64)

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        """Target values (regression, in the target's units) or class labels (classification)."""
        out = self._outputs(self.encode(rows).x)
        if self.task == "regression":
            return out.reshape(-1)
        return self.classes_[np.argmax(out, axis=1)]

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        """Class probabilities, one column per label of :attr:`classes_` (classification only)."""
        if self.task == "regression":
            raise DataError("predict_proba needs a classification run; this run is a regression")
        return self._outputs(self.encode(rows).x)

    def predict_frame(self, rows: pd.DataFrame, proba: bool = False, where: str = "the rows") -> pd.DataFrame:
        """The identifier columns of ``rows`` (to join back), ``prediction`` and, with ``proba``, one
        ``proba_<label>`` column per class.

        ``.attrs`` holds the counts of unseen levels and missing numbers.
        """
        if proba and self.task == "regression":
            raise DataError("--proba needs a classification run; this run is a regression")
        encoded = self.encode(rows, where)
        out = self._outputs(encoded.x)
        ids = [c for c in self.encoder.id_columns if c in rows.columns]
        if self.encoder.image_shape and FILE in rows.columns and FILE not in ids:
            ids.insert(0, FILE)  # which image each prediction is of
        frame = rows[ids].reset_index(drop=True).copy()
        if self.task == "regression":
            frame[PREDICTION] = out.reshape(-1)
        else:
            frame[PREDICTION] = self.classes_[np.argmax(out, axis=1)]
            if proba:
                for k, label in enumerate(self.encoder.classes):
                    frame[proba_column(label)] = out[:, k]
        frame.attrs = {"unseen_levels": encoded.unseen_levels, "missing_values": encoded.missing_values}
        return frame

    def read_rows(self, path: str | os.PathLike[str]) -> pd.DataFrame:
        """Read a ``.csv`` / ``.parquet`` of raw rows (categorical columns as text, as in training).

        For an image run also an ``.npz`` (``x``; ``y`` is not needed) or a folder
        of images (or of class folders), as pixel rows with a ``file`` column for a folder
        (:mod:`fitness.images`); the images must have the run's height, width and channels.
        """
        p = Path(path)
        if self.encoder.image_shape and is_image_source(p):
            rows, shape = read_images(p, labels_required=False, channels=self.encoder.image_shape[2])
            if shape != tuple(self.encoder.image_shape):
                want, got = ("x".join(map(str, s)) for s in (self.encoder.image_shape, shape))
                raise DataError(
                    f"the images in {p} are {got}; this run was trained on {want} images: "
                    "give images of that height, width and number of channels"
                )
            return rows
        if not p.is_file():
            if p.is_dir():
                raise DataError(f"{p} is a folder: give a .csv or .parquet file of rows")
            raise DataError(f"rows file not found: {p}")
        return read_table_file(p, text_columns=[c.name for c in self.encoder.categorical])


def _individual(run: RunDir, id: int) -> dict[str, Any]:
    rows = {int(r["id"]): r for r in run.individuals()}
    if not rows:
        raise RunDirError(f"no model to predict with in {run.path}: {_no_model_reason(run)}")
    if id not in rows:
        span = f"ids run from {min(rows)} to {max(rows)}"
        raise RunDirError(f"no individual with id {id} in {run.individuals_path} ({span})")
    row = rows[id]
    if row.get("status") != "ok":
        raise RunDirError(
            f"individual #{id} failed ({row.get('error')}): no model to predict with; choose another --id"
        )
    return row


def load_predictor(run_dir: str | os.PathLike[str], id: int | None = None) -> Predictor:
    """The predictor of individual ``id`` of a run (default: the best); reads the run, never writes it.

    The best individual's model is ``best/model.keras``, or ``best/refit.keras``
    when the run refitted it on train+val rows (``search.refit``). With
    ``search.ensemble`` > 1 and no ``id``, the predictor is the ensemble of the K
    best (``best/ensemble/``, each member refitted when the run refitted it). Another individual is
    trained again from its genes with the run's seed, data and settings, which
    gives the same network as in the search (evaluations are deterministic);
    this needs the run's dataset, and takes as long as one training.

    In the caller's process it leaves TensorFlow as it finds it: no thread count, no GPU memory
    growth, op determinism as before (``fitness.runtime.in_callers_process``). Training another
    individual is the exception for what cannot be undone: it sets the thread count and GPU memory
    growth when TensorFlow's runtime has not started yet (as a search would).
    """
    run = RunDir.open(run_dir)
    config = run.config()
    encoding = run.read_json(ENCODER)
    if encoding is None:
        raise RunDirError(f"{run.path} has no {ENCODER} (made by an older evonas): run the search again")
    try:
        encoder = Encoder.from_dict(encoding)
    except (KeyError, TypeError, ValueError) as exc:
        raise RunDirError(f"{run.path / ENCODER} is corrupt ({exc})") from None
    if id is None:
        delivered = delivered_model(run, config.search.ensemble)
        if delivered is None:
            raise RunDirError(f"no model to predict with in {run.path}: {_no_model_reason(run)}")
        if delivered.ensemble:
            return _ensemble_predictor(run, config, encoder, delivered)
    # the best alone (its refit, or as the search trained it): what was just decided, when no id is given
    single = delivered if id is None else delivered_model(run, ensemble=1)
    chosen = int(id) if id is not None else single.ids[0]  # type: ignore[union-attr]  (checked above)
    row = _individual(run, chosen)
    arch = decode(config.space, row["genes"])
    import_tensorflow()  # quietly; the caller's threads and op determinism are left as they are
    import keras

    if single is not None and row["key"] == single.keys[0]:
        model = keras.models.load_model(single.paths[0])
        return Predictor(run.path, chosen, arch, encoder, model, refitted=single.refitted)
    data = load_data(config.data)
    if data.encoder != encoder:
        raise RunDirError(
            f"the data of {run.path} changed since the run: individual #{chosen} cannot be trained again"
        )
    with tempfile.TemporaryDirectory(prefix="evonas-predict-") as tmp:
        path = os.path.join(tmp, "model.keras")
        genes = np.asarray(row["genes"], dtype=np.int64)
        rows = fold_data(data, 0, config.search.folds)  # as the search trained it (cross-validated: fold 0)
        # its key's first training as journaled last (a short one of multi-fidelity stays short)
        first = [r for r in run.evaluations() if r.get("key") == row["key"] and not r.get("replicate")]
        short = first[-1] if first else {}
        with in_callers_process():  # the training is deterministic; the caller's settings come back after
            record = evaluate_genome(
                config.space,
                genes,
                rows,
                config.training,
                config.search.seed,
                path,
                epoch_cap=short.get("epoch_cap"),
                row_cap=short.get("row_cap"),
            )
        if record["status"] != "ok" or not os.path.exists(path):
            raise RunDirError(f"individual #{chosen} could not be trained again: {record.get('error')}")
        model = keras.models.load_model(path)
    return Predictor(run.path, chosen, arch, encoder, model)


def _ensemble_predictor(run: RunDir, config: Any, encoder: Encoder, delivered: Delivered) -> Predictor:
    """The predictor of a run's ensemble: one Keras model averaging (or weighing) the members' outputs."""
    from evonas.fitness.ensemble import average_models

    missing = [str(p) for p in delivered.paths if not p.is_file()]
    if missing:
        raise RunDirError(f"the ensemble of {run.path} lacks {missing[0]}: resume the run to rebuild it")
    import_tensorflow()
    import keras

    models = [keras.models.load_model(p) for p in delivered.paths]
    names = [f"member_{i}" for i in delivered.ids]
    weights = None if delivered.weights is None else list(delivered.weights)
    model = average_models(models, names, weights=weights)
    arch = decode(config.space, _individual(run, delivered.ids[0])["genes"])
    return Predictor(
        run.path, delivered.ids[0], arch, encoder, model, refitted=delivered.refitted, members=delivered.ids
    )


__all__ = ["PREDICTION", "Predictor", "load_predictor", "proba_column"]
