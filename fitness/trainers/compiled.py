"""A fast trainer for small candidate networks: a whole training in one compiled TensorFlow call.

For the small Dense networks of a search, ``keras.Model.fit`` spends most of its
time in per-step Python overhead (callbacks, iterators, logs), not arithmetic.
Here the whole training — for each epoch the shuffled mini-batches (forward,
gradients, optimizer update), the validation loss, early stopping and keeping
the best epoch's weights — runs inside one ``tf.function`` graph, and the data
stays on the device (as constants, features already scaled, shared by all the
candidates a worker trains). The optimizer, the batches, early stopping on the
validation loss and the restored best weights are the same as with ``fit``.

What keeps the per-candidate cost down (each measured, see the README's
Performance section):

- the graph computes the network and its gradients with plain TensorFlow ops
  (:mod:`fitness.trainers.plain`: the backward pass is written out, not taped) instead
  of calling the Keras layers, so tracing it is cheap and the graph holds little
  more than the arithmetic;
- the weights train in one flat buffer (:class:`FlatTraining`): one variable
  read and one optimizer update per step, with TensorFlow's fused kernel
  (:mod:`fitness.trainers.fused`), however many layers the network has; the Keras model
  gets the best epoch's weights at the end;
- a layer's input gradient is computed in whichever of two forms Eigen's CPU
  kernel runs faster for the batch size and kernel shape
  (:func:`fitness.trainers.plain.times_transposed`; neutral where oneDNN computes the products);
- the graph is written without AutoGraph (explicit ``tf.while_loop`` s), and
  TensorFlow's graph optimizer is off while a candidate trains
  (:func:`without_graph_optimizer`).

The shuffling orders and the dropout masks come from TensorFlow's stateless
random ops, seeded from the evaluation seed, so training is deterministic for a
given (run seed, key).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from evonas.fitness.data import Dataset
from evonas.fitness.embedding import encode
from evonas.fitness.trainers.fused import fused_updater
from evonas.fitness.trainers.plain import ACTIVATIONS, PlainNetwork, scale_features, softmax_cross_entropy
from evonas.genome import Architecture

_DEVICE_DATA: dict[tuple[str, str], tuple[Any, ...]] = {}


def device_data(data: Dataset, embedding: str = "none") -> tuple[Any, ...]:
    """The dataset's train/val tensors, made once per process (and per input embedding).

    Features are scaled as the model's ``Normalization`` layer would scale them
    (once here rather than at every step), and with ``embedding="ple"`` followed by
    their piecewise-linear encoding (:func:`fitness.embedding.encode`, what the
    model's fixed ``ple`` layers compute); regression targets are transformed and
    standardised (:meth:`fitness.data.Dataset.model_targets`).
    """
    import tensorflow as tf

    cached = _DEVICE_DATA.get((data.fingerprint, embedding))
    if cached is not None:
        return cached
    if any(fingerprint != data.fingerprint for fingerprint, _ in _DEVICE_DATA):
        _DEVICE_DATA.clear()  # one dataset per worker at a time

    def features(x: np.ndarray) -> Any:
        scaled = scale_features(x, data.feature_mean, data.feature_var)
        return tf.constant(encode(scaled, data.ple_bins) if embedding == "ple" else scaled)

    y_train, y_val = data.model_targets(data.y_train), data.model_targets(data.y_val)
    tensors = (features(data.x_train), tf.constant(y_train), features(data.x_val), tf.constant(y_val))
    _DEVICE_DATA[(data.fingerprint, embedding)] = tensors
    return tensors


def compiled_supports(arch: Architecture) -> str | None:
    """Why the compiled trainer cannot train ``arch`` (then the Keras reference trainer does), or None.

    :class:`fitness.trainers.plain.PlainNetwork` writes out the forward pass and the
    derivative of each activation of :data:`fitness.trainers.plain.ACTIVATIONS` (every
    activation a search space may name, ``genome.KNOWN_ACTIVATIONS``); any optimizer
    trains, with TensorFlow's fused kernel or else the Keras optimizer itself
    (:mod:`fitness.trainers.fused`). So only an architecture built outside a search space,
    with another Keras activation, is refused, and an image network: its conv
    levels have no written-out form (``benchmarks/conv_trainer.py``
    measured what a compiled loop would save on them).
    """
    if arch.conv:
        return "conv levels train with Keras (the written-out forms are of Dense layers)"
    missing = sorted({unit.activation for unit in arch.units} - ACTIVATIONS)
    if missing:
        return f"no written-out form for activation {', '.join(map(repr, missing))}"
    return None


@contextlib.contextmanager
def without_graph_optimizer() -> Iterator[None]:
    """Switch TensorFlow's graph optimizer (Grappler) off inside the block.

    Grappler rewrites each new graph before its first run: for a candidate's
    training graph that cost a median 0.23 s, more than it saves over 20 epochs
    (a steady training runs a median 3 % slower without it; 20 epochs take a
    median 0.91 of the time: ``benchmarks/train_speed.py --part graph``). The
    previous setting is restored on exit.
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
    restore_best: bool = True,
) -> dict[str, list[float]]:
    """Train ``model`` (built from ``arch``) with early stopping; returns the per-epoch history like ``fit``.

    Mini-batches of ``arch.batch_size`` rows. History keys: ``loss`` (mean
    training loss of the epoch), ``val_loss`` and, for classification,
    ``val_accuracy``. Training stops after ``patience`` epochs without a better
    validation loss, or at the first non-finite loss; the weights of the best
    epoch are restored (the last ones if no epoch had a finite loss, or with
    ``restore_best=False``: the refit trains a fixed number of epochs).
    """
    with without_graph_optimizer():
        return compile_training(model, arch, optimizer, data, max_epochs, patience, seed, restore_best)()


class FlatBuffer:
    """Tensors of fixed shapes laid out in one flat float32 vector.

    The tensors whose size is a multiple of 16 floats (64 bytes) come first,
    each on an aligned offset, so that :meth:`views` shares the buffer instead of
    copying it (TensorFlow's split copies every piece unless each starts and ends
    aligned); the others (biases, mostly: small) follow, and only they are
    copied. Zeros pad the end to a multiple of 16.
    """

    ALIGN = 16

    def __init__(self, shapes: list) -> None:
        self.shapes = [tuple(int(d) for d in shape) for shape in shapes]
        self.sizes = [math.prod(shape) for shape in self.shapes]
        aligned = [i for i, size in enumerate(self.sizes) if size % self.ALIGN == 0]
        self.tail = [i for i, size in enumerate(self.sizes) if size % self.ALIGN]
        self.layout = aligned + self.tail
        self.pad = -sum(self.sizes) % self.ALIGN
        self.size = sum(self.sizes) + self.pad
        self.starts = [0] * len(self.sizes)
        offset = 0
        for i in self.layout:
            self.starts[i] = offset
            offset += self.sizes[i]
        # the pieces of the first split: the aligned tensors, then the tail and the padding as one piece
        tail = sum(self.sizes[i] for i in self.tail) + self.pad
        self._pieces = [self.sizes[i] for i in aligned] + ([tail] if tail else [])

    def pack_numpy(self, arrays: list) -> np.ndarray:
        flat = np.zeros(self.size, dtype="float32")
        for start, size, array in zip(self.starts, self.sizes, arrays):
            flat[start : start + size] = np.asarray(array, dtype="float32").reshape(-1)
        return flat

    def unpack_numpy(self, flat: np.ndarray) -> list:
        return [
            flat[start : start + size].reshape(shape)
            for start, size, shape in zip(self.starts, self.sizes, self.shapes)
        ]

    def views(self, flat: Any) -> list:
        """The tensors, as views of ``flat`` (a tensor of ``size`` floats), in the order of ``shapes``."""
        import tensorflow as tf

        def split(tensor: Any, sizes: list) -> list:
            return [tensor] if len(sizes) == 1 else tf.split(tensor, sizes)

        if not self.shapes:
            return []
        parts = split(flat, self._pieces)
        if self.tail:
            tail = split(parts[-1], [self.sizes[i] for i in self.tail] + ([self.pad] if self.pad else []))
            parts = parts[:-1] + tail[: len(self.tail)]
        views: list = [None] * len(self.shapes)
        for i, part in zip(self.layout, parts):
            views[i] = part if len(self.shapes[i]) == 1 else tf.reshape(part, self.shapes[i])
        return views

    def pack(self, tensors: list) -> Any:
        """One flat tensor holding ``tensors`` (in the order of ``shapes``)."""
        import tensorflow as tf

        parts = [
            tensors[i] if len(self.shapes[i]) == 1 else tf.reshape(tensors[i], [-1]) for i in self.layout
        ]
        if self.pad:
            parts.append(tf.zeros([self.pad]))
        return parts[0] if len(parts) == 1 else tf.concat(parts, axis=0)


class FlatTraining:
    """A :class:`PlainNetwork`'s weights and moving averages in one flat variable each, and its optimizer.

    One variable read and one optimizer update per step, whatever the number
    of layers (a per-layer update costs an operation per variable to trace,
    instantiate and dispatch). :meth:`load` copies the Keras model's values in,
    :meth:`store` copies values back; the model's own variables do not change
    in between.
    """

    def __init__(self, net: PlainNetwork, optimizer: Any) -> None:
        import tensorflow as tf

        self.net = net
        self.weights = FlatBuffer([v.shape for v in net.weights])
        self.stats = FlatBuffer([v.shape for v in net.stats])
        self.params = tf.Variable(tf.zeros([self.weights.size]), trainable=False)
        self.moving = tf.Variable(tf.zeros([self.stats.size]), trainable=False)
        momenta = set(net.momenta)  # Keras' default for all batch norm layers: one number
        self._momentum = (
            momenta.pop()
            if len(momenta) == 1
            else self.stats.pack_numpy([np.full(v.shape, m) for v, m in zip(net.stats, net.momenta)])
        )
        self._update = fused_updater(optimizer, [self.params])
        if self._update is None:  # an optimizer or setting without a fused kernel
            optimizer.build([self.params])
            self._update = lambda grads: optimizer.apply_gradients(zip(grads, [self.params]))
        self.load()

    def load(self) -> None:
        """Copy the Keras model's current weights and moving averages in."""
        self.params.assign(self.weights.pack_numpy([np.asarray(v) for v in self.net.weights]))
        self.moving.assign(self.stats.pack_numpy([np.asarray(v) for v in self.net.stats]))

    def store(self, params: np.ndarray, moving: np.ndarray) -> None:
        """Write flat values of the weights and moving averages into the Keras model."""
        for variable, value in zip(self.net.weights, self.weights.unpack_numpy(params)):
            variable.assign(value)
        for variable, value in zip(self.net.stats, self.stats.unpack_numpy(moving)):
            variable.assign(value)

    def views(self) -> tuple[list, list]:
        """The current weights and moving averages, as tensors for the network's functions."""
        return self.weights.views(self.params.value()), self.stats.views(self.moving.value())

    def gradient(self, x: Any, y: Any, seed: Any, classify: bool) -> tuple[Any, Any]:
        """``(loss, flat gradient)`` of a training step on a batch; updates the moving averages."""
        moving = self.moving.value()
        weights, stats = self.weights.views(self.params.value()), self.stats.views(moving)
        loss, grads, batch_stats = self.net.loss_and_gradients(weights, stats, x, y, seed, classify)
        if self.net.stats:  # Keras' update, ``moving * momentum + batch * (1 - momentum)``, for all at once
            self.moving.assign(
                moving * self._momentum + self.stats.pack(batch_stats) * (1.0 - self._momentum)
            )
        return loss, self.weights.pack(grads)

    def apply(self, gradient: Any) -> None:
        """The optimizer's update of the weights with a flat gradient."""
        self._update([gradient])


@dataclass(frozen=True)
class CompiledTraining:
    """One model's compiled training: calling it trains (``run``); ``function`` is its ``tf.function``."""

    run: Callable[[], dict[str, list[float]]]
    function: Any

    def __call__(self) -> dict[str, list[float]]:
        return self.run()


def compile_training(
    model: Any,
    arch: Architecture,
    optimizer: Any,
    data: Dataset,
    max_epochs: int,
    patience: int,
    seed: int,
    restore_best: bool = True,
) -> CompiledTraining:
    """The training of :func:`train_compiled`, to call; its first call traces the graph.

    Each call trains for up to ``max_epochs`` more epochs from the model's
    current weights (the optimizer's state carries over): the benchmarks call it
    twice to time the training without the tracing. Its ``function`` is the
    ``tf.function``, for timing the tracing alone (``get_concrete_function()``) or reading its
    ops. Call it inside :func:`without_graph_optimizer` to train as :func:`train_compiled` does.
    """
    import tensorflow as tf

    x, y, xv, yv = device_data(data, arch.embedding)
    classify = data.task == "classification"
    flat = FlatTraining(PlainNetwork(arch, model, int(x.shape[1])), optimizer)

    batch_size = arch.batch_size
    n = int(x.shape[0])
    n_batches = math.ceil(n / batch_size)
    base = int(np.random.default_rng(seed).integers(0, 2**30))

    def step(epoch, b, total, order):
        idx = order[b * batch_size : (b + 1) * batch_size]
        # stateless seeds: shuffling uses (base, 2 epoch), the dropout of batch b (base + 1 + b, 2 epoch + 1)
        dropout_seed = tf.stack([base + 1 + b, 2 * epoch + 1])
        loss, gradient = flat.gradient(tf.gather(x, idx), tf.gather(y, idx), dropout_seed, classify)
        flat.apply(gradient)
        return b + 1, total + loss * tf.cast(tf.shape(idx)[0], tf.float32)

    def validate():
        out = flat.net.logits(*flat.views(), xv)
        if classify:  # a Python condition: fixed when the graph is traced
            hits = tf.equal(tf.argmax(out, axis=1, output_type=yv.dtype), yv)
            val, _ = softmax_cross_entropy(out, yv, gradient=False)  # no label smoothing: the objective
            return tf.reduce_mean(val), tf.reduce_mean(tf.cast(hits, tf.float32))
        return tf.reduce_mean(tf.square(out[:, 0] - yv)), tf.constant(0.0)

    epoch_rows = tf.range(max_epochs)[:, tf.newaxis]

    def epoch(e, best_val, waited, have_best, stop, history, best_params, best_moving):
        order = tf.random.experimental.stateless_shuffle(tf.range(n), tf.stack([base, 2 * e]))
        _, total = tf.while_loop(
            lambda b, total: b < n_batches,
            lambda b, total: step(e, b, total, order),
            (tf.constant(0), tf.constant(0.0)),
        )
        loss = total / n
        val, acc = validate()
        # row e of the history (a select, not a scatter: under op determinism TensorFlow places the
        # scatter ops on the CPU, a copy to and from a GPU at every epoch)
        history = tf.where(tf.equal(epoch_rows, e), tf.stack([loss, val, acc])[tf.newaxis, :], history)
        finite = tf.math.is_finite(loss) & tf.math.is_finite(val)
        better = finite & (val < best_val)
        waited = tf.where(better, 0, waited + 1)
        stop = tf.logical_not(finite) | (waited >= patience)
        return (
            e + 1,
            tf.where(better, val, best_val),
            waited,
            have_best | better,
            stop,
            history,
            tf.where(better, flat.params.value(), best_params),
            tf.where(better, flat.moving.value(), best_moving),
        )

    # the whole training is one call: the epochs, early stopping and the best epoch's weights stay in the
    # graph (plain graph code, no AutoGraph: converting the Python source again for each candidate took
    # about a quarter of the time spent tracing it)
    @tf.function(autograph=False)
    def train():
        start = (
            tf.constant(0),
            tf.constant(math.inf),
            tf.constant(0),
            tf.constant(False),
            tf.constant(False),
            tf.zeros([max_epochs, 3]),
            flat.params.value(),
            flat.moving.value(),
        )
        epochs, _, _, have_best, _, history, best_params, best_moving = tf.while_loop(
            lambda e, best_val, waited, have_best, stop, *_: (e < max_epochs) & tf.logical_not(stop),
            epoch,
            start,
        )
        if not restore_best:  # a Python condition: fixed when the graph is traced
            return epochs, history, flat.params.value(), flat.moving.value()
        # the best epoch's weights, or the last ones if no epoch had a finite loss
        final_params = tf.where(have_best, best_params, flat.params.value())
        return epochs, history, final_params, tf.where(have_best, best_moving, flat.moving.value())

    def run() -> dict[str, list[float]]:
        flat.load()
        epochs, rows, final_params, final_moving = train()
        flat.store(final_params.numpy(), final_moving.numpy())
        rows = rows.numpy()[: int(epochs)].astype("float64")
        history = {"loss": list(rows[:, 0]), "val_loss": list(rows[:, 1])}
        if classify:
            history["val_accuracy"] = list(rows[:, 2])
        return history

    return CompiledTraining(run, train)
