"""Build a Keras functional model from a decoded :class:`genome.Architecture`.

One unit is ``Concatenate(inputs) -> [BatchNormalization] -> Dense -> [Dropout]``
(a unit with a single input skips the Concatenate). The raw input is scaled
inside the model by a fixed ``Normalization`` layer holding the training
statistics, so a saved model takes the encoded (unscaled) feature matrix.

Layer names are stable and readable (``L1U0_dense``, ``L1U0_concat``,
``head_concat``), so tests and reports can find which Dense feeds which
Concatenate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from genome import INPUT, Architecture

if TYPE_CHECKING:  # pragma: no cover
    import keras


def unit_layer_names(name: str) -> dict[str, str]:
    """Keras layer names used for one unit, by role."""
    return {
        "concat": f"{name}_concat",
        "batchnorm": f"{name}_bn",
        "dense": f"{name}_dense",
        "dropout": f"{name}_dropout",
    }


def _join(layers_mod, tensors: list, name: str):
    return tensors[0] if len(tensors) == 1 else layers_mod.Concatenate(name=name)(tensors)


def build_model(
    arch: Architecture,
    n_features: int,
    n_outputs: int,
    task: str,
    feature_mean: np.ndarray,
    feature_var: np.ndarray,
    seed: int = 0,
) -> keras.Model:
    """Return the (uncompiled) Keras model of ``arch``.

    Regression models output one standardised value (the trainer scales the
    target); classification models output softmax probabilities. Every random
    layer gets an explicit seed derived from ``seed``, so the initial weights and
    dropout masks never depend on global random state (or on other threads using it).
    """
    import keras

    layers = keras.layers
    seeds = iter(np.random.default_rng(seed).integers(0, 2**31 - 1, size=3 * len(arch.units) + 2).tolist())

    def glorot():
        return keras.initializers.GlorotUniform(seed=next(seeds))

    inputs = keras.Input(shape=(n_features,), name="features")
    scaled = layers.Normalization(
        mean=np.asarray(feature_mean, dtype="float32"),
        variance=np.asarray(feature_var, dtype="float32"),
        name="scale",
    )(inputs)
    tensors: dict[object, object] = {INPUT: scaled}
    for unit in arch.units:
        names = unit_layer_names(unit.name)
        x = _join(layers, [tensors[src] for src in unit.inputs], names["concat"])
        if unit.batchnorm:
            x = layers.BatchNormalization(name=names["batchnorm"])(x)
        x = layers.Dense(
            unit.neurons, activation=unit.activation, kernel_initializer=glorot(), name=names["dense"]
        )(x)
        dropout_seed = next(seeds)
        if unit.dropout > 0:
            x = layers.Dropout(unit.dropout, seed=dropout_seed, name=names["dropout"])(x)
        tensors[unit.id] = x
    head = _join(layers, [tensors[uid] for uid in arch.outputs], "head_concat")
    if task == "classification":
        out = layers.Dense(n_outputs, activation="softmax", kernel_initializer=glorot(), name="output")(head)
    else:
        out = layers.Dense(1, kernel_initializer=glorot(), name="output")(head)
    return keras.Model(inputs, out, name=f"evonas_{arch.key}")


def with_target_scale(model: keras.Model, target_mean: float, target_std: float) -> keras.Model:
    """Wrap a regression model so that it predicts in the target's own units."""
    import keras

    out = keras.layers.Rescaling(scale=float(target_std), offset=float(target_mean), name="target_units")(
        model.output
    )
    return keras.Model(model.input, out, name=model.name)


def make_optimizer(name: str, learning_rate: float):
    """The optimizer named by a training gene (``sgd`` is SGD with momentum 0.9)."""
    import keras

    opts = keras.optimizers
    if name == "adam":
        return opts.Adam(learning_rate)
    if name == "adamw":
        return opts.AdamW(learning_rate)
    if name == "rmsprop":
        return opts.RMSprop(learning_rate)
    if name == "sgd":
        return opts.SGD(learning_rate, momentum=0.9)
    raise ValueError(f"unknown optimizer {name!r}")
