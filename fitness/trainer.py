"""A fast trainer for small candidate networks: one compiled TensorFlow call per epoch.

For the small Dense networks of a search, ``keras.Model.fit`` spends most of its
time in per-step Python overhead (callbacks, iterators, logs), not arithmetic.
Here a whole epoch — shuffled mini-batches, forward, gradients, optimizer
updates, and the validation loss at the end — runs inside one ``tf.function``
graph, and the data stays on the device (as constants, shared by all the
candidates a worker trains). The optimizer, the batches, early stopping on the
validation loss and the restored best weights are the same as with ``fit``; the
optimizer's updates run as TensorFlow's fused kernels (see :mod:`fitness.fused`).

The shuffling order comes from a ``numpy.random.Generator`` seeded with the
evaluation seed, so training is deterministic for a given (run seed, key).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from fitness.data import Dataset
from fitness.fused import fused_updater

_DEVICE_DATA: dict[str, tuple[Any, ...]] = {}


def device_data(data: Dataset) -> tuple[Any, ...]:
    """The dataset's train/val tensors (targets standardised for regression), made once per process."""
    import tensorflow as tf

    cached = _DEVICE_DATA.get(data.fingerprint)
    if cached is not None:
        return cached
    y_train, y_val = data.y_train, data.y_val
    if data.task == "regression":
        y_train = ((y_train - data.target_mean) / data.target_std).astype("float32")
        y_val = ((y_val - data.target_mean) / data.target_std).astype("float32")
    tensors = (
        tf.constant(data.x_train),
        tf.constant(y_train),
        tf.constant(data.x_val),
        tf.constant(y_val),
    )
    _DEVICE_DATA.clear()  # one dataset per worker at a time
    _DEVICE_DATA[data.fingerprint] = tensors
    return tensors


@contextlib.contextmanager
def forgetting_custom_gradients() -> Iterator[None]:
    """Drop the gradient functions that ``tf.custom_gradient`` registers while tracing, on exit.

    In graph mode every call of a ``tf.custom_gradient`` op (``tf.nn.silu``, the
    swish activation, is one) registers a new gradient function in TensorFlow's
    global registry, and the registry keeps it, with the whole traced graph it
    refers to, for ever (tensorflow/tensorflow#97697): 3 to 11 MB per candidate
    that uses swish, measured. The functions are only needed while the graph is traced and
    differentiated, so the ones added inside this block are removed at its end.
    """
    from tensorflow.python.framework import ops

    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    before = set(registry) if isinstance(registry, dict) else None
    try:
        yield
    finally:
        if before is not None:
            for name in [k for k in registry if k not in before and k.startswith("CustomGradient-")]:
                del registry[name]


def train_compiled(
    model: Any,
    optimizer: Any,
    data: Dataset,
    batch_size: int,
    max_epochs: int,
    patience: int,
    seed: int,
) -> dict[str, list[float]]:
    """Train ``model`` with early stopping; returns the per-epoch history like ``fit`` does.

    History keys: ``loss`` (mean training loss of the epoch), ``val_loss``,
    for classification ``val_accuracy``, and ``seconds`` (wall time of each epoch;
    the first includes tracing the graph). Training stops after ``patience``
    epochs without a better validation loss, or at the first non-finite loss;
    the weights of the best epoch are restored.
    """
    with forgetting_custom_gradients():
        return _train(model, optimizer, data, batch_size, max_epochs, patience, seed)


def _train(
    model: Any, optimizer: Any, data: Dataset, batch_size: int, max_epochs: int, patience: int, seed: int
) -> dict[str, list[float]]:
    import keras
    import tensorflow as tf

    x, y, xv, yv = device_data(data)
    classify = data.task == "classification"
    variables = model.trainable_variables
    apply_gradients = fused_updater(optimizer, variables)
    if apply_gradients is None:  # an optimizer or setting without a fused kernel
        optimizer.build(variables)

        def apply_gradients(grads):
            optimizer.apply_gradients(zip(grads, variables))

    n = int(x.shape[0])
    n_batches = math.ceil(n / batch_size)

    def loss_of(target, pred):
        if classify:
            return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(target, pred))
        return tf.reduce_mean(tf.square(pred[:, 0] - target))

    @tf.function(reduce_retracing=True)
    def epoch(order):
        total = tf.constant(0.0)
        for b in tf.range(n_batches):
            idx = order[b * batch_size : (b + 1) * batch_size]
            xb, yb = tf.gather(x, idx), tf.gather(y, idx)
            with tf.GradientTape() as tape:
                loss = loss_of(yb, model(xb, training=True))
            grads = tape.gradient(loss, variables)
            apply_gradients(grads)
            total += loss * tf.cast(tf.shape(idx)[0], tf.float32)
        pv = model(xv, training=False)
        acc = tf.constant(0.0)
        if classify:  # a Python condition: fixed when the graph is traced
            hits = tf.equal(tf.argmax(pv, axis=1, output_type=yv.dtype), yv)
            acc = tf.reduce_mean(tf.cast(hits, tf.float32))
        return total / n, loss_of(yv, pv), acc

    rng = np.random.default_rng(seed)
    history: dict[str, list[float]] = {"loss": [], "val_loss": [], "seconds": []}
    if classify:
        history["val_accuracy"] = []
    best, best_weights, waited = math.inf, None, 0
    for _ in range(max_epochs):
        started = time.perf_counter()
        order = tf.constant(rng.permutation(n).astype(np.int32))
        loss, val, acc = (float(t) for t in epoch(order))
        history["seconds"].append(time.perf_counter() - started)
        history["loss"].append(loss)
        history["val_loss"].append(val)
        if classify:
            history["val_accuracy"].append(acc)
        if not (math.isfinite(loss) and math.isfinite(val)):
            break
        if val < best:
            best, best_weights, waited = val, model.get_weights(), 0
        else:
            waited += 1
            if waited >= patience:
                break
    if best_weights is not None:
        model.set_weights(best_weights)
    return history
