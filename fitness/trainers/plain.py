"""A candidate's Keras model as plain TensorFlow ops, with its training gradients written out.

Inside a compiled training loop, calling the Keras model runs each layer's Python
call machinery (input conversion, autocasting, name scopes, seed generators)
while the graph is traced, and ``tf.GradientTape`` then adds each op's generic
gradient (broadcast reductions, shape ops) on top: for the small networks of a
search, tracing those graphs and dispatching their operations at every step cost
more than the arithmetic. :class:`PlainNetwork` reads the decoded architecture
and the Keras model's own variables and computes

- the forward pass with a handful of ops per unit (:meth:`PlainNetwork.logits`
  for inference, :meth:`PlainNetwork.forward` in training mode), and
- the gradient of the training loss by hand (:meth:`PlainNetwork.loss_and_gradients`):
  the backward pass of a lattice of Dense units is short to write (matrix
  products, each activation's derivative, batch normalisation's known formula,
  the dropout mask again), and it skips what the tape would compute for nothing
  (the gradient of a concatenation's raw-input columns, for one).

Training it trains the Keras model, which is what is saved and scored.

Differences from calling the model, by design:

- the input scaling (the model's ``Normalization`` layer) is not here: the
  trainer scales the data once (:func:`scale_features`, the same formula);
- the output is the output layer's pre-activation (logits for classification,
  so the loss is the numerically stable softmax cross-entropy of the logits,
  :func:`softmax_cross_entropy`, written with ops that are deterministic on a GPU; the
  model's softmax is applied only when predicting);
- dropout masks come from one stateless random draw per step for all units
  (:meth:`PlainNetwork.dropout_masks`), seeded by the caller, so training is
  deterministic without Keras' seed generators;
- no op registers a gradient function (``tf.nn.silu`` would, in a global
  registry that keeps each traced graph for ever: tensorflow/tensorflow#97697);
  ``tests/fitness/test_evaluate.py`` checks the registry.

Tests check the forward pass against the Keras model (inference, and training
mode's batch statistics and moving averages) and the written-out gradients
against ``tf.GradientTape`` on the same forward pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from evonas.fitness.data import scale_features
from evonas.fitness.model import unit_layer_names
from evonas.genome import INPUT, Architecture

_SQRT_HALF = 1 / math.sqrt(2.0)
_INV_SQRT_2PI = 1 / math.sqrt(2.0 * math.pi)
# the activations with a plain form (and a written-out derivative) below; a network using any other
# trains with the Keras reference trainer (:func:`fitness.trainers.compiled.compiled_supports`)
ACTIVATIONS: frozenset[str] = frozenset({"relu", "elu", "selu", "tanh", "sigmoid", "swish", "gelu", "linear"})


def softmax_cross_entropy(
    logits: Any, labels: Any, gradient: bool = True, smoothing: float = 0.0
) -> tuple[Any, Any]:
    """``(per-row cross-entropy, its gradient for the logits)`` of integer ``labels``, from ``logits``.

    With ``gradient=False`` (validation) the gradient is ``None`` and not computed.
    With label ``smoothing`` ``e`` (training only) the target is ``(1 - e) onehot + e / K``
    for ``K`` classes, as in Keras' ``CategoricalCrossentropy(label_smoothing=e)``:
    the loss is ``-sum(target * log_softmax)``, its gradient ``softmax - target``.

    The arithmetic of TensorFlow's fused ``SparseSoftmaxCrossEntropyWithLogits``
    kernel (``shifted = logits - max``, ``loss = log(sum(exp(shifted))) -
    shifted[label]``, ``gradient = exp(shifted) / sum - onehot``), written with
    plain ops: that kernel's GPU implementation raises ``UnimplementedError``
    under op determinism (:mod:`fitness.runtime` turns it on), while reductions,
    an element-wise gather and a one-hot are deterministic on a GPU as well.
    The values equal the kernel's to float32 rounding (``tests/fitness/test_plain.py``).
    The loss is ``-log_softmax(logits)[label]``: the validation loss
    (:mod:`fitness.trainers.compiled`) and the test score (:func:`fitness.evaluate.score_test`)
    use the same formula.
    """
    import tensorflow as tf

    shifted = logits - tf.reduce_max(logits, axis=1, keepdims=True)
    exp = tf.exp(shifted)
    total = tf.reduce_sum(exp, axis=1, keepdims=True)
    log_probs = shifted - tf.math.log(total)
    # the label's log-probability: a forward gather (deterministic; only its gradient would not be)
    losses = -tf.gather(log_probs, labels, axis=1, batch_dims=1)
    if smoothing:  # a Python condition: fixed when the graph is traced
        k = tf.cast(tf.shape(logits)[1], logits.dtype)
        losses = (1.0 - smoothing) * losses - (smoothing / k) * tf.reduce_sum(log_probs, axis=1)
    if not gradient:
        return losses, None
    target = tf.one_hot(labels, tf.shape(logits)[1], dtype=logits.dtype)
    if smoothing:
        target = target * (1.0 - smoothing) + smoothing / tf.cast(tf.shape(logits)[1], logits.dtype)
    backprop = exp / total - target
    return losses, backprop


def _activate(name: str, z: Any) -> tuple[Any, Any]:
    """``(activation(z), what its derivative needs besides the output)``."""
    import tensorflow as tf

    if name == "relu":
        return tf.nn.relu(z), None
    if name == "elu":
        return tf.nn.elu(z), None
    if name == "selu":
        return tf.nn.selu(z), None
    if name == "tanh":
        return tf.tanh(z), None
    if name == "sigmoid":
        return tf.sigmoid(z), None
    if name == "swish":  # x * sigmoid(x), not tf.nn.silu (a registered custom gradient, see above)
        s = tf.sigmoid(z)
        return z * s, s
    if name == "gelu":  # keras.activations.gelu: the exact (erf) form by default
        cdf = 0.5 * (1.0 + tf.math.erf(z * _SQRT_HALF))
        return z * cdf, (z, cdf)
    if name == "linear":
        return z, None
    raise ValueError(f"no plain TensorFlow form for activation {name!r}")


def _activation(name: str) -> Callable[[Any], Any]:
    """The activation ``name`` as a function of the pre-activation."""
    return lambda z: _activate(name, z)[0]


def _activation_gradient(name: str, da: Any, a: Any, saved: Any) -> Any:
    """The gradient with respect to the pre-activation, from the output ``a`` and ``saved``."""
    import tensorflow as tf

    raw = tf.raw_ops
    if name == "relu":
        return raw.ReluGrad(gradients=da, features=a)
    if name == "elu":
        return raw.EluGrad(gradients=da, outputs=a)
    if name == "selu":
        return raw.SeluGrad(gradients=da, outputs=a)
    if name == "tanh":
        return raw.TanhGrad(y=a, dy=da)
    if name == "sigmoid":
        return raw.SigmoidGrad(y=a, dy=da)
    if name == "swish":  # d/dz z s(z) = s + z s (1 - s) = s + a (1 - s)
        return da * (saved + a * (1.0 - saved))
    if name == "gelu":  # d/dz z Phi(z) = Phi(z) + z phi(z)
        z, cdf = saved
        return da * (cdf + z * (tf.exp(-0.5 * tf.square(z)) * _INV_SQRT_2PI))
    if name == "linear":
        return da
    raise ValueError(f"no plain TensorFlow form for activation {name!r}")


@dataclass(frozen=True)
class _Unit:
    uid: Any
    sources: tuple  # the unit's inputs, concatenated in this order
    widths: tuple[int, ...]  # columns of each source
    weights: int  # index of its kernel in ``PlainNetwork.weights``; bias, then gamma and beta follow
    stats: (
        int | None
    )  # index of its moving mean in ``PlainNetwork.stats`` (moving variance follows), if batch norm
    epsilon: float
    activation: str
    dropout: float


_GPU: bool | None = None  # whether TensorFlow sees a GPU, asked once


def turns_input_gradient(batch_size: int, rows: int, columns: int) -> bool:
    """Whether :func:`times_transposed` computes ``(kernel @ dz^T)^T`` for this batch and kernel shape.

    Never where TensorFlow has a GPU (it then places the products there, and
    cuBLAS reads a transposed operand directly: the turn would only add a copy).
    """
    global _GPU
    if _GPU is None:
        import tensorflow as tf

        _GPU = bool(tf.config.list_logical_devices("GPU"))
    return not _GPU and batch_size <= 128 and rows * columns >= 32768


def times_transposed(dz: Any, kernel: Any, batch_size: int) -> Any:
    """``dz @ kernel^T``: a layer's input gradient, for batches of ``batch_size`` rows.

    TensorFlow's CPU kernel (Eigen, one thread) is slow on the transposed
    right-hand side of ``matmul(dz, kernel, transpose_b=True)`` when the batch
    is small and the kernel big; ``(kernel @ dz^T)^T`` (the final transpose is a
    small copy) is the same product, faster there (``benchmarks/train_speed.py
    --part transpose``, 2-core machine, 2026-12-01): at batch 32 on a 322 x 512
    kernel 13.6 against 38.7 GFLOP/s, 0.22-0.66 of the time at batches of 16-32
    on kernels of 32,768 weights and more, 0.45-1.05 at 64-128, but 0.78-2.78 at
    256-512 and 0.82-1.62 on smaller kernels (the table is in the README's
    Performance section; where oneDNN computes the products, as on an AVX-512
    EPYC, both forms ran about as fast). The form is chosen from the batch size and
    the kernel's shape, so the graph holds one of them.
    """
    import tensorflow as tf

    if turns_input_gradient(batch_size, *kernel.shape):
        return tf.transpose(tf.matmul(kernel, dz, transpose_b=True))
    return tf.matmul(dz, kernel, transpose_b=True)


def _join(tensors: list) -> Any:
    import tensorflow as tf

    return tensors[0] if len(tensors) == 1 else tf.concat(tensors, axis=1)


def _split(tensor: Any, widths: tuple[int, ...]) -> list:
    import tensorflow as tf

    return [tensor] if len(widths) == 1 else tf.split(tensor, list(widths), axis=1)


class PlainNetwork:
    """The Keras model built from ``arch`` as plain TensorFlow functions of its weights.

    ``weights`` lists the Keras model's trainable variables (per unit: kernel,
    bias, and gamma and beta if batch-normalised; then the output layer's kernel
    and bias), ``stats`` its batch norm moving averages (mean and variance per
    batch-normalised unit) and ``momenta`` their momentum. The methods take their current values as lists
    of tensors in the same orders (``w`` and ``s``) and have no side effects: the
    trainer keeps the values where it likes (one flat buffer) and writes them
    back to the model. ``n_features`` is the width of the (scaled) input.
    """

    def __init__(self, arch: Architecture, model: Any, n_features: int) -> None:
        width: dict[Any, int] = {INPUT: n_features}
        self.batch_size = arch.batch_size  # picks the faster form of the backward products
        self.label_smoothing = float(arch.label_smoothing)  # of the training loss (classification)
        self.units: list[_Unit] = []
        self.weights: list = []
        self.stats: list = []
        self.momenta: list[float] = []  # of each moving average
        for unit in arch.units:
            names = unit_layer_names(unit.name)
            dense = model.get_layer(names["dense"])
            first, stats, epsilon = len(self.weights), None, 0.0
            self.weights += [dense.kernel, dense.bias]
            if unit.batchnorm:
                layer = model.get_layer(names["batchnorm"])
                self.weights += [layer.gamma, layer.beta]
                stats = len(self.stats)
                self.stats += [layer.moving_mean, layer.moving_variance]
                self.momenta += [float(layer.momentum)] * 2
                epsilon = float(layer.epsilon)
            self.units.append(
                _Unit(
                    uid=unit.id,
                    sources=tuple(unit.inputs),
                    widths=tuple(width[src] for src in unit.inputs),
                    weights=first,
                    stats=stats,
                    epsilon=epsilon,
                    activation=unit.activation,
                    dropout=float(unit.dropout),
                )
            )
            width[unit.id] = unit.neurons
        head = model.get_layer("output")
        self.weights += [head.kernel, head.bias]
        self.outputs = tuple(arch.outputs)
        self.out_widths = tuple(width[uid] for uid in self.outputs)
        # dropout: one draw of 16-bit numbers per step, a column per dropout neuron (an even count)
        rates = [(j, unit.dropout, width[unit.uid]) for j, unit in enumerate(self.units) if unit.dropout > 0]
        self._dropout_units = [j for j, _, _ in rates]
        self._dropout_widths = [w for _, _, w in rates]
        thresholds = np.concatenate([np.full(w, round(rate * 65536)) for _, rate, w in rates] or [[]])
        if len(thresholds) % 2:
            thresholds = np.append(thresholds, 0)  # an unused column, always kept
            self._dropout_widths.append(1)
        self._thresholds = thresholds.astype("uint16")
        self._scales = (65536.0 / (65536 - thresholds)).astype("float32")

    # -- forward -----------------------------------------------------------------------------------

    def logits(self, w: list, s: list, x: Any) -> Any:
        """Inference: the output layer's pre-activation for scaled features ``x`` (moving statistics)."""
        import tensorflow as tf

        values: dict[Any, Any] = {INPUT: x}
        for unit in self.units:
            h = _join([values[src] for src in unit.sources])
            kernel, bias = w[unit.weights], w[unit.weights + 1]
            if unit.stats is not None:
                gamma, beta = w[unit.weights + 2], w[unit.weights + 3]
                mean, var = s[unit.stats], s[unit.stats + 1]
                h = tf.nn.batch_normalization(h, mean, var, beta, gamma, unit.epsilon)
            values[unit.uid] = _activate(unit.activation, tf.nn.bias_add(tf.matmul(h, kernel), bias))[0]
        head = _join([values[uid] for uid in self.outputs])
        return tf.nn.bias_add(tf.matmul(head, w[-2]), w[-1])

    def dropout_masks(self, rows: Any, seed: Any) -> dict[int, Any]:
        """Scaled keep masks (``0`` or ``1 / (1 - rate)``) for ``rows`` rows, by unit index.

        One stateless draw of 16-bit numbers from ``seed`` (int32, shape ``[2]``)
        for all dropout units: a neuron is kept when its number is at least
        ``round(rate * 2**16)``, so the rate is exact to 1/65536. (Keras' dropout
        draws 32 bits per element and one generator call per layer; on one CPU
        thread the generator is the costly part of a dropout layer.)
        """
        import tensorflow as tf

        if not self._dropout_units:
            return {}
        columns = len(self._thresholds)
        bits = tf.random.stateless_uniform(
            tf.stack([rows, columns // 2]), seed, minval=None, maxval=None, dtype=tf.uint32
        )
        draws = tf.reshape(tf.bitcast(bits, tf.uint16), [-1, columns])
        masks = tf.cast(draws >= tf.constant(self._thresholds), tf.float32) * tf.constant(self._scales)
        return dict(zip(self._dropout_units, _split(masks, tuple(self._dropout_widths))))

    def forward(self, w: list, s: list, x: Any, masks: dict[int, Any]) -> tuple[Any, list, dict]:
        """Training mode: ``(logits, batch stats, saved)`` for scaled features ``x``.

        Batch-normalised units use the batch's statistics: ``batch stats`` are
        the batch's mean and (biased) variance in the order of ``stats``, for the
        caller to update the moving averages as Keras does (``moving * momentum
        + batch * (1 - momentum)``). ``masks`` (from :meth:`dropout_masks`)
        apply dropout. ``saved`` holds what :meth:`gradients` needs.
        """
        import tensorflow as tf

        values: dict[Any, Any] = {INPUT: x}
        saved: dict[Any, Any] = {}
        batch_stats = list(s)
        for j, unit in enumerate(self.units):
            h = _join([values[src] for src in unit.sources])
            kernel, bias = w[unit.weights], w[unit.weights + 1]
            norm_saved = None
            if unit.stats is not None:
                gamma, beta = w[unit.weights + 2], w[unit.weights + 3]
                mean = tf.reduce_mean(h, axis=0)
                centred = h - mean
                var = tf.reduce_mean(tf.square(centred), axis=0)
                batch_stats[unit.stats], batch_stats[unit.stats + 1] = mean, var
                inv = tf.math.rsqrt(var + unit.epsilon)
                xhat = centred * inv
                h = xhat * gamma + beta
                norm_saved = (xhat, inv, gamma)
            a, act_saved = _activate(unit.activation, tf.nn.bias_add(tf.matmul(h, kernel), bias))
            values[unit.uid] = a * masks[j] if j in masks else a
            saved[unit.uid] = (h, norm_saved, a, act_saved)
        head = _join([values[uid] for uid in self.outputs])
        saved["head"] = (head, masks)
        return tf.nn.bias_add(tf.matmul(head, w[-2]), w[-1]), batch_stats, saved

    # -- backward ----------------------------------------------------------------------------------

    def gradients(self, w: list, saved: dict, d_logits: Any) -> list:
        """Gradients of the training loss for ``w``, given its gradient for the logits."""
        import tensorflow as tf

        raw = tf.raw_ops
        head, masks = saved["head"]
        grads: list = [None] * len(w)
        grads[-2] = tf.matmul(head, d_logits, transpose_a=True)
        grads[-1] = raw.BiasAddGrad(out_backprop=d_logits)
        incoming: dict[Any, list] = {uid: [] for uid in saved}
        d_head = times_transposed(d_logits, w[-2], self.batch_size)
        for uid, part in zip(self.outputs, _split(d_head, self.out_widths)):
            incoming[uid].append(part)
        for j in reversed(range(len(self.units))):
            unit = self.units[j]
            h, norm_saved, a, act_saved = saved[unit.uid]
            kernel, at = w[unit.weights], unit.weights
            d_out = incoming[unit.uid]
            da = d_out[0] if len(d_out) == 1 else tf.add_n(d_out)
            if j in masks:
                da = da * masks[j]
            dz = _activation_gradient(unit.activation, da, a, act_saved)
            grads[at] = tf.matmul(h, dz, transpose_a=True)
            grads[at + 1] = raw.BiasAddGrad(out_backprop=dz)
            # the concatenated input's gradient, for the sources that need one (not the raw input)
            first = 1 if unit.sources[0] == INPUT else 0
            if norm_saved is not None:  # batch norm's parameters need all columns
                xhat, inv, gamma = norm_saved
                dh = times_transposed(dz, kernel, self.batch_size)
                grads[at + 2] = tf.reduce_sum(dh * xhat, axis=0)
                grads[at + 3] = tf.reduce_sum(dh, axis=0)
                if first < len(unit.sources):
                    dx = dh * gamma
                    dh = inv * (dx - tf.reduce_mean(dx, axis=0) - xhat * tf.reduce_mean(dx * xhat, axis=0))
                    for src, part in zip(unit.sources[first:], _split(dh, unit.widths)[first:]):
                        incoming[src].append(part)
            elif first < len(unit.sources):
                rows = kernel if first == 0 else kernel[unit.widths[0] :]
                dh = times_transposed(dz, rows, self.batch_size)
                for src, part in zip(unit.sources[first:], _split(dh, unit.widths[first:])):
                    incoming[src].append(part)
        return grads

    def loss_and_gradients(
        self, w: list, s: list, x: Any, y: Any, seed: Any, classify: bool
    ) -> tuple[Any, list, list]:
        """``(mean training loss, gradients for w, batch stats)`` on one batch, in training mode.

        The loss is the mean squared error of the single output (regression, ``y``
        standardised) or the softmax cross-entropy of the logits (classification,
        ``y`` integer labels, with the architecture's label smoothing), as Keras computes
        them; ``seed`` draws the dropout masks.
        """
        import tensorflow as tf

        rows = tf.shape(x)[0]
        logits, batch_stats, saved = self.forward(w, s, x, self.dropout_masks(rows, seed))
        count = tf.cast(rows, tf.float32)
        if classify:
            losses, backprop = softmax_cross_entropy(logits, y, smoothing=self.label_smoothing)
            return tf.reduce_mean(losses), self.gradients(w, saved, backprop / count), batch_stats
        error = tf.reshape(logits, [-1]) - y
        d_logits = tf.reshape(error * (2.0 / count), [-1, 1])
        return tf.reduce_mean(tf.square(error)), self.gradients(w, saved, d_logits), batch_stats


__all__ = [
    "ACTIVATIONS",
    "PlainNetwork",
    "scale_features",
    "softmax_cross_entropy",
    "times_transposed",
    "turns_input_gradient",
]
