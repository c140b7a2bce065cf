"""The records of a run, typed: one evaluation (a line of ``evaluations.jsonl``), a refit
(``best/refit.json``, and each ensemble member's), the test scores (``test.json``).

The files stay plain JSON written as dicts (a worker's record crosses a process or a
network as plain data); code that *reads* them reads these frozen dataclasses, so a field's
meaning and its default are written once. Standard library only: the genetic loop's
neighbours (:mod:`evolve.budget`, :mod:`evolve.fidelity`) read them too.

Example:
    >>> e = Evaluation.from_dict({"key": "ab", "status": "ok", "objective": 3.0, "epochs": 9,
    ...                           "best_epoch": 5, "seconds": 2.0})
    >>> e.ok, e.chosen_epochs
    (True, 5)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

OK = "ok"
FAILED = "failed"


@dataclass(frozen=True)
class Evaluation:
    """One training of one network (:func:`fitness.evaluate_genome`'s record, as journaled).

    ``objective`` is minimised (a tuple with two objectives), None when the training failed.
    ``best_epoch`` is the epoch early stopping restored (None for an older journal or a failure);
    ``epoch_cap`` (or ``row_cap``, a row sample's rows) is set for a short training of
    multi-fidelity; ``replicate`` is which training of
    the network it is (0: the first; with folds, its fold). ``extra`` keeps every other field
    (``generation``, ``individual``, ``worker``, ``latency_ms``, ...).
    """

    key: str = ""
    status: str = FAILED
    objective: Any = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    params: int = 0
    epochs: int = 0
    seconds: float = 0.0
    seed: int | None = None
    error: str | None = None
    best_epoch: int | None = None
    epoch_cap: int | None = None
    row_cap: int | None = None
    replicate: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Evaluation:
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {k: v for k, v in record.items() if k in known}
        # every journal line has a status; without one, a record with an objective is a success
        values["status"] = record.get("status", OK if record.get("objective") is not None else FAILED)
        values["metrics"] = dict(record.get("metrics") or {})
        return cls(**values, extra={k: v for k, v in record.items() if k not in known})

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def chosen_epochs(self) -> int:
        """The epochs early stopping chose (``best_epoch``), or all it trained when it has none: what a
        refit of the network trains, and where a short training's curve was best."""
        return int(self.best_epoch or self.epochs)


@dataclass(frozen=True)
class Refit:
    """How a delivered network was made after the search (``best/refit.json``; a member's ``refit``).

    ``kind`` is ``"rows"`` (trained again on train+val rows, ``epochs`` of them) or ``"folds"`` (its
    ``folds`` fold models averaged, ``trained`` of them after the search); ``status`` is ``"ok"``,
    ``"failed"`` (``error`` says why) or ``"rejected"`` (the refit guard kept the search's model).
    """

    status: str
    key: str | None = None
    id: int | None = None
    kind: str = "rows"
    rows: int | None = None
    epochs: int | None = None
    folds: int | None = None
    trained: int | None = None
    error: str | None = None

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Refit:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in known and v is not None})

    @property
    def ok(self) -> bool:
        return self.status == OK


def scores(record: Mapping[str, Any]) -> dict[str, float]:
    """The test figures of a part of ``test.json``: ``test_rmse``, or ``test_loss`` and ``test_accuracy``."""
    return {k: float(v) for k, v in record.items() if k in ("test_rmse", "test_loss", "test_accuracy")}


@dataclass(frozen=True)
class TestRecord:
    """``test.json``: the final best measured once on the test split, with what was made of it.

    ``best`` holds the figures of the best as the search trained it; ``refit`` those of its refit
    (or an ``error``, with ``rejected`` when the refit guard rejected it); ``ensemble`` those of the
    ensemble of the K best (``ids``, ``weights``, and its own ``refit``) when there is one.
    """

    __test__: ClassVar[bool] = False  # not a test class, for pytest

    id: int
    key: str
    rows: int
    best: Mapping[str, float]
    refit: Mapping[str, Any] | None = None
    ensemble: Mapping[str, Any] | None = None

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> TestRecord:
        return cls(
            id=int(record["id"]),
            key=str(record["key"]),
            rows=int(record["test_rows"]),
            best=scores(record),
            refit=record.get("refit"),
            ensemble=record.get("ensemble"),
        )

    @property
    def refit_ok(self) -> bool:
        return self.refit is not None and "error" not in self.refit

    def _delivered(self) -> tuple[str, Mapping[str, Any]]:
        """The delivered model's name and its part of ``test.json``, in the order of
        :func:`evolve.delivered.delivered_model`."""
        if self.ensemble is not None:
            refit = self.ensemble.get("refit")
            return ("ensemble refit", refit) if refit is not None else ("ensemble", self.ensemble)
        return ("refit", self.refit or {}) if self.refit_ok else ("best", self.best)

    @property
    def delivered(self) -> str:
        """What ``evonas predict`` uses: ``"ensemble refit"``, ``"ensemble"``, ``"refit"`` or ``"best"``."""
        return self._delivered()[0]

    def delivered_scores(self) -> dict[str, float]:
        """The test figures of the delivered model (:attr:`delivered`)."""
        return scores(self._delivered()[1])


__all__ = ["FAILED", "OK", "Evaluation", "Refit", "TestRecord", "scores"]
