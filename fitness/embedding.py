"""The ``ple`` embedding: a piecewise-linear encoding of the numeric features (Gorishniy et al., 2022).

"On Embeddings for Numerical Features in Tabular Deep Learning" (NeurIPS 2022)
encodes a numeric value ``x`` over bins ``[e_0, e_1), ..., [e_{T-1}, e_T]`` of its
train distribution as ``T`` numbers: bin ``t`` gives ``clip((x - e_t) / (e_{t+1} - e_t), 0, 1)``,
so a value is 1 in the bins below it, its position inside its own bin, and 0
above. An MLP reading these columns (besides the values themselves) fits
step-like and non-monotone effects of one feature with far fewer units.

Here the bins are quantiles of each numeric feature's train values (after the
model's standardisation, :func:`fitness.data.scale_features`), at most
:data:`BINS` per feature, ties merged; a feature with fewer than two distinct
edges gets none. They are fitted once, when the data is loaded
(:func:`fit_bins`, train rows only), and kept in the :class:`~fitness.data.Dataset`,
so the refit (train and validation rows) uses the same bins as the search.

In the network the encoding is a fixed, non-trainable ``Dense`` (a kernel with
one ``1 / (e_{t+1} - e_t)`` per bin in its feature's row, the bias
``-e_t / (e_{t+1} - e_t)``) then ``ReLU(max_value=1)``: standard Keras layers, so a
saved or exported model still needs no custom object. Units that read the input
read the standardised values and their encoding, concatenated.

Data with more than :data:`MAX_FEATURES` numeric features (image pixels, for
one) gets no bins: the encoding would multiply the input width many times over.
A run with no bins searches without the ``ple`` choice
(:meth:`genome.SearchSpace.for_data`).

Example:
    >>> import numpy as np
    >>> bins = fit_bins(np.array([[0.0], [1.0], [2.0], [3.0], [4.0]]), [0], bins=2)
    >>> bins
    ((0, (0.0, 2.0, 4.0)),)
    >>> kernel, bias = layer_weights(bins, n_features=1)
    >>> np.clip(np.array([[1.0], [3.0]]) @ kernel + bias, 0, 1).tolist()
    [[0.5, 0.0], [1.0, 0.5]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BINS = 8  # quantile bins per numeric feature
MAX_FEATURES = 128  # data with more numeric features gets no bins

Bins = tuple[tuple[int, tuple[float, ...]], ...]  # (feature index, its edges) per encoded feature


def fit_bins(x_scaled: np.ndarray, numeric: Sequence[int], bins: int = BINS) -> Bins:
    """Quantile bin edges of the ``numeric`` columns of ``x_scaled`` (train rows, standardised).

    Edges are the ``0, 1/bins, ..., 1`` quantiles, rounded to float32 and
    de-duplicated; columns with fewer than two distinct edges are skipped. More
    than :data:`MAX_FEATURES` numeric columns: no bins at all.
    """
    out: list[tuple[int, tuple[float, ...]]] = []
    x = np.asarray(x_scaled, dtype=np.float64)
    numeric = list(numeric)
    if len(numeric) > MAX_FEATURES:
        return ()
    for j in numeric:
        if len(x) == 0:
            break
        edges = np.unique(np.quantile(x[:, j], np.linspace(0.0, 1.0, bins + 1)).astype(np.float32))
        if len(edges) >= 2:
            out.append((int(j), tuple(float(e) for e in edges)))
    return tuple(out)


def width(bins: Bins) -> int:
    """Columns the encoding adds: one per bin."""
    return sum(len(edges) - 1 for _, edges in bins)


def layer_weights(bins: Bins, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """``(kernel, bias)`` of the fixed Dense: ``clip(x @ kernel + bias, 0, 1)`` is the encoding."""
    kernel = np.zeros((n_features, width(bins)), dtype=np.float32)
    bias = np.zeros(width(bins), dtype=np.float32)
    col = 0
    for j, edges in bins:
        for lo, hi in zip(edges[:-1], edges[1:]):
            kernel[j, col] = 1.0 / (hi - lo)
            bias[col] = -lo / (hi - lo)
            col += 1
    return kernel, bias


def encode(x_scaled: np.ndarray, bins: Bins) -> np.ndarray:
    """The standardised features and their encoding, concatenated (float32): what a ``ple`` unit reads."""
    x = np.asarray(x_scaled, dtype=np.float32)
    kernel, bias = layer_weights(bins, x.shape[1])
    return np.concatenate([x, np.clip(x @ kernel + bias, 0.0, 1.0)], axis=1).astype(np.float32)


__all__ = ["BINS", "MAX_FEATURES", "Bins", "encode", "fit_bins", "layer_weights", "width"]
