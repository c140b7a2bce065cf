"""Helpers shared by every test folder: build genomes from named blocks, compare float32 outputs; the tiers.

Tiers, by cost: a test (or a file, ``pytestmark``) that takes more than
:data:`FAST_LIMIT_S` on a 2-core machine is marked ``slow``: real searches, the
Dask cluster, benchmark smoke runs, Keras-reference trainings. ``make test-fast``
runs the rest (``-m "not slow"``), ``make test`` and CI run everything. A fast-tier
run ends with the tests that went over the limit, if any (``make
test-durations`` also lists the slowest): mark them slow or make them faster.

Both make targets run on two pytest-xdist processes (``-n 2 --dist loadfile
--no-loadscope-reorder``): each test file runs whole in one process, the files with
slow tests first, so a module-scoped fixture (a tiny search
several tests read) runs once (``--dist loadgroup`` with a group per file did not:
pytest-xdist 3.8 marks a test's group on ``item._nodeid``, which pytest 9.2 no longer
reads, so the tests of a file were spread over both processes, each making the
file's runs again); the searches several files read are made once per session
for both processes (``shared`` in tests/e2e/conftest.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from evonas.genome import SearchSpace

# TensorFlow in a test process runs one thread per op, as evonas' workers do (training.tf_threads): two
# pytest processes share two cores, and a search run in the test's process (the serial engine) gives the
# numbers of one run on workers, whichever test initialised TensorFlow first (it reads these at start).
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
# ... and so do OpenMP and BLAS (scikit-learn's gradient boosting in the benchmark smoke tests, numpy):
# threads of their own on a busy machine spin and wait on each other
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

FAST_LIMIT_S = 2.0  # a test that takes longer is marked slow (make test-durations lists the fast tier's)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files with slow tests first (in their order), then the others: pytest-xdist hands out
    whole files in this order (``--no-loadscope-reorder``), so the long searches start at once
    and the short tests fill the end of both processes (sorted by test count, as pytest-xdist
    does by default, the few-test Dask and benchmark files came last, one process busy alone)."""
    slow = {item.path for item in items if "slow" in item.keywords}
    items.sort(key=lambda item: item.path not in slow)  # stable: each file keeps its order


_FAST_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Add up each fast-tier test's set-up, call and tear-down time (in the controller, under xdist)."""
    if "slow" not in report.keywords:
        _FAST_SECONDS[report.nodeid] = _FAST_SECONDS.get(report.nodeid, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter) -> None:
    """Name the tests of the fast tier that took longer than :data:`FAST_LIMIT_S`: a creeping test shows.

    Only when the fast tier runs alone (``-m "not slow"``): beside the slow tests' searches every
    test takes longer, and the limit is about the edit loop.
    """
    if "not slow" not in (terminalreporter.config.getoption("markexpr") or ""):
        return
    over = sorted(((s, n) for n, s in _FAST_SECONDS.items() if s > FAST_LIMIT_S), reverse=True)
    if not over:
        return
    terminalreporter.write_sep("-", f"{len(over)} fast-tier tests over {FAST_LIMIT_S:g} s: mark them slow")
    for seconds, nodeid in over:
        terminalreporter.write_line(f"{seconds:7.2f}s {nodeid}")


# Float32 outputs of two code paths (Keras' predict and evonas' forward, a merged ensemble and its members,
# a gradient tape and the written-out gradients) agree to the last bits only: TensorFlow sums in another
# order on a machine with AVX-512 (oneDNN kernels) than on one without (Eigen). One ulp of a log price near
# 12.5 is 9.5e-7, 1.05e-6 relative on the price after exp - 1: seen on an AVX-512 machine (issue 30).
FLOAT32_ULPS = 8


def assert_float32_close(got, want, *, log: bool = False, ulps: int = FLOAT32_ULPS) -> None:
    """``got`` equals ``want`` to ``ulps`` units in the last place of float32 at the largest ``want``.

    ``log``: the values are a model's outputs after ``exp - 1`` (a log target): they are
    compared as ``log1p``, where the model computed them, so the tolerance is that of
    float32 there (a relative one on the values themselves).
    """
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if log:
        got, want = np.log1p(got), np.log1p(want)
    tolerance = ulps * float(np.spacing(np.float32(np.max(np.abs(want)))))
    np.testing.assert_allclose(got, want, rtol=0, atol=tolerance)


@contextmanager
def working_directory(cwd: Path | None) -> Iterator[None]:
    """The working directory is ``cwd`` inside the block (unchanged when ``cwd`` is None)."""
    if cwd is None:
        yield
        return
    saved = Path.cwd()
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved)


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

    from evonas.fitness import load_dataset

    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 4))
    frame = pd.DataFrame(x, columns=list("abcd"))
    frame["y"] = 1000 + 300 * x[:, 0] - 200 * x[:, 1] ** 2 + rng.normal(scale=20, size=rows)
    return load_dataset(frame, "y")
