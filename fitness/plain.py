"""The forward pass of a candidate's Keras model written as plain TensorFlow ops, for training.

Inside a compiled training loop, calling the Keras model runs each layer's Python
call machinery (input conversion, autocasting, name scopes, seed generators) while
the graph is traced, and leaves its extra operations in the graph: for the small
networks of a search, tracing and those operations cost more than the arithmetic.
:func:`plain_forward` reads the decoded architecture and the Keras model's own
variables and returns a function computing the same network with a handful of
TensorFlow ops per unit; training it trains the Keras model, which is what is
saved and scored.

Differences from calling the model, by design:

- the input scaling (the model's ``Normalization`` layer) is not in the function:
  the trainer scales the data once (:func:`scale_features`, the same formula);
- the function returns the output layer's pre-activation (logits for
  classification, so the loss is the numerically stable softmax cross-entropy
  of the logits; the model's softmax is applied only when predicting);
- dropout masks come from TensorFlow's stateless random ops with seeds given by
  the caller, so training is deterministic without Keras' seed generators;
- ``swish`` is written ``x * sigmoid(x)``: TensorFlow's ``tf.nn.silu`` is a
  ``tf.custom_gradient`` op, and in graph mode each call registers a gradient
  function in a global registry that keeps it, with the whole traced graph, for
  ever (tensorflow/tensorflow#97697: 3 to 11 MB per candidate, measured). No op
  here registers one; ``tests/fitness/test_train.py`` checks the registry.

A test checks the function against ``model(x, training=False)`` and against the
Keras model in training mode (batch statistics, moving averages) without dropout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fitness.model import unit_layer_names
from genome import Architecture

EPSILON = 1e-7  # keras.backend.epsilon(): the floor of the Normalization layer's standard deviation


def scale_features(x: np.ndarray, mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """What the model's ``Normalization`` layer computes: ``(x - mean) / max(sqrt(variance), eps)``."""
    mean = np.asarray(mean, dtype="float32")
    std = np.maximum(np.sqrt(np.asarray(variance, dtype="float32")), np.float32(EPSILON))
    return ((np.asarray(x, dtype="float32") - mean) / std).astype("float32")


def _activation(name: str) -> Callable[[Any], Any]:
    import tensorflow as tf

    if name == "relu":
        return tf.nn.relu
    if name == "elu":
        return tf.nn.elu
    if name == "tanh":
        return tf.tanh
    if name == "gelu":  # keras.activations.gelu: exact (erf) form by default
        return lambda x: tf.nn.gelu(x, approximate=False)
    if name == "swish":
        return lambda x: x * tf.sigmoid(x)
    if name == "selu":
        return tf.nn.selu
    if name == "sigmoid":
        return tf.sigmoid
    if name == "linear":
        return lambda x: x
    raise ValueError(f"no plain TensorFlow form for activation {name!r}")


def _dropout(h: Any, rate: float, seed: Any) -> Any:
    """Inverted dropout of ``h`` (keep with probability ``1 - rate``, scale by ``1 / (1 - rate)``).

    ``tf.nn.experimental.stateless_dropout`` (what Keras uses) draws one 32-bit
    random number per element, and on one thread the random generator is the
    costly part of a dropout layer. Here each element gets 16 random bits (half
    the draws): it is kept when they are at least ``round(rate * 2**16)``, so
    the rate is exact to 1/65536.
    """
    import tensorflow as tf

    threshold = round(rate * 65536)
    shape = tf.shape(h)
    size = tf.reduce_prod(shape)
    bits = tf.random.stateless_uniform(
        tf.reshape((size + 1) // 2, [1]), seed, minval=None, maxval=None, dtype=tf.uint32
    )
    draws = tf.reshape(tf.bitcast(bits, tf.uint16), [-1])[:size]
    keep = tf.reshape(draws >= threshold, shape)
    return tf.where(keep, h * (65536.0 / (65536 - threshold)), tf.zeros_like(h))


def _tf(variable: Any) -> Any:
    """The ``tf.Variable`` behind a Keras variable."""
    return getattr(variable, "value", variable)


def plain_forward(arch: Architecture, model: Any) -> tuple[Callable[..., Any], list]:
    """``(forward, trainable)`` for ``model``, the Keras model built from ``arch``.

    ``forward(x, training, seed=None)`` maps scaled features to the output
    layer's pre-activation. With ``training=True`` batch-normalised units use the
    batch's statistics and update their moving averages as Keras does, and
    dropout is applied with masks drawn from ``seed`` (an int32 tensor of shape
    ``[2]``; each unit derives its own). ``trainable`` lists the ``tf.Variable``
    objects that training updates (the Keras model's trainable weights).
    """
    import tensorflow as tf

    steps = []
    trainable: list = []
    for j, unit in enumerate(arch.units):
        names = unit_layer_names(unit.name)
        dense = model.get_layer(names["dense"])
        kernel, bias = _tf(dense.kernel), _tf(dense.bias)
        trainable += [kernel, bias]
        norm = None
        if unit.batchnorm:
            layer = model.get_layer(names["batchnorm"])
            gamma, beta = _tf(layer.gamma), _tf(layer.beta)
            trainable += [gamma, beta]
            norm = (
                gamma,
                beta,
                _tf(layer.moving_mean),
                _tf(layer.moving_variance),
                float(layer.momentum),
                float(layer.epsilon),
            )
        activation = _activation(unit.activation)
        steps.append((j, unit.id, unit.inputs, norm, kernel, bias, activation, unit.dropout))
    head = model.get_layer("output")
    out_kernel, out_bias = _tf(head.kernel), _tf(head.bias)
    trainable += [out_kernel, out_bias]
    outputs = tuple(arch.outputs)

    def join(tensors: list) -> Any:
        return tensors[0] if len(tensors) == 1 else tf.concat(tensors, axis=1)

    def forward(x: Any, training: bool, seed: Any = None) -> Any:
        values: dict[Any, Any] = {"input": x}
        for j, uid, inputs, norm, kernel, bias, activation, dropout in steps:
            h = join([values[src] for src in inputs])
            if norm is not None:
                gamma, beta, moving_mean, moving_var, momentum, eps = norm
                if training:
                    mean, var = tf.nn.moments(h, axes=[0])
                    moving_mean.assign(moving_mean * momentum + mean * (1.0 - momentum))
                    moving_var.assign(moving_var * momentum + var * (1.0 - momentum))
                else:
                    mean, var = moving_mean, moving_var
                h = tf.nn.batch_normalization(h, mean, var, beta, gamma, eps)
            h = activation(tf.nn.bias_add(tf.matmul(h, kernel), bias))
            if training and dropout > 0:
                h = _dropout(h, dropout, seed + tf.constant([0, 7919 * (j + 1)], dtype=seed.dtype))
            values[uid] = h
        return tf.nn.bias_add(tf.matmul(join([values[uid] for uid in outputs]), out_kernel), out_bias)

    return forward, trainable


__all__ = ["plain_forward", "scale_features"]
