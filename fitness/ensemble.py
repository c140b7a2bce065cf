"""An ensemble of trained networks as one Keras model: the mean of their outputs.

Regression members predict in the target's units, so the ensemble averages
predictions in those units; classification members end in a softmax, so it
averages class probabilities. The model is functional and made of standard
layers only (the members as sub-models, an ``Average`` layer; with unequal weights each
member's output scaled by a ``Rescaling`` layer, then an ``Add``), so
``keras.models.load_model`` reads it without ``custom_objects``, and
:func:`fitness.export.export_model` puts the raw-row encoding in front of it as
in front of a single network. The test score of an ensemble is
:func:`fitness.evaluate.score_test` given the members' paths (and weights).

:func:`greedy_weights` chooses the weights as Caruana et al. (2004) do, and as
AutoGluon's weighted ensemble: forward selection with replacement on held-out
predictions (each network's out-of-fold predictions, or its validation predictions),
each round adding the member that lowers the ensemble's loss most.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import keras

INPUT = "features"
AVERAGE = "average"
GREEDY_ROUNDS = 25  # rounds of greedy selection: weights are multiples of 1/25 (AutoGluon's default size)


def average_models(
    models: Sequence[keras.Model],
    names: Sequence[str],
    name: str = "ensemble",
    weights: Sequence[float] | None = None,
) -> keras.Model:
    """One model taking the encoded rows whose output is the mean of the ``models``' outputs.

    Args:
        models: trained models with the same input width and output shape; they
            are reused as layers (same weights) and renamed ``names`` (Keras needs
            distinct names for sub-models).
        names: one distinct name per model, e.g. ``member_58``.
        name: the ensemble model's name.
        weights: one weight per model (normalised here; None or all equal: the plain mean).

    Raises:
        ValueError: no model, names that do not match, members of different widths, or
            weights that do not match or are not positive.
    """
    import keras

    if not models or len(names) != len(models) or len(set(names)) != len(names):
        raise ValueError("an ensemble needs at least one model and one distinct name per model")
    if weights is not None and (len(weights) != len(models) or min(weights) <= 0):
        raise ValueError("an ensemble needs one positive weight per model")
    widths = {m.inputs[0].shape[-1] for m in models}
    if len(widths) != 1:
        raise ValueError(f"ensemble members take different input widths: {sorted(widths)}")
    x = keras.Input(shape=(widths.pop(),), name=INPUT)
    outputs = []
    for model, member in zip(models, names, strict=True):
        model.name = member
        outputs.append(model(x))
    if len(outputs) == 1:
        out = outputs[0]
    elif weights is None or len(set(weights)) == 1:
        out = keras.layers.Average(name=AVERAGE)(outputs)
    else:
        total = float(sum(weights))
        scaled = [
            keras.layers.Rescaling(w / total, name=f"weight_{member}")(o)
            for o, w, member in zip(outputs, weights, names, strict=True)
        ]
        out = keras.layers.Add(name=AVERAGE)(scaled)
    return keras.Model(x, out, name=name)


def ensemble_loss(prediction: np.ndarray, y: np.ndarray, task: str) -> float:
    """The loss of held-out predictions: RMSE (regression, in the target's units) or the
    cross-entropy of class probabilities (clipped at 1e-15)."""
    p = np.asarray(prediction, dtype=np.float64)
    if task == "regression":
        return float(np.sqrt(np.mean((p.reshape(-1) - np.asarray(y, dtype=np.float64)) ** 2)))
    picked = p[np.arange(len(y)), np.asarray(y, dtype=np.int64)]
    return float(-np.mean(np.log(np.clip(picked, 1e-15, None))))


def greedy_weights(
    predictions: Sequence[np.ndarray], y: np.ndarray, task: str, rounds: int = GREEDY_ROUNDS
) -> list[int]:
    """How many times each candidate is picked by greedy forward selection with replacement.

    ``predictions``: each candidate's held-out predictions of the rows ``y`` (the best
    candidate first). Each of ``rounds`` rounds adds the candidate that gives the lowest
    :func:`ensemble_loss` of the running mean (ties: the earlier candidate); a candidate
    may be picked again, which is how it gains weight. The weights are the counts over
    ``rounds``; a candidate never picked has weight 0.

    Example:
        >>> y = np.array([0.0, 0.0])
        >>> greedy_weights([np.array([1.0, 1.0]), np.array([-1.0, -1.0]), np.array([5.0, 5.0])], y,
        ...                "regression", rounds=4)
        [2, 2, 0]
    """
    if not predictions:
        raise ValueError("greedy selection needs at least one candidate")
    preds = [np.asarray(p, dtype=np.float64) for p in predictions]
    counts = [0] * len(preds)
    total = np.zeros_like(preds[0])
    for n in range(1, rounds + 1):
        losses = [ensemble_loss((total + p) / n, y, task) for p in preds]
        pick = int(np.argmin(losses))  # the first of equal losses
        counts[pick] += 1
        total = total + preds[pick]
    return counts


__all__ = ["AVERAGE", "GREEDY_ROUNDS", "INPUT", "average_models", "ensemble_loss", "greedy_weights"]
