"""Shared by the benchmark smoke tests: a benchmark script run in the test's process.

A smoke test checks a script's wiring (its arguments, its result files, its tables)
on tiny budgets; run in this process it pays no Python and TensorFlow start. The
scripts' ``if __name__ == "__main__"`` lines only call ``main``.
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from importlib import import_module
from pathlib import Path

from tests.conftest import working_directory


def run_benchmark(script: str, *args: str, cwd: Path | None = None) -> str:
    """``python -m benchmarks.SCRIPT ARGS`` through its ``main(argv)``, in ``cwd``; what it printed.

    A non-zero exit status (returned, or raised as ``SystemExit``) fails the test.
    """
    main = import_module(f"benchmarks.{script}").main
    printed = io.StringIO()
    try:
        with working_directory(cwd), redirect_stdout(printed):
            status = main(list(args))
    except SystemExit as exc:
        status = exc.code
    assert status in (0, None), f"{script} {' '.join(args)} exited {status}:\n{printed.getvalue()[-3000:]}"
    return printed.getvalue()
