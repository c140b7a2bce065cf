"""The ensemble of a run (``search.ensemble = K > 1``): the K best distinct architectures predict together.

Members are the K best distinct architecture keys that trained successfully, as
the genetic loop ranks them (:meth:`evolve.loop.GeneticLoop.ranking`: the best
first, then by the mean of their replicates, ties by id); each key is represented
by its first individual (an elite copy or a cached repeat is the same network).
Fewer than K succeeded: the ensemble has as many members as succeeded. The
ensemble predicts the mean of its members' outputs (regression: predictions in
the target's units; classification: class probabilities;
:func:`fitness.ensemble.average_models`).

In the run directory (names in :mod:`evolve.rundir`)::

    best/ensemble.json              {"size": K, "members": [{"id", "key", "objective", "refit", "weight"}]}
    best/ensemble/member-<id>.keras  each member as the search trained it
    best/ensemble/refit-<id>.keras   with search.refit: each member retrained on train+val rows

During the search, workers save a candidate's model only when its objective is
below that of the worst of the K members so far (:meth:`evolve.search.Search`); after each
generation :func:`keep_member_models` moves the new members' models in and
deletes those of the architectures that dropped out, so the folder never holds
more than K models (2K with the refits). With K = 1 nothing here runs: the run
is exactly that of the single best network (``best/model.keras``).

Weights (``search.ensemble_weights``): ``"equal"`` is the plain mean; ``"greedy"``
(:func:`weigh_members`) picks them after the search by greedy selection with
replacement (:func:`fitness.ensemble.greedy_weights`, 25 rounds) on held-out
predictions: cross-validated, each member's out-of-fold predictions of every pooled
row (its K fold models, each on the fold it did not train on); otherwise each member
as the search trained it on the validation rows. A member's ``weight`` is how many
rounds picked it; one never picked (weight 0) stays listed and does not predict.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from evonas.evolve.rundir import ENSEMBLE, RunDir
from evonas.fitness import Dataset, configure_tensorflow, fold_data, score_test
from evonas.fitness.ensemble import greedy_weights
from evonas.fitness.evaluate import forward


def read_members(run: RunDir) -> list[dict[str, Any]]:
    """The members listed in ``best/ensemble.json``, best first (empty when the run has no ensemble)."""
    return list((run.read_json(ENSEMBLE) or {}).get("members", []))


def _write(run: RunDir, size: int, members: list[dict[str, Any]]) -> None:
    rows = [{k: v for k, v in m.items() if k != "genes"} for m in members]
    run.write_json(ENSEMBLE, {"size": size, "members": rows})


def keep_member_models(
    run: RunDir,
    size: int,
    members: list[dict[str, Any]],
    scratch: Callable[[str], str],
    best: tuple[str | None, Path],
    retrain: Callable[[list[int], str], None],
) -> None:
    """Give every member its model in ``best/ensemble/``, delete the others', write ``best/ensemble.json``.

    A new member's model comes from the workers' scratch file (``scratch(key)``),
    else from the single best's model (``best``: its key and path), else it is
    trained again (``retrain(genes, path)``, deterministic: e.g. a member evaluated
    before a resume). A member that stays keeps its refit record.
    """
    run.ensemble_dir.mkdir(parents=True, exist_ok=True)
    before = {m["id"]: m for m in read_members(run)}
    for m in members:
        path = run.member_model_path(m["id"])
        if not path.exists():
            src = scratch(m["key"])
            if os.path.exists(src):
                os.replace(src, path)
            elif m["key"] == best[0] and best[1].is_file():
                shutil.copyfile(best[1], path)
            else:
                retrain(m["genes"], str(path))
        if "refit" in before.get(m["id"], {}):
            m["refit"] = before[m["id"]]["refit"]
    keep = {run.member_model_path(m["id"]) for m in members}
    keep |= {run.member_refit_path(m["id"]) for m in members}
    for f in run.ensemble_dir.iterdir():
        if f not in keep:
            f.unlink()
    _write(run, size, members)


def refit_members(
    run: RunDir,
    size: int,
    members: list[dict[str, Any]],
    refit: Callable[[dict[str, Any], str], dict[str, Any]],
) -> list[dict[str, Any]]:
    """Retrain every member on train+val rows once (``refit(member, path)`` -> refit record).

    A member whose refit already succeeded (and whose file is there), or was
    rejected (:func:`fitness.refit_genome`: it fitted the rows worse than the
    member as trained, which predicts instead), is not trained again. The
    records go into ``best/ensemble.json`` under ``refit``.
    """
    for m in members:
        done = m.get("refit") or {}
        path = run.member_refit_path(m["id"])
        if (done.get("status") == "ok" and path.is_file()) or done.get("status") == "rejected":
            continue
        scratch = run.ensemble_dir / f".refit-{m['id']}.keras"
        record = refit(m, str(scratch))
        if record["status"] == "ok":
            os.replace(scratch, path)
        else:
            scratch.unlink(missing_ok=True)
        m["refit"] = record
        _write(run, size, members)
    return members


def member_paths(run: RunDir, members: list[dict[str, Any]], refitted: bool) -> list[Path]:
    """The models the ensemble predicts with: each member's refit when ``refitted`` and it succeeded,
    else the member as the search trained it (what ``evonas predict`` and the test score use)."""
    paths = []
    for m in members:
        refit = run.member_refit_path(m["id"])
        ok = (m.get("refit") or {}).get("status") == "ok" and refit.is_file()
        paths.append(refit if refitted and ok else run.member_model_path(m["id"]))
    return paths


def predicting(members: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[float] | None]:
    """The members that predict and their weights: those of positive ``weight`` when the members were
    weighed (:func:`weigh_members`), else all of them, equally (weights None)."""
    if not members or any("weight" not in m for m in members):
        return members, None
    chosen = [m for m in members if m["weight"] > 0]
    return chosen, [float(m["weight"]) for m in chosen]


def held_out_predictions(
    run: RunDir, members: list[dict[str, Any]], data: Dataset, folds: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """Each member's predictions of rows none of its models trained on, and those rows' targets.

    Cross-validated (``folds`` > 1) with every member's K fold models in ``best/folds/``: the
    out-of-fold predictions of the pooled train and validation rows (fold r's rows by fold
    model r). Otherwise each member as the search trained it (``member-<id>.keras``; fold 0's
    model when cross-validated) on the validation rows (fold 0's).
    """
    import keras

    paths = [[run.fold_model_path(m["key"], r) for r in range(folds)] for m in members]
    if folds > 1 and all(p.is_file() for ps in paths for p in ps):
        views = [fold_data(data, r, folds) for r in range(folds)]
        y = np.concatenate([v.y_val for v in views])
        preds = [
            np.concatenate(
                [forward(keras.models.load_model(p), v.x_val) for p, v in zip(ps, views, strict=True)]
            )
            for ps in paths
        ]
        return preds, y
    view = fold_data(data, 0, folds)
    preds = [forward(keras.models.load_model(run.member_model_path(m["id"])), view.x_val) for m in members]
    return preds, view.y_val


def weigh_members(
    run: RunDir, size: int, members: list[dict[str, Any]], data: Dataset, folds: int, threads: int = 1
) -> list[dict[str, Any]]:
    """Give each member its ``weight`` by greedy selection on held-out predictions
    (:func:`held_out_predictions`, :func:`fitness.ensemble.greedy_weights`), written into
    ``best/ensemble.json``; members weighed already are returned as they are."""
    if not members or all("weight" in m for m in members):
        return members
    configure_tensorflow(threads)
    preds, y = held_out_predictions(run, members, data, folds)
    for m, count in zip(members, greedy_weights(preds, y, data.task), strict=True):
        m["weight"] = count
    _write(run, size, members)
    return members


def score_members(run: RunDir, members: list[dict[str, Any]], data: Dataset, refit: bool) -> dict[str, Any]:
    """The ensemble's test score (``test.json``'s ``ensemble``), measured once; with ``refit``, also that of
    the refitted members under ``refit`` (``not_refitted``: members whose refit failed, used as trained).
    Weighed members (:func:`weigh_members`) predict with their weights (``weights``: id -> weight)."""
    chosen, weights = predicting(members)
    result: dict[str, Any] = {
        "ids": [m["id"] for m in members],
        "keys": [m["key"] for m in members],
        **score_test([str(p) for p in member_paths(run, chosen, False)], data, weights),
    }
    if weights is not None:
        result["weights"] = {str(m["id"]): m["weight"] for m in members}
    if refit:
        failed = [m["id"] for m in chosen if (m.get("refit") or {}).get("status") != "ok"]
        paths = member_paths(run, chosen, True)
        result["refit"] = {**score_test([str(p) for p in paths], data, weights), "not_refitted": failed}
    return result


__all__ = [
    "held_out_predictions",
    "keep_member_models",
    "member_paths",
    "predicting",
    "read_members",
    "refit_members",
    "score_members",
    "weigh_members",
]
