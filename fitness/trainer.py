"""A fast trainer for small candidate networks: one compiled TensorFlow call per epoch.

For the small Dense networks of a search, ``keras.Model.fit`` spends most of its
time in per-step Python overhead (callbacks, iterators, logs), not arithmetic.
Here a whole epoch — shuffled mini-batches, forward, gradients, optimizer
updates, and the validation loss at the end — runs inside one ``tf.function``
graph, and the data stays on the device (as constants, features already scaled,
shared by all the candidates a worker trains). The optimizer, the batches,
early stopping on the validation loss and the restored best weights are the same
as with ``fit``.

What keeps the per-candidate cost down (each measured, see the README's
Performance section):

- the graph computes the network with plain TensorFlow ops over the Keras
  model's own variables (:mod:`fitness.plain`) instead of calling the Keras
  layers, so tracing it is cheap and the graph holds only the arithmetic;
- the optimizer's updates run as TensorFlow's fused kernels (:mod:`fitness.fused`);
- the graph is written without AutoGraph (an explicit ``tf.while_loop``), and
  TensorFlow's graph optimizer is off while a candidate trains
  (:func:`without_graph_optimizer`).

The shuffling order and the dropout seeds come from a
``numpy.random.Generator`` seeded with the evaluation seed, so training is
deterministic for a given (run seed, key).
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
from fitness.plain import plain_forward, scale_features
from genome import Architecture

_DEVICE_DATA: dict[str, tuple[Any, ...]] = {}


def device_data(data: Dataset) -> tuple[Any, ...]:
    """The dataset's train/val tensors, made once per process.

    Features are scaled as the model's ``Normalization`` layer would scale them
    (once here rather than at every step); regression targets are standardised.
    """
    import tensorflow as tf

    cached = _DEVICE_DATA.get(data.fingerprint)
    if cached is not None:
        return cached
    y_train, y_val = data.y_train, data.y_val
    if data.task == "regression":
        y_train = ((y_train - data.target_mean) / data.target_std).astype("float32")
        y_val = ((y_val - data.target_mean) / data.target_std).astype("float32")
    tensors = (
        tf.constant(scale_features(data.x_train, data.feature_mean, data.feature_var)),
        tf.constant(y_train),
        tf.constant(scale_features(data.x_val, data.feature_mean, data.feature_var)),
        tf.constant(y_val),
    )
    _DEVICE_DATA.clear()  # one dataset per worker at a time
    _DEVICE_DATA[data.fingerprint] = tensors
    return tensors


@contextlib.contextmanager
def without_graph_optimizer() -> Iterator[None]:
    """Switch TensorFlow's graph optimizer (Grappler) off inside the block.

    Grappler rewrites each new graph before its first run: for a candidate's
    training graph that took 0.03 to 0.19 s (median 0.10 s), more than it saves
    over 20 epochs (the steady epochs run a median 1.7 % slower without it;
    ``benchmarks/train_speed.py --part graph``). The previous setting is
    restored on exit.
    """
    import tensorflow as tf

    before = bool(tf.config.optimizer.get_experimental_options().get("disable_meta_optimizer", False))
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": before})


def train_compiled(
    model: Any,
    arch: Architecture,
    optimizer: Any,
    data: Dataset,
    max_epochs: int,
    patience: int,
    seed: int,
    optimize_graph: bool = False,
) -> dict[str, list[float]]:
    """Train ``model`` (built from ``arch``) with early stopping; returns the per-epoch history like ``fit``.

    Mini-batches of ``arch.batch_size`` rows. History keys: ``loss`` (mean
    training loss of the epoch), ``val_loss``, for classification
    ``val_accuracy``, and ``seconds`` (wall time of each epoch; the first
    includes tracing the graph). Training stops after ``patience`` epochs
    without a better validation loss, or at the first non-finite loss; the
    weights of the best epoch are restored. ``optimize_graph=True`` leaves
    TensorFlow's graph optimizer on (for comparison in the benchmarks).
    """
    optimizer_setting = contextlib.nullcontext() if optimize_graph else without_graph_optimizer()
    with optimizer_setting:
        return _train(model, arch, optimizer, data, max_epochs, patience, seed)


def _train(
    model: Any, arch: Architecture, optimizer: Any, data: Dataset, max_epochs: int, patience: int, seed: int
) -> dict[str, list[float]]:
    import tensorflow as tf

    x, y, xv, yv = device_data(data)
    classify = data.task == "classification"
    forward, variables = plain_forward(arch, model)
    apply_gradients = fused_updater(optimizer, variables)
    if apply_gradients is None:  # an optimizer or setting without a fused kernel
        optimizer.build(variables)

        def apply_gradients(grads):
            optimizer.apply_gradients(zip(grads, variables))

    batch_size = arch.batch_size
    n = int(x.shape[0])
    n_batches = math.ceil(n / batch_size)

    def loss_of(target, out):
        if classify:
            return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=target, logits=out))
        return tf.reduce_mean(tf.square(out[:, 0] - target))

    def step(b, total, order, seed):
        idx = order[b * batch_size : (b + 1) * batch_size]
        xb, yb = tf.gather(x, idx), tf.gather(y, idx)
        with tf.GradientTape() as tape:
            loss = loss_of(yb, forward(xb, True, seed + tf.stack([b, 0])))
        apply_gradients(tape.gradient(loss, variables))
        return b + 1, total + loss * tf.cast(tf.shape(idx)[0], tf.float32)

    # plain graph code, no AutoGraph: converting the Python source again for each candidate took about
    # a quarter of the time spent tracing it
    @tf.function(autograph=False)
    def epoch(order, seed):
        _, total = tf.while_loop(
            lambda b, total: b < n_batches,
            lambda b, total: step(b, total, order, seed),
            (tf.constant(0), tf.constant(0.0)),
        )
        out = forward(xv, False)
        acc = tf.constant(0.0)
        if classify:  # a Python condition: fixed when the graph is traced
            hits = tf.equal(tf.argmax(out, axis=1, output_type=yv.dtype), yv)
            acc = tf.reduce_mean(tf.cast(hits, tf.float32))
        return total / n, loss_of(yv, out), acc

    rng = np.random.default_rng(seed)
    history: dict[str, list[float]] = {"loss": [], "val_loss": [], "seconds": []}
    if classify:
        history["val_accuracy"] = []
    best, best_weights, waited = math.inf, None, 0
    for _ in range(max_epochs):
        started = time.perf_counter()
        order = tf.constant(rng.permutation(n).astype(np.int32))
        dropout_seed = tf.constant(rng.integers(0, 2**30, size=2).astype(np.int32))
        loss, val, acc = (float(t) for t in epoch(order, dropout_seed))
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
