"""One home for how evonas names and prints its figures: objective labels and number formats.

The command line, ``evonas show``, the lineage text and pictures, the report and
the API tables all call these, so a figure reads the same everywhere
(``23,592`` in the terminal and in ``report.html``).

Example:
    >>> format_number(23592.4), format_number(0.079381), format_number(None)
    ('23,592', '0.07938', '-')
    >>> format_objective(0.079381, "classification")
    'val loss 0.07938'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def format_number(value: float | None, missing: str = "-") -> str:
    """``|x| >= 100``: a whole number with thousands separators, else 4 significant digits.

    ``missing`` stands for None, NaN and infinity (a failed or absent figure).
    """
    if value is None or not math.isfinite(value):
        return missing
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


def objective_label(task: str, long: bool = False) -> str:
    """What the (minimised) objective of ``task`` is called: ``val RMSE`` / ``val loss``.

    ``long=True`` spells it out for prose: ``validation RMSE`` / ``validation cross-entropy``.
    """
    if task == "regression":
        return "validation RMSE" if long else "val RMSE"
    return "validation cross-entropy" if long else "val loss"


def format_objective(value: float | None, task: str) -> str:
    """``"val loss 0.1234"`` or ``"val RMSE 26,853"``; ``"val RMSE failed"`` when there is no value."""
    return f"{objective_label(task)} {format_number(value, missing='failed')}"


def format_test_score(test: Mapping[str, Any]) -> str:
    """The test figures of a ``test.json``: ``test RMSE 23,592`` or ``test accuracy 0.9200, ...``."""
    if "test_rmse" in test:
        return f"test RMSE {format_number(test['test_rmse'])}"
    return f"test accuracy {test['test_accuracy']:.4f}, test cross-entropy {test['test_loss']:.4f}"


def describe_refit(refit: Mapping[str, Any]) -> str:
    """How a delivered model was made after the search (``test.json``'s ``refit``): ``"Refitted on
    train+val (1200 rows, 14 epochs)"`` or ``"Its 5 fold models averaged (2 trained after the search)"``.

    Example:
        >>> describe_refit({"kind": "folds", "folds": 5, "trained": 0, "rows": 900})
        'Its 5 fold models averaged'
    """
    if refit.get("kind") == "folds":
        trained = int(refit.get("trained") or 0)
        after = f" ({trained} trained after the search)" if trained else ""
        return f"Its {refit['folds']} fold models averaged{after}"
    return f"Refitted on train+val ({refit['rows']} rows, {refit['epochs']} epochs)"


__all__ = ["describe_refit", "format_number", "format_objective", "format_test_score", "objective_label"]
