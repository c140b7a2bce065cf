"""fitness.latency: the rows a network is timed on, and the timing of a real Keras model."""

from __future__ import annotations

import numpy as np
import pytest

from evonas.fitness.latency import ROWS, latency_rows, measure_latency


@pytest.mark.parametrize("n", [1, 7, 999, 1000, 2500])
def test_the_rows_are_1000_repeated_as_needed(n):
    x = np.arange(n * 3, dtype=np.float64).reshape(n, 3)
    rows = latency_rows(x)
    assert rows.shape == (ROWS, 3) and rows.dtype == np.float32
    np.testing.assert_array_equal(rows[: min(n, ROWS)], x[: min(n, ROWS)])
    np.testing.assert_array_equal(rows[n % ROWS if n < ROWS else 0], x[0])


def test_no_rows_is_an_error():
    with pytest.raises(ValueError, match="no rows"):
        latency_rows(np.zeros((0, 3)))


def test_a_keras_model_is_timed_in_milliseconds_with_its_spread():
    from evonas.fitness.runtime import import_tensorflow

    import_tensorflow()
    import keras

    x = np.random.default_rng(0).normal(size=(50, 32))
    net = keras.Sequential([keras.Input((32,)), keras.layers.Dense(64), keras.layers.Dense(1)])
    timing = measure_latency(net, x, repeats=5)
    assert set(timing) == {"latency_ms", "latency_spread_ms"}
    assert timing["latency_ms"] > 0 and 0 <= timing["latency_spread_ms"] < float("inf")
