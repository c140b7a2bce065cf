"""``search.ensemble = K``: the K best distinct networks predict together (real runs on tiny budgets)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evonas.fitness.data import read_frame, split_labels
from tests.e2e.conftest import evonas, export_feed

pytestmark = pytest.mark.slow  # real searches (more than 2 s a test)

TINY = """
[search]
population = 4
generations = 1
seed = 3
engine = "serial"
{extra}
[training]
max_epochs = 2
patience = 1
[space]
max_levels = 2
max_units = 2
neuron_choices = [8, 16, 32]
"""


def tiny_run(tmp: Path, dataset: str, ensemble: int | None, weights: str = "greedy") -> tuple[Path, str]:
    name = f"{dataset}-{ensemble}"
    config = tmp / f"{name}.toml"
    extra = "" if ensemble is None else f'ensemble = {ensemble}\nensemble_weights = "{weights}"'
    config.write_text(f'[data]\ndataset = "{dataset}"\n' + TINY.format(extra=extra))
    out = tmp / name
    res = evonas("run", str(config), "--out", str(out), "--quiet")
    assert res.returncode == 0, res.stderr
    return out, res.stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    tmp = tmp_path_factory.mktemp("ensemble-runs")
    # ames-20: more than the distinct successes, so every one of them is a member; the plain mean
    # digits-3: the members weighed by greedy selection (the default)
    cases = {
        "ames-1": ("ames", None, "greedy"),
        "ames-20": ("ames", 20, "equal"),
        "digits-3": ("digits", 3, "greedy"),
    }
    return {name: tiny_run(tmp, dataset, k, w) for name, (dataset, k, w) in cases.items()}


def best_distinct(run: Path, k: int) -> list[int]:
    """The k best distinct keys, as ``RunResult.best`` ranks them: objective, then id."""
    ind = pd.read_json(run / "individuals.jsonl", lines=True)
    ok = ind[ind["status"] == "ok"].sort_values(["objective", "id"]).drop_duplicates("key")
    return [int(i) for i in ok["id"].head(k)]


def held_out(name: str, tmp: Path) -> tuple[Path, pd.DataFrame, str]:
    frame, _, target, ids = read_frame(name)
    labels = split_labels(frame.drop(columns=list(ids)), (0.70, 0.15, 0.15))
    rows = frame[labels == "test"].reset_index(drop=True)
    path = tmp / f"{name}-test.csv"
    rows.to_csv(path, index=False)
    return path, rows, target


def members_mean(run: Path, rows_path: Path) -> np.ndarray:
    """The mean output of the members' own model files on the encoded rows (their refits here), weighted
    by their greedy-selection weights when the run has them."""
    import keras

    from evonas.evolve.predict import load_predictor

    encoder = load_predictor(run).encoder
    x = encoder.transform(pd.read_csv(rows_path, dtype={c.name: str for c in encoder.categorical})).x
    ensemble = json.loads((run / "test.json").read_text())["ensemble"]
    ids, weights = ensemble["ids"], ensemble.get("weights")
    w = np.ones(len(ids)) if weights is None else np.array([weights[str(i)] for i in ids], dtype=float)
    ids = [i for i, x in zip(ids, w) if x > 0]
    w = w[w > 0]
    # each member's refit, or the member as trained where the refit guard rejected its refit
    paths = [run / f"best/ensemble/refit-{i}.keras" for i in ids]
    paths = [p if p.is_file() else run / f"best/ensemble/member-{i}.keras" for p, i in zip(paths, ids)]
    models = [keras.models.load_model(p) for p in paths]
    outs = [m.predict(x, verbose=0) for m in models]
    return np.tensordot(w / w.sum(), np.asarray(outs, dtype="float64"), axes=1)


def test_the_members_are_the_three_best_distinct_architectures(runs):
    run, stdout = runs["digits-3"]
    ensemble = json.loads((run / "best/ensemble.json").read_text())
    ids = [m["id"] for m in ensemble["members"]]
    assert ensemble["size"] == 3 and ids == best_distinct(run, 3)
    assert len({m["key"] for m in ensemble["members"]}) == 3
    # every member was refitted; the refit guard rejects one that fits the train+val rows worse
    refits = {m["id"]: m["refit"] for m in ensemble["members"]}
    assert {r["status"] for r in refits.values()} <= {"ok", "rejected"}, refits
    for r in refits.values():
        assert (r["fit_loss"] > r["reference_fit_loss"]) == (r["status"] == "rejected")
    # only the members' models are kept: the rest were deleted, the workers' scratch folder is gone
    kept = {f"refit-{i}.keras" for i in ids if refits[i]["status"] == "ok"}
    expected = {f"member-{i}.keras" for i in ids} | kept
    assert {p.name for p in (run / "best/ensemble").iterdir()} == expected
    assert not (run / "models").exists()
    test = json.loads((run / "test.json").read_text())
    assert test["ensemble"]["ids"] == ids and "refit" in test["ensemble"]
    weights = test["ensemble"]["weights"]  # greedy selection: 25 rounds, the best member picked first
    assert sorted(weights) == sorted(str(i) for i in ids) and sum(weights.values()) == 25
    assert weights[str(ids[0])] > 0 and all(w >= 0 for w in weights.values())
    assert {m["id"]: m["weight"] for m in ensemble["members"]} == {int(i): w for i, w in weights.items()}
    shares = ", ".join(f"#{i} {weights[str(i)] / 25:.2f}" for i in ids)
    assert f"Ensemble of the 3 best ({shares}), predictions weighted by greedy selection" in stdout
    assert "evonas predict uses this ensemble" in stdout
    show = evonas("show", str(run))
    assert show.returncode == 0 and "Ensemble refitted on train+val" in show.stdout


def test_a_regression_ensemble_predicts_the_mean_of_its_members_and_export_agrees(runs, tmp_path):
    run, _ = runs["ames-20"]
    rows_path, rows, target = held_out("ames", tmp_path)
    res = evonas("predict", str(run), str(rows_path), "--out", str(tmp_path / "preds.csv"))
    assert res.returncode == 0, res.stderr
    assert "predictions by the ensemble of #" in res.stderr
    pred = pd.read_csv(tmp_path / "preds.csv")["prediction"].to_numpy()
    np.testing.assert_allclose(pred, members_mean(run, rows_path).reshape(-1), rtol=1e-5)
    # the test score of the ensemble is that of what predict delivers
    rmse = float(np.sqrt(np.mean((pred - rows[target].to_numpy(float)) ** 2)))
    score = json.loads((run / "test.json").read_text())["ensemble"]["refit"]["test_rmse"]
    assert rmse == pytest.approx(score, rel=1e-6)

    exported = tmp_path / "ames-ensemble.keras"
    res = evonas("export", str(run), "--to", str(exported))
    assert res.returncode == 0 and "the ensemble of #" in res.stdout, res.stderr
    import keras

    from evonas.evolve.predict import load_predictor

    encoder = load_predictor(run).encoder
    model = keras.models.load_model(exported)
    feed = export_feed(encoder, pd.read_csv(rows_path, dtype={c.name: str for c in encoder.categorical}))
    np.testing.assert_allclose(model.predict(feed, verbose=0).reshape(-1), pred, rtol=1e-5)

    best = str(best_distinct(run, 1)[0])
    one = evonas("predict", str(run), str(rows_path), "--id", best, "--out", str(tmp_path / "one.csv"))
    assert one.returncode == 0 and "predictions by #" in one.stderr  # --id: one individual


def test_a_classification_ensemble_averages_the_class_probabilities(runs, tmp_path):
    run, _ = runs["digits-3"]
    rows_path, rows, target = held_out("digits", tmp_path)
    res = evonas("predict", str(run), str(rows_path), "--proba", "--out", str(tmp_path / "p.csv"))
    assert res.returncode == 0, res.stderr
    frame = pd.read_csv(tmp_path / "p.csv")
    proba = frame[[c for c in frame.columns if c.startswith("proba_")]].to_numpy()
    np.testing.assert_allclose(proba, members_mean(run, rows_path), rtol=1e-5, atol=1e-7)
    score = json.loads((run / "test.json").read_text())["ensemble"]["refit"]
    labels = frame["prediction"].astype(str).to_numpy()
    assert np.mean(labels == rows[target].astype(str).to_numpy()) == pytest.approx(score["test_accuracy"])


def test_k_above_the_successes_takes_every_distinct_success(runs):
    run, stdout = runs["ames-20"]
    members = json.loads((run / "best/ensemble.json").read_text())["members"]
    assert [m["id"] for m in members] == best_distinct(run, 20)
    assert len(members) < 20 and f"Ensemble of the {len(members)} best" in stdout
    assert "predictions averaged" in stdout and "weights" not in json.loads((run / "test.json").read_text())
    assert all("weight" not in m for m in members)  # search.ensemble_weights = "equal": the plain mean


def test_k_1_is_the_single_best_network_as_before(runs):
    single, stdout = runs["ames-1"]
    refitted = json.loads((single / "best/refit.json").read_text())["status"] == "ok"  # else rejected
    assert (
        sorted(p.name for p in (single / "best").iterdir())
        == [
            "model.json",
            "model.keras",
            "refit.json",
        ]
        + ["refit.keras"] * refitted
    )
    test = json.loads((single / "test.json").read_text())
    assert "ensemble" not in test and "Ensemble" not in stdout
    # the search itself does not depend on the ensemble: same individuals, same single-best figures
    ensemble, _ = runs["ames-20"]
    assert (single / "individuals.jsonl").read_text() == (ensemble / "individuals.jsonl").read_text()
    with_ensemble = json.loads((ensemble / "test.json").read_text())
    assert {k: v for k, v in with_ensemble.items() if k != "ensemble"} == test
