"""How fast a trained network predicts: milliseconds per 1,000 rows, timed in the worker that trained it.

``search.objectives = ["val", "latency"]`` asks each worker to time its
candidate right after training (:func:`measure_latency`): one compiled forward
pass over 1,000 validation rows (repeated to 1,000 when there are fewer),
``REPEATS`` times after a warm-up, on the worker's TensorFlow threads
(``training.tf_threads``, one by default). The record gets the median
(``latency_ms``) and the interquartile range of the repeats
(``latency_spread_ms``). Timings vary from run to run and machine to machine,
and they include the load of the other workers training beside this one (on a
GPU worker the forward pass runs on the GPU): compare latencies within a run.
A latency search is not reproducible by seed the way a ``val,params`` search is.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

ROWS = 1000
REPEATS = 7
WARMUP = 2


def latency_rows(x: np.ndarray, rows: int = ROWS) -> np.ndarray:
    """``rows`` rows of ``x`` (repeated when it has fewer), as float32."""
    if len(x) == 0:
        raise ValueError("no rows to time the network on")
    reps = -(-rows // len(x))
    return np.ascontiguousarray(np.tile(x, (reps, 1))[:rows], dtype=np.float32)


def measure_latency(model: Any, x: np.ndarray, repeats: int = REPEATS) -> dict[str, float]:
    """``{"latency_ms": median, "latency_spread_ms": IQR}`` of one forward pass over ``ROWS`` rows.

    Example:
        >>> import keras                                     # doctest: +SKIP
        >>> net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])   # doctest: +SKIP
        >>> sorted(measure_latency(net, np.zeros((5, 3))))    # doctest: +SKIP
        ['latency_ms', 'latency_spread_ms']
    """
    import tensorflow as tf

    rows = tf.constant(latency_rows(x))
    forward = tf.function(lambda batch: model(batch, training=False))
    for _ in range(WARMUP):  # tracing and first-call allocations
        forward(rows).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        forward(rows).numpy()
        times.append(1000.0 * (time.perf_counter() - start))
    q25, q50, q75 = np.percentile(times, [25, 50, 75])
    return {"latency_ms": round(float(q50), 4), "latency_spread_ms": round(float(q75 - q25), 4)}


__all__ = ["REPEATS", "ROWS", "latency_rows", "measure_latency"]
