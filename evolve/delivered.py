"""What a run delivers: the model files, and their weights, that ``evonas predict``, ``evonas export``
and ``load_predictor`` use. Decided here, once.

In this order: the ensemble of the K best when the run has one (``best/ensemble.json``; each
member's refit where it succeeded, else the member as the search trained it; the members of
positive weight when they were weighed); else the best's refit (``best/refit.keras``) when it
succeeded for the current best; else the best as the search trained it (``best/model.keras``).
``test.json``'s figures follow the same order (:attr:`evolve.records.TestRecord.delivered`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evonas.evolve.ensemble import member_paths, predicting, read_members
from evonas.evolve.records import Refit
from evonas.evolve.rundir import BEST, REFIT, RunDir


@dataclass(frozen=True)
class Delivered:
    """The delivered model of a run: one file, or the files of an ensemble averaged.

    ``ids``: the individuals, best first (one unless ``ensemble``); ``weights``: the members'
    weights when they were weighed (None: equal); ``refitted``: a file is a refit (on train+val
    rows, or fold models averaged).
    """

    ids: tuple[int, ...]
    keys: tuple[str, ...]
    paths: tuple[Path, ...]
    weights: tuple[float, ...] | None = None
    refitted: bool = False
    ensemble: bool = False


def delivered_model(run: RunDir, ensemble: int) -> Delivered | None:
    """The delivered model of ``run`` (``ensemble``: its ``search.ensemble``); None when it has none yet
    (no generation finished, or every candidate failed)."""
    members = read_members(run) if ensemble > 1 else []
    if members:
        chosen, weights = predicting(members)
        paths = member_paths(run, chosen, refitted=True)
        return Delivered(
            ids=tuple(int(m["id"]) for m in chosen),
            keys=tuple(str(m["key"]) for m in chosen),
            paths=tuple(paths),
            weights=None if weights is None else tuple(weights),
            refitted=any(p.name.startswith("refit-") for p in paths),
            ensemble=True,
        )
    best: dict[str, Any] | None = run.read_json(BEST)
    if best is None or not run.best_model_path.is_file():
        return None
    ids, keys = (int(best["id"]),), (str(best["key"]),)
    refit = Refit.from_dict(run.read_json(REFIT) or {"status": "missing"})
    if refit.ok and refit.key == best["key"] and run.refit_model_path.is_file():
        return Delivered(ids, keys, (run.refit_model_path,), refitted=True)
    return Delivered(ids, keys, (run.best_model_path,))


__all__ = ["Delivered", "delivered_model"]
