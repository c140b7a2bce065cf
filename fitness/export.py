"""One self-contained Keras model for serving: the encoding of raw rows inside the graph, then the network.

:func:`export_model` composes the :class:`~fitness.encoder.Encoder` of a run and
its trained model into one functional model made only of standard Keras layers
(no ``Lambda``, no custom class), so ``keras.models.load_model(path)`` reads it
with the default ``safe_mode`` and no ``custom_objects`` in a process without
evonas, and it can be exported for TF Serving (``model.export(...)``).

Inputs: one per raw feature column, shape ``(None, 1)``: ``float32`` for a
numeric column (a missing value is NaN; +-inf and values beyond float32 are
missing too), ``string`` for a categorical column (a missing value is ``""`` or
``"<missing>"``). Input names are :func:`input_names`: the column name with every
character outside ``[A-Za-z0-9_.-]`` replaced by ``_``, prefixed ``col_`` when it
does not start with a letter, digit or dot, and suffixed ``_2``, ``_3``... when
two columns (or a column and a layer of the graph) would share a name. Output:
the trained model's (target units for regression, class probabilities in
``encoder.classes`` order for classification), from a layer named ``prediction``.

How the graph replaces a missing number by the train median, with no ``where``
or ``is_nan`` layer in Keras (checked on CPU, TF 2.21 / Keras 3.15, by
``tests/fitness/test_export.py``; ``Minimum``/``Maximum`` are of no use: on CPU
they propagate NaN whichever operand it is):

* ``Discretization(bin_boundaries=[-FLT_MAX, inf])`` buckets ``-inf`` to 0,
  finite values (``+-FLT_MAX`` included) to 1 and ``+inf`` to 2; NaN compares
  false with every boundary and lands at one end (2 with the CPU kernel's
  ``upper_bound``; a binary-search GPU kernel may give 0). The indicator is
  ``(bucket - 1) ** 2`` (``Rescaling`` then ``Multiply``): 1 for NaN at either end.
* ``ReLU(threshold=t, max_value=FLT_MAX)`` with ``t`` the smallest positive
  float32 is ``where(x > t, x, 0)`` then a clip: NaN and -inf give 0 (a false
  comparison), +inf gives FLT_MAX. Applied to ``x`` and ``-x`` and subtracted,
  it gives ``x`` for every finite ``x`` (only the subnormal ``+-t`` itself
  becomes 0, which CPUs flushing subnormals treat as 0 anyway) and a finite
  value otherwise.
* ``value * (1 - m) + median * m`` (``Multiply``, ``Rescaling``, ``Add``) is then
  exact in float32. Values are never sent through a matrix product, so TF32
  matmuls on a GPU cannot round them; the fixed, non-trainable ``Dense`` layers
  only pick 0/1 indicator and one-hot columns with 0/1 weights (exact even in TF32).

The run's numeric transform (``data.numeric_transform``, :mod:`fitness.transforms`)
follows the imputation with built-in layers too: ``"robust"`` by ``Rescaling``,
a clip at ``|u / 3| <= 1e6`` (two ``ReLU``) and ``UnitNormalization`` of the pair
``(u / 3, 1)``; ``"quantile"`` by masks of ``Discretization`` over a tile of
segments (:func:`_quantile_scores`). Both agree with the encoder to ~1e-5.

Categorical columns: ``StringLookup`` (one-hot, one OOV slot) over the kept
levels, plus ``""`` as an alias of ``"<missing>"`` when that level was kept and
``""`` is not itself a level; a fixed ``Dense`` drops the OOV slot and merges the
alias, so an unseen level encodes as all zeros, as in the encoder.

The ``ReLU`` point relies on how Keras 3 computes a non-zero ``threshold``
(``ops.where(x > threshold, x, 0)``, i.e. its documented formula); the test of
that behaviour fails first if a release changes it. Not tested on a GPU: the NaN
bucket may differ there (either end gives indicator 1, as above) and ``where``
and the comparisons are IEEE on CUDA, so the result should hold.

Differences from :meth:`Encoder.transform`: inputs are float32, so a float64
value within half a float32 ulp above ``FLT_MAX`` is rounded to ``FLT_MAX`` (a
number) by the input, where the encoder calls it missing; a word in a numeric
column the encoder reads as missing must be given as NaN; when ``""`` is itself
a kept level it means that level, and missing is ``"<missing>"`` only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from evonas.fitness.encoder import MISSING, Encoder

if TYPE_CHECKING:  # pragma: no cover
    import keras

FLT_MAX = float(np.finfo(np.float32).max)
TINY = float(np.finfo(np.float32).smallest_subnormal)
OUTPUT = "prediction"
_PREFIX = "evonas_pre_"  # internal layers; input names avoid them


def _safe(name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.\-]", "_", str(name))
    return safe if re.match(r"[A-Za-z0-9.]", safe) else f"col_{safe}"


def input_names(encoder: Encoder) -> dict[str, str]:
    """The model input name of each raw feature column, in :attr:`Encoder.columns` order.

    Args:
        encoder: the run's encoder.

    Returns:
        ``{column: input name}`` (see the module docstring for the rule).
    """
    taken = {OUTPUT}
    names: dict[str, str] = {}
    for column in encoder.columns:
        base = _safe(column)
        name, k = base, 1
        while name in taken or name.startswith(_PREFIX) or name.startswith("evonas_"):
            k += 1
            name = f"{base}_{k}"
        taken.add(name)
        names[column] = name
    return names


def _join(keras_mod, tensors: list, name: str):
    return tensors[0] if len(tensors) == 1 else keras_mod.layers.Concatenate(axis=-1, name=name)(tensors)


def _fixed_dense(keras_mod, x, weights: np.ndarray, name: str):
    layer = keras_mod.layers.Dense(weights.shape[1], use_bias=False, trainable=False, name=name)
    out = layer(x)
    layer.set_weights([weights.astype(np.float32)])
    return out


def _numeric_block(keras_mod, x, encoder: Encoder) -> list:
    """The encoded numeric values (median for missing) and the indicators, from the (None, n) numbers."""
    layers = keras_mod.layers
    n = len(encoder.numeric)
    bucket = layers.Discretization(
        bin_boundaries=[-FLT_MAX, float("inf")], output_mode="int", name=f"{_PREFIX}finite_bucket"
    )(x)
    off = layers.Rescaling(scale=1.0, offset=-1.0, name=f"{_PREFIX}bucket_offset")(bucket)
    missing = layers.Multiply(name=f"{_PREFIX}missing")([off, off])
    keep = layers.Rescaling(scale=-1.0, offset=1.0, name=f"{_PREFIX}keep")(missing)
    clip = {"threshold": TINY, "max_value": FLT_MAX}
    positive = layers.ReLU(**clip, name=f"{_PREFIX}positive_part")(x)
    negated = layers.Rescaling(scale=-1.0, offset=0.0, name=f"{_PREFIX}negate")(x)
    negative = layers.ReLU(**clip, name=f"{_PREFIX}negative_part")(negated)
    finite = layers.Subtract(name=f"{_PREFIX}finite")([positive, negative])
    kept = layers.Multiply(name=f"{_PREFIX}kept_values")([finite, keep])
    medians = np.array([c.median for c in encoder.numeric], dtype=np.float32)
    filled = layers.Rescaling(scale=medians, offset=0.0, name=f"{_PREFIX}medians")(missing)
    numbers = layers.Add(name=f"{_PREFIX}numbers")([kept, filled])
    blocks = [_transformed(keras_mod, numbers, encoder)]
    flagged = [i for i, c in enumerate(encoder.numeric) if c.indicator]
    if flagged:
        pick = np.zeros((n, len(flagged)))
        pick[flagged, np.arange(len(flagged))] = 1.0
        blocks.append(_fixed_dense(keras_mod, missing, pick, f"{_PREFIX}indicators"))
    return blocks


def _transformed(keras_mod, x, encoder: Encoder):
    """The encoder's numeric transform of the imputed numbers ``x`` (None, n) (:mod:`fitness.transforms`).

    ``"robust"``: ``u / 3 = (x - centre) / (3 spread)`` by two ``Rescaling``; then
    ``UnitNormalization`` of the pair ``(u / 3, 1)`` per column gives
    ``(u / 3) / sqrt((u / 3) ** 2 + 1)``, times 3 the smooth clip. ``"quantile"``:
    :func:`_quantile_scores`.
    """
    layers = keras_mod.layers
    n = len(encoder.numeric)
    if encoder.numeric_transform == "robust":
        centre = np.array([c.centre for c in encoder.numeric], dtype=np.float64)
        third = 3.0 * np.array([c.spread for c in encoder.numeric], dtype=np.float64)
        centred = layers.Rescaling(
            scale=1.0, offset=(-centre).astype(np.float32), name=f"{_PREFIX}robust_centre"
        )(x)
        u = layers.Rescaling(
            scale=(1.0 / third).astype(np.float32), offset=0.0, name=f"{_PREFIX}robust_scale"
        )(centred)
        # |u / 3| clipped at 1e6 (two ReLUs, exact below it), so its square cannot overflow float32;
        # the smooth clip of 3e6 is already 3.0 in float32
        above = layers.ReLU(max_value=1e6, name=f"{_PREFIX}robust_above")(u)
        below = layers.ReLU(max_value=1e6, name=f"{_PREFIX}robust_below")(
            layers.Rescaling(scale=-1.0, offset=0.0, name=f"{_PREFIX}robust_negate")(u)
        )
        u = layers.Subtract(name=f"{_PREFIX}robust_clipped")([above, below])
        u = layers.Reshape((n, 1), name=f"{_PREFIX}robust_column")(u)
        one = layers.Rescaling(scale=0.0, offset=1.0, name=f"{_PREFIX}robust_one")(u)
        pair = layers.Concatenate(axis=-1, name=f"{_PREFIX}robust_pair")([u, one])
        unit = layers.UnitNormalization(axis=-1, name=f"{_PREFIX}robust_unit")(pair)
        first = layers.Cropping1D((0, 1), name=f"{_PREFIX}robust_first")(
            layers.Permute((2, 1), name=f"{_PREFIX}robust_swap")(unit)
        )
        flat = layers.Reshape((n,), name=f"{_PREFIX}robust_flat")(first)
        return layers.Rescaling(scale=3.0, offset=0.0, name=f"{_PREFIX}robust_clip")(flat)
    if encoder.numeric_transform == "quantile":
        return _quantile_scores(keras_mod, x, encoder)
    return x


def _quantile_scores(keras_mod, x, encoder: Encoder):
    """The quantile-normal scores of ``x`` (None, n): ``numpy.interp`` through each column's knots.

    Segment ``k`` of a column is ``[q_k, q_k+1)``, plus ``(-inf, q_0)`` and
    ``[q_last, inf)`` with slope 0 (the clamps), all columns padded with empty
    segments to the same count ``m``. On a ``(None, m, n)`` tile of ``x``,
    ``Discretization([0])`` of ``x - q_k`` and of ``x - q_k+1`` gives the 0/1 mask of
    the segment ``x`` is in (an infinite end is ``0 * x + 1`` or ``0 * x - 1``,
    so even ``x = FLT_MAX`` falls in its segment), the segment's line is ``z_k + s_k (x - q_k)``, and
    the mask times the line averaged over the segments (one term is not 0) times
    ``m`` is the score, exact up to float32 rounding.
    """
    layers = keras_mod.layers
    n = len(encoder.numeric)
    m = max(len(c.knots) for c in encoder.numeric) + 1
    # x * scale + offset >= 0 at the segment's low end, and at its high end; padding: never inside
    low_scale, low_offset = np.zeros((m, n)), np.full((m, n), -1.0)
    high_scale, high_offset = np.zeros((m, n)), np.full((m, n), -1.0)
    origin = np.zeros((m, n))
    slope = np.zeros((m, n))
    start = np.zeros((m, n))
    for j, c in enumerate(encoder.numeric):
        q, z = np.asarray(c.knots, dtype=np.float64), np.asarray(c.scores, dtype=np.float64)
        k = len(q)
        low_offset[0, j] = 1.0  # -inf: always above
        low_scale[1 : k + 1, j], low_offset[1 : k + 1, j] = 1.0, -q
        high_scale[:k, j], high_offset[:k, j] = 1.0, -q  # segment k: +inf, never above
        origin[: k + 1, j] = [q[0], *q]
        start[: k + 1, j] = [z[0], *z]
        if k > 1:
            slope[1:k, j] = np.diff(z) / np.diff(q)
    f32 = np.float32
    rows = layers.Reshape((1, n), name=f"{_PREFIX}quantile_row")(x)
    tiled = layers.UpSampling1D(m, name=f"{_PREFIX}quantile_tile")(rows)
    steps = []
    for name, scale, offset in (("low", low_scale, low_offset), ("high", high_scale, high_offset)):
        shifted = layers.Rescaling(
            scale=scale.astype(f32), offset=offset.astype(f32), name=f"{_PREFIX}q_{name}"
        )(tiled)
        bucket = layers.Discretization(
            bin_boundaries=[0.0], output_mode="int", name=f"{_PREFIX}q_{name}_step"
        )
        steps.append(
            layers.Rescaling(scale=1.0, offset=0.0, name=f"{_PREFIX}q_{name}_float")(bucket(shifted))
        )
    inside = layers.Subtract(name=f"{_PREFIX}q_inside")(steps)
    along = layers.Rescaling(scale=1.0, offset=(-origin).astype(f32), name=f"{_PREFIX}q_along")(tiled)
    line = layers.Rescaling(scale=slope.astype(f32), offset=start.astype(f32), name=f"{_PREFIX}q_line")(along)
    picked = layers.Multiply(name=f"{_PREFIX}q_picked")([inside, line])
    mean = layers.GlobalAveragePooling1D(name=f"{_PREFIX}q_mean")(picked)
    return layers.Rescaling(scale=float(m), offset=0.0, name=f"{_PREFIX}quantile_scores")(mean)


def _categorical_block(keras_mod, x, levels: tuple[str, ...], index: int):
    """The one-hot of one text column (None, 1) over its kept ``levels``; unseen -> zeros."""
    vocabulary = list(levels)
    alias = MISSING in levels and "" not in levels
    if alias:
        vocabulary.append("")
    oov = "[UNK]"
    while oov in vocabulary:
        oov = f"[{oov}]"
    lookup = keras_mod.layers.StringLookup(
        vocabulary=vocabulary,
        num_oov_indices=1,
        oov_token=oov,
        output_mode="one_hot",
        name=f"{_PREFIX}lookup_{index}",
    )(x)
    remap = np.zeros((len(vocabulary) + 1, len(levels)))  # row 0: the OOV slot -> zeros
    remap[1 : len(levels) + 1, :] = np.eye(len(levels))
    if alias:
        remap[-1, levels.index(MISSING)] = 1.0
    return _fixed_dense(keras_mod, lookup, remap, f"{_PREFIX}onehot_{index}")


def export_model(encoder: Encoder, model: keras.Model) -> keras.Model:
    """One Keras model taking the raw columns, whose output equals ``model(encoder.transform(rows).x)``.

    Args:
        encoder: the run's encoder (fitted on its train rows).
        model: the trained model, taking the encoded matrix; it is reused as a
            layer, so the exported model holds the same weights.

    Returns:
        A functional model with one ``(None, 1)`` input per raw column, named by
        :func:`input_names` (float32 numbers, string text), and one output named
        ``prediction`` (see the module docstring for what each layer relies on).

    An image run's model (``encoder.image_shape`` set) takes one input instead,
    ``image``: float32 images of that shape, pixel values as the run read them
    (:mod:`fitness.images`); the network scales them itself.

    Raises:
        ValueError: the encoder has no feature column, or its width differs from the model's input.
    """
    import keras

    if encoder.image_shape:
        return _export_images(keras, encoder, model)
    if not encoder.columns:
        raise ValueError("the encoder has no feature column to export")
    width = model.inputs[0].shape[-1]
    if width != encoder.n_features:
        raise ValueError(f"the model takes {width} features; the encoder gives {encoder.n_features}")
    names = input_names(encoder)
    numeric = [keras.Input(shape=(1,), dtype="float32", name=names[c.name]) for c in encoder.numeric]
    text = [keras.Input(shape=(1,), dtype="string", name=names[c.name]) for c in encoder.categorical]
    blocks = []
    if numeric:
        numbers = _join(keras, numeric, f"{_PREFIX}numeric_columns")
        blocks += _numeric_block(keras, numbers, encoder)
    for i, (col, tensor) in enumerate(zip(encoder.categorical, text, strict=True)):
        if col.levels:
            blocks.append(_categorical_block(keras, tensor, col.levels, i))
    encoded = _join(keras, blocks, f"{_PREFIX}features")
    out = keras.layers.Identity(name=OUTPUT)(model(encoded))
    return keras.Model([*numeric, *text], out, name=f"{model.name}_raw_rows")


IMAGE_INPUT = "image"


def _export_images(keras_mod, encoder: Encoder, model: keras.Model) -> keras.Model:
    """The model of an image run taking images: ``image`` (N x H x W x C) flattened as the pixel columns."""
    shape = tuple(int(n) for n in encoder.image_shape or ())
    width = int(np.prod(shape))
    if model.inputs[0].shape[-1] != width:
        given = model.inputs[0].shape[-1]
        raise ValueError(f"the model takes {given} features; the images give {width} pixels")
    images = keras_mod.Input(shape=shape, dtype="float32", name=IMAGE_INPUT)
    flat = keras_mod.layers.Reshape((width,), name=f"{_PREFIX}pixels")(images)
    out = keras_mod.layers.Identity(name=OUTPUT)(model(flat))
    return keras_mod.Model(images, out, name=f"{model.name}_images")


def _output_words(encoder: Encoder) -> str:
    if encoder.task == "classification":
        return f"output {OUTPUT!r}: probabilities of {len(encoder.classes)} classes"
    return f"output {OUTPUT!r}: {encoder.target} in its units"


def describe(encoder: Encoder) -> str:
    """A one-line summary of an exported model's inputs and output, for the command line."""
    if encoder.image_shape:
        h, w, c = encoder.image_shape
        images = f"float32 images of {h}x{w}x{c}, pixels as in training"
        return f"input {IMAGE_INPUT!r}: {images}; {_output_words(encoder)}"
    names = input_names(encoder)
    parts = [
        f"inputs: {len(names)} raw columns",
        f"{len(encoder.numeric)} numeric as float32 (NaN = missing)",
        f'{len(encoder.categorical)} text as string ("" = missing)',
    ]
    renamed = [f"{c!r}->{n!r}" for c, n in names.items() if c != n]
    if renamed:
        more = f" and {len(renamed) - 4} more (see fitness.export.input_names)" if len(renamed) > 4 else ""
        parts.append("renamed " + ", ".join(renamed[:4]) + more)
    parts.append(_output_words(encoder))
    return "; ".join(parts)


__all__ = ["IMAGE_INPUT", "OUTPUT", "describe", "export_model", "input_names"]
