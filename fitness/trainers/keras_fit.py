"""The Keras reference trainer: ``model.compile`` and ``model.fit``, with early stopping.

The compiled trainer (:mod:`fitness.trainers.compiled`) writes the forward pass, the
gradients and the optimizer's update out by hand for speed; this trainer is
what it stands for, done the plain Keras way:

- ``model.compile(optimizer, loss)``: the mean squared error of the standardised
  target (regression: the model outputs a standardised value, as with the
  compiled trainer; :func:`fitness.evaluate` wraps the saved model to predict in
  the target's units), or the sparse categorical cross-entropy of the softmax
  output (classification; Keras computes it from the softmax' logits);
- ``model.fit`` on the encoded, unscaled features (the model's ``Normalization``
  layer scales them), ``batch_size=arch.batch_size``, shuffled every epoch, with
  ``EarlyStopping(monitor="val_loss", patience, restore_best_weights=True)``
  and ``TerminateOnNaN``.

It returns the history of :func:`fitness.trainers.compiled.train_compiled` (``loss``,
``val_loss`` and, for classification, ``val_accuracy``) and leaves the best
epoch's weights in the model. It is ``[training] trainer = "keras"``, the
fallback for an architecture the compiled trainer does not support
(:func:`fitness.trainers.compiled.compiled_supports`), and the truth the compiled trainer
is tested against (``tests/fitness/test_trainer_truth.py``).

It is deterministic for a given seed: the caller seeds Keras' global generators
(``keras.utils.set_random_seed``, which the shuffling uses) and every dropout
layer has its own seed (:func:`fitness.model.build_model`). It needs neither
TensorFlow nor this module's siblings beyond :mod:`fitness.data`: with
``KERAS_BACKEND=jax`` it trains on JAX (``benchmarks/gpu_checks.sh``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evonas.fitness.data import Dataset
from evonas.genome import Architecture


def keras_targets(data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The train and validation targets as the model learns them (``Dataset.model_targets``)."""
    return data.model_targets(data.y_train), data.model_targets(data.y_val)


def train_keras(
    model: Any,
    arch: Architecture,
    optimizer: Any,
    data: Dataset,
    max_epochs: int,
    patience: int,
    seed: int,
    restore_best: bool = True,
) -> dict[str, list[float]]:
    """Train ``model`` with ``fit`` and early stopping; the history of :func:`.compiled.train_compiled`.

    ``seed`` is the evaluation seed: the caller has already seeded Keras with it
    (``keras.utils.set_random_seed``, before building the model), which fixes the
    shuffling; it is re-seeded here so that a caller that built the model
    otherwise still trains deterministically. With ``restore_best=False`` (the
    refit) there is no early stopping: ``max_epochs`` epochs, the last weights.
    """
    import keras

    keras.utils.set_random_seed(seed)
    classify = data.task == "classification"
    smoothing = float(arch.label_smoothing) if classify else 0.0
    loss = "sparse_categorical_crossentropy" if classify else "mean_squared_error"
    metrics: list | None = ["accuracy"] if classify else None
    monitor = "val_loss"
    y_train, y_val = keras_targets(data)
    if smoothing:
        # Keras smooths only one-hot labels; the validation loss (the objective) stays the plain
        # cross-entropy, a metric here, as in the compiled trainer
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
        metrics = [
            keras.metrics.CategoricalCrossentropy(name="cross_entropy"),
            keras.metrics.CategoricalAccuracy(name="accuracy"),
        ]
        monitor = "val_cross_entropy"
        y_train, y_val = (keras.utils.to_categorical(y, data.n_outputs) for y in (y_train, y_val))
    # XLA is for backends that need it (JAX compiles every step); TensorFlow runs its graph as it is
    jit = False if keras.backend.backend() == "tensorflow" else "auto"
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=jit)
    callbacks: list = [keras.callbacks.TerminateOnNaN()]
    if restore_best:
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, restore_best_weights=True)
        )
    fitted = model.fit(
        np.asarray(data.x_train, dtype="float32"),
        y_train,
        batch_size=arch.batch_size,
        epochs=max_epochs,
        validation_data=(np.asarray(data.x_val, dtype="float32"), y_val),
        callbacks=callbacks,
        shuffle=True,
        verbose=0,
    )
    logs = fitted.history
    history = {"loss": [float(v) for v in logs["loss"]], "val_loss": [float(v) for v in logs[monitor]]}
    if classify:
        history["val_accuracy"] = [float(v) for v in logs["val_accuracy"]]
    return history


__all__ = ["keras_targets", "train_keras"]
