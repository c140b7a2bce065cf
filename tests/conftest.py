"""Helpers shared by every test folder: build genomes from named blocks; the test tiers.

Tiers: every test in ``tests/e2e`` (real command-line runs, the Dask cluster) and
``tests/benchmarks`` (benchmark smoke runs) is marked ``slow``; ``make test-fast``
runs the rest (``-m "not slow"``), ``make test`` and CI run everything.

Both make targets run on two pytest-xdist processes (``-n 2 --dist loadgroup``).
Each test file is one group, so a module-scoped fixture (a tiny search several
tests read) runs once; the e2e files that read the same session-scoped runs of
``tests/e2e/conftest.py`` form one group, so those runs are not made twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
import pytest

from genome import SearchSpace

HERE = Path(__file__).parent
SLOW_FOLDERS = ("e2e", "benchmarks")
# the e2e files that read the session-scoped runs (ames_run, digits_full, ...) of tests/e2e/conftest.py
SHARED_RUNS = {
    "test_cli_budget.py",
    "test_cli_failing_runs.py",
    "test_cli_lineage.py",
    "test_cli_predict.py",
    "test_cli_resume.py",
    "test_cli_run.py",
    "test_cli_signals.py",
}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests of the slow folders ``slow``; give each test its xdist group (its file)."""
    for item in items:
        path = Path(item.path)
        if path.parent.name in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)
        group = "e2e-shared-runs" if path.name in SHARED_RUNS else str(path.relative_to(HERE))
        item.add_marker(pytest.mark.xdist_group(group))


Slot = tuple[int, int]
Pair = tuple[Slot, Slot]


def make_genes(
    space: SearchSpace,
    *,
    n_levels: int = 1,
    n_units: Iterable[int] = (),
    neurons: Mapping[Slot, int] | None = None,
    activation: Mapping[Slot, int] | None = None,
    dropout: Mapping[Slot, int] | None = None,
    batchnorm: Iterable[Slot] = (),
    inputs: Iterable[Slot] = (),
    skips: Iterable[Pair] = (),
    laterals: Iterable[Pair] = (),
    outputs: Iterable[Slot] = (),
    optimizer: int = 0,
    learning_rate: int = 0,
    batch_size: int = 0,
    weight_decay: int = 0,
    lr_schedule: int = 0,
    label_smoothing: int = 0,
    embedding: int = 0,
    base: np.ndarray | None = None,
) -> np.ndarray:
    """A genome from named blocks.

    Starts from ``base`` (default: the lower bounds, i.e. one level of one
    unit, index 0 everywhere, all bits 0); levels not given in ``n_units``
    keep the base value. Slot settings are index genes keyed by ``(l, u)``;
    bits are listed as the slots or pairs that are set to 1.
    """
    layout = space.layout
    g = layout.low.copy() if base is None else np.array(base, dtype=np.int64)
    g[layout.n_levels] = n_levels
    for level, count in enumerate(n_units):
        g[layout.n_units.start + level] = count
    for block, values in (
        (layout.neurons, neurons),
        (layout.activation, activation),
        (layout.dropout, dropout),
    ):
        for (level, unit), value in (values or {}).items():
            g[block.start + layout.slot(level, unit)] = value
    for block, slots in (
        (layout.batchnorm, batchnorm),
        (layout.input_mask, inputs),
        (layout.output_mask, outputs),
    ):
        for level, unit in slots:
            g[block.start + layout.slot(level, unit)] = 1
    for pair in skips:
        g[layout.skip_mask.start + layout.skip_pairs.index(pair)] = 1
    for pair in laterals:
        g[layout.lateral_mask.start + layout.lateral_pairs.index(pair)] = 1
    g[layout.optimizer] = optimizer
    g[layout.learning_rate] = learning_rate
    g[layout.batch_size] = batch_size
    g[layout.weight_decay] = weight_decay
    g[layout.lr_schedule] = lr_schedule
    g[layout.label_smoothing] = label_smoothing
    g[layout.embedding] = embedding
    return layout.validate(g)


@pytest.fixture
def build() -> Callable[..., np.ndarray]:
    """The :func:`make_genes` helper."""
    return make_genes


def layer_feeds(model) -> dict[str, set[str]]:
    """For each layer of a Keras model, the names of the layers whose outputs it reads."""
    out = {}
    for layer in model.layers:
        ins = layer.input if isinstance(layer.input, list) else [layer.input]
        out[layer.name] = {t._keras_history.operation.name for t in ins if hasattr(t, "_keras_history")}
    return out


def curved_prices(rows: int):
    """A small regression table (4 normal features, a price with a curve in it and noise), as a Dataset."""
    import pandas as pd

    from fitness import load_dataset

    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 4))
    frame = pd.DataFrame(x, columns=list("abcd"))
    frame["y"] = 1000 + 300 * x[:, 0] - 200 * x[:, 1] ** 2 + rng.normal(scale=20, size=rows)
    return load_dataset(frame, "y")
