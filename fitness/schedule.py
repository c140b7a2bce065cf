"""Learning-rate schedules of the ``lr_schedule`` gene, as Keras' own serialisable schedule objects.

A schedule runs over a candidate's whole epoch cap (``training.max_epochs``
epochs of its mini-batches), whether or not early stopping ends it sooner, so
the rate at epoch ``e`` is the same in the search and in the refit (which
trains fewer epochs on more rows):

- ``constant``: the gene's rate at every step;
- ``cosine``: a linear warm-up from 0 over the first 5 % of the steps, then a
  cosine decay to 0 (Loshchilov & Hutter, SGDR, with a warm-up);
- ``onecycle``: a warm-up from a 25th of the rate over the first 30 %, then the
  cosine decay to 0 (Smith & Topin's one-cycle shape, as in PyTorch's
  ``OneCycleLR`` with cosine annealing).

Both decaying schedules are ``keras.optimizers.schedules.CosineDecay`` with a
warm-up, so a saved optimizer needs no custom object, and the compiled
trainer's fused updates (:mod:`fitness.trainers.fused`) call the same object with the
same step count as Keras does (the number of updates made before this one).

Example:
    >>> learning_rate("constant", 1e-3, 100)
    0.001
    >>> float(learning_rate("cosine", 1e-3, 100)(5))  # warm-up done: the full rate
    0.001
"""

from __future__ import annotations

import math
from typing import Any

WARMUP_FRACTION = {"cosine": 0.05, "onecycle": 0.30}
START_FRACTION = {"cosine": 0.0, "onecycle": 1 / 25}


def steps_per_epoch(rows: int, batch_size: int) -> int:
    """Mini-batches in one epoch (the last one may be short)."""
    return max(1, math.ceil(rows / batch_size))


def learning_rate(schedule: str, rate: float, total_steps: int) -> Any:
    """The ``learning_rate`` argument of a Keras optimizer for ``schedule`` over ``total_steps`` updates.

    A float for ``constant``, else a ``CosineDecay`` with its warm-up.

    Raises:
        ValueError: an unknown schedule name.
    """
    if schedule == "constant":
        return float(rate)
    if schedule not in WARMUP_FRACTION:
        raise ValueError(f"unknown learning-rate schedule {schedule!r}")
    import keras

    total = max(2, int(total_steps))
    warmup = max(1, round(WARMUP_FRACTION[schedule] * total))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=float(rate) * START_FRACTION[schedule],
        decay_steps=max(1, total - warmup),
        alpha=0.0,
        warmup_target=float(rate),
        warmup_steps=warmup,
    )


__all__ = ["START_FRACTION", "WARMUP_FRACTION", "learning_rate", "steps_per_epoch"]
