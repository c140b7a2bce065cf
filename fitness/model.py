"""Build a Keras functional model from a decoded :class:`genome.Architecture`.

One unit is ``Concatenate(inputs) -> [BatchNormalization] -> Dense -> [Dropout]``
(a unit with a single input skips the Concatenate). The raw input is scaled
inside the model by a fixed ``Normalization`` layer holding the training
statistics, so a saved model takes the encoded (unscaled) feature matrix.

Layer names are stable and readable (``L1U0_dense``, ``L1U0_concat``,
``head_concat``), so tests and reports can find which Dense feeds which
Concatenate.

An image network (conv levels, :mod:`genome.conv`) reshapes the scaled pixels
into images (``image``), then per conv level ``c``: ``C{c}_from_C{s}`` (the
max pooling that brings a skip from level ``s`` to the size of level ``c-1``),
``C{c}_concat``, ``C{c}_conv``, ``C{c}_bn``, ``C{c}_act``, ``C{c}_pool``,
``C{c}_dropout``; then ``readout`` (Flatten or global pooling), which the
Dense lattice reads as its input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from evonas.fitness.embedding import Bins, layer_weights
from evonas.genome import INPUT, Architecture, ConvLevel

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
    ple_bins: Bins = (),
    image_shape: tuple[int, int, int] | None = None,
) -> keras.Model:
    """Return the (uncompiled) Keras model of ``arch``.

    Regression models output one standardised value (the trainer scales the
    target); classification models output softmax probabilities. Every random
    layer gets an explicit seed derived from ``seed``, so the initial weights and
    dropout masks never depend on global random state (or on other threads using it).
    An architecture with the ``ple`` embedding reads the scaled features and their
    piecewise-linear encoding over ``ple_bins`` (:mod:`fitness.embedding`). An
    architecture with conv levels reads the scaled features as images of
    ``image_shape`` (height, width, channels) through them first.
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
    if arch.embedding == "ple":
        if not ple_bins:
            raise ValueError("the ple embedding needs the numeric features' bins (none given)")
        kernel, bias = layer_weights(ple_bins, n_features)
        binned = layers.Dense(kernel.shape[1], trainable=False, name="ple_bins")
        encoded = layers.ReLU(max_value=1.0, name="ple")(binned(scaled))
        binned.set_weights([kernel, bias])
        scaled = layers.Concatenate(name="ple_input")([scaled, encoded])
    if arch.conv:
        if image_shape is None:
            raise ValueError("an architecture with conv levels needs the image shape (none given)")
        scaled = _conv_block(layers, arch.conv, arch.readout, scaled, image_shape, seed)
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


LAST = "channels_last"  # whatever ~/.keras/keras.json says: the pixels are laid out H, W, C


def _conv_block(layers_mod, levels: tuple[ConvLevel, ...], readout: str, flat, image_shape, seed: int):
    """The conv levels on the scaled pixels ``flat``, up to the readout (see the module docstring).

    Their seeds come from a generator of their own, so the Dense units' seeds
    are those they have without conv levels.
    """
    import keras

    seeds = iter(np.random.default_rng([seed, 1]).integers(0, 2**31 - 1, size=2 * len(levels)).tolist())
    x = layers_mod.Reshape(tuple(int(n) for n in image_shape), name="image")(flat)  # H x W x C
    out: dict[object, object] = {INPUT: x}
    pools: dict[object, int] = {INPUT: 0}  # poolings from the image to each level's output
    for level in levels:
        name = level.name
        below = level.below
        parts = []
        for src in level.inputs:
            tensor = out[src]
            factor = 2 ** (pools[below] - pools[src])
            if factor > 1:  # a skip from a larger level: pooled to the size of the level below
                tensor = layers_mod.MaxPooling2D(
                    factor, strides=factor, padding="same", data_format=LAST, name=f"{name}_from_C{src}"
                )(tensor)
            parts.append(tensor)
        x = _join(layers_mod, parts, f"{name}_concat")
        x = layers_mod.Conv2D(
            level.filters,
            level.kernel,
            padding="same",
            data_format=LAST,
            activation=None if level.batchnorm else level.activation,
            kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)),
            name=f"{name}_conv",
        )(x)
        if level.batchnorm:
            x = layers_mod.BatchNormalization(name=f"{name}_bn")(x)
            x = layers_mod.Activation(level.activation, name=f"{name}_act")(x)
        pools[level.index] = pools[below] + (level.pooling != "none")
        if level.pooling == "max":
            x = layers_mod.MaxPooling2D(2, padding="same", data_format=LAST, name=f"{name}_pool")(x)
        elif level.pooling == "avg":
            x = layers_mod.AveragePooling2D(2, padding="same", data_format=LAST, name=f"{name}_pool")(x)
        dropout_seed = next(seeds)
        if level.dropout > 0:
            x = layers_mod.Dropout(level.dropout, seed=dropout_seed, name=f"{name}_dropout")(x)
        out[level.index] = x
    last = out[levels[-1].index]
    if readout == "flatten":
        return layers_mod.Flatten(data_format=LAST, name="readout")(last)
    if readout == "global_max":
        return layers_mod.GlobalMaxPooling2D(data_format=LAST, name="readout")(last)
    return layers_mod.GlobalAveragePooling2D(data_format=LAST, name="readout")(last)


def with_target_scale(
    model: keras.Model,
    target_mean: float,
    target_std: float,
    target_transform: str = "none",
    smear: float | None = None,
) -> keras.Model:
    """Wrap a regression model so that it predicts in the target's own units.

    The inverse of :meth:`fitness.data.Dataset.model_targets`: ``Rescaling(std, mean)``,
    then for a ``"log"`` target ``exp``, times ``smear`` when given (Duan's smearing
    factor, ``training.smearing``), and ``- 1`` (built-in layers only, so the saved model
    loads with ``safe_mode`` and no custom objects).
    """
    import keras

    layers = keras.layers
    if target_transform not in ("none", "log"):
        raise ValueError(f"unknown target transform {target_transform!r}")
    name = "target_units" if target_transform == "none" else "target_log1p"
    out = layers.Rescaling(scale=float(target_std), offset=float(target_mean), name=name)(model.output)
    if target_transform == "log":
        out = layers.Activation("exponential", name="target_exp")(out)
        out = layers.Rescaling(scale=float(smear or 1.0), offset=-1.0, name="target_units")(out)
    return keras.Model(model.input, out, name=model.name)


def make_optimizer(name: str, learning_rate: Any, weight_decay: float = 0.0):
    """The optimizer named by a training gene (``sgd`` is SGD with momentum 0.9).

    ``learning_rate`` is a float or a schedule (:func:`fitness.schedule.learning_rate`);
    ``weight_decay`` is the decoupled decay of the ``weight_decay`` gene (Keras
    shrinks every weight by ``weight_decay * rate`` before each update, for any
    optimizer). ``adamw`` with a decay of 0 keeps Keras' AdamW default (0.004).
    """
    import keras

    opts = keras.optimizers
    decay = float(weight_decay) or None
    if name == "adam":
        return opts.Adam(learning_rate, weight_decay=decay)
    if name == "adamw":
        return opts.AdamW(learning_rate) if decay is None else opts.AdamW(learning_rate, weight_decay=decay)
    if name == "rmsprop":
        return opts.RMSprop(learning_rate, weight_decay=decay)
    if name == "sgd":
        return opts.SGD(learning_rate, momentum=0.9, weight_decay=decay)
    raise ValueError(f"unknown optimizer {name!r}")


def optimizer_for(arch: Architecture, train_rows: int, horizon_epochs: int):
    """The optimizer of ``arch``'s training genes, its schedule spread over ``horizon_epochs`` epochs.

    ``train_rows`` and ``arch.batch_size`` give the updates per epoch; the
    horizon is the epoch cap of the search (``training.max_epochs``), also in
    the refit, so the rate of epoch ``e`` does not depend on where training stops.
    """
    from evonas.fitness.schedule import learning_rate, steps_per_epoch

    steps = horizon_epochs * steps_per_epoch(train_rows, arch.batch_size)
    rate = learning_rate(arch.schedule, arch.learning_rate, steps)
    return make_optimizer(arch.optimizer, rate, arch.weight_decay)
