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

    best/ensemble.json              {"size": K, "members": [{"id", "key", "objective", "refit"}, ...]}
    best/ensemble/member-<id>.keras  each member as the search trained it
    best/ensemble/refit-<id>.keras   with search.refit: each member retrained on train+val rows

During the search, workers save a candidate's model only when its objective is
below that of the worst of the K members so far (:meth:`evolve.search.Search`); after each
generation :func:`keep_member_models` moves the new members' models in and
deletes those of the architectures that dropped out, so the folder never holds
more than K models (2K with the refits). With K = 1 nothing here runs: the run
is exactly that of the single best network (``best/model.keras``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evolve.rundir import ENSEMBLE, RunDir
from fitness import Dataset, score_test


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


def score_members(run: RunDir, members: list[dict[str, Any]], data: Dataset, refit: bool) -> dict[str, Any]:
    """The ensemble's test score (``test.json``'s ``ensemble``), measured once; with ``refit``, also that of
    the refitted members under ``refit`` (``not_refitted``: members whose refit failed, used as trained)."""
    result: dict[str, Any] = {
        "ids": [m["id"] for m in members],
        "keys": [m["key"] for m in members],
        **score_test([str(p) for p in member_paths(run, members, False)], data),
    }
    if refit:
        failed = [m["id"] for m in members if (m.get("refit") or {}).get("status") != "ok"]
        paths = member_paths(run, members, True)
        result["refit"] = {**score_test([str(p) for p in paths], data), "not_refitted": failed}
    return result


__all__ = ["keep_member_models", "member_paths", "read_members", "refit_members", "score_members"]
