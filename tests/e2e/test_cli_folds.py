"""``search.folds = K``: each selected network is delivered as its K fold models averaged (a real run).

A tiny cross-validated search on Ames (a log target: predictions pass ``exp - 1``)
with an ensemble of 2: ``best/refit.keras`` and each member's refit are the mean of
the network's fold models, the fold models the race trained are reused (not trained
again), and ``predict``, the test score and ``export`` all give that mean.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import assert_float32_close
from tests.e2e.conftest import evonas, export_feed, jsonl
from tests.e2e.test_cli_ensemble import held_out

pytestmark = pytest.mark.slow  # a real search (more than 2 s a test)

K = 3
CONFIG = f"""
[data]
dataset = "ames"
[search]
population = 4
generations = 2
seed = 3
engine = "serial"
folds = {K}
ensemble = 2
[training]
max_epochs = 2
patience = 1
[space]
max_levels = 2
max_units = 2
neuron_choices = [8, 16, 32]
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("folds")
    (tmp / "c.toml").write_text(CONFIG)
    res = evonas("run", str(tmp / "c.toml"), "--out", str(tmp / "run"), "--quiet")
    assert res.returncode == 0, res.stderr
    return tmp / "run", res.stdout


def fold_mean(run: Path, rows_path: Path) -> np.ndarray:
    """The members' weighted mean (greedy selection's weights) of their fold models' mean output, from the
    fold files kept in ``best/folds/`` (all K of each member's after the search: those the race trained and
    those trained at the end)."""
    import keras

    from evonas.evolve.predict import load_predictor
    from evonas.fitness.evaluate import forward

    encoder = load_predictor(run).encoder
    x = encoder.transform(pd.read_csv(rows_path, dtype={c.name: str for c in encoder.categorical})).x
    members = json.loads((run / "best/ensemble.json").read_text())["members"]
    outs = []
    for m in members:
        folds = []
        for r in range(K):
            path = run / f"best/folds/{m['key']}-fold{r}.keras"
            folds.append(forward(keras.models.load_model(path), x))
        outs.append(np.mean(np.asarray(folds, dtype="float64"), axis=0))
    w = np.array([m["weight"] for m in members], dtype=float)
    return np.tensordot(w / w.sum(), np.asarray(outs), axes=1).reshape(-1)


def test_each_delivered_network_is_its_fold_models_averaged_and_no_fold_is_trained_twice(run):
    run, stdout = run
    refit = json.loads((run / "best/refit.json").read_text())
    assert refit["status"] == "ok" and refit["kind"] == "folds" and refit["folds"] == K
    members = json.loads((run / "best/ensemble.json").read_text())["members"]
    assert len(members) == 2 and members[0]["key"] == refit["key"]
    journal = jsonl(run / "evaluations.jsonl")
    kept = {p.name for p in (run / "best/folds").iterdir()}
    # only the members' fold models are kept, all K of each; the scratch folder is gone
    assert kept == {f"{m['key']}-fold{r}.keras" for m in members for r in range(K)}
    assert not (run / "models").exists()
    for m in members:
        # the delivery trained only the folds the race had not: none twice
        raced = {r["fold"] for r in journal if r["key"] == m["key"] and r["status"] == "ok"}
        assert m["refit"]["status"] == "ok" and m["refit"]["trained"] == K - len(raced), m
    assert any(m["refit"]["trained"] < K for m in members)  # the race's fold models were reused
    assert any(m["refit"]["trained"] > 0 for m in members)  # ... and the missing ones trained at the end,
    # as the race would have trained them: fold r's rows, replicate r's seed (the same model again)
    import keras

    from evonas.evolve.api import load_data
    from evonas.evolve.rundir import RunDir
    from evonas.fitness import evaluate_genome, fold_data
    from evonas.fitness.evaluate import forward

    cfg = RunDir.open(run).config()
    data = load_data(cfg.data)
    space = cfg.space.for_data(data.task, embeddable=bool(data.ple_bins))
    genes = {r["key"]: r["genes"] for r in jsonl(run / "individuals.jsonl")}
    m = next(m for m in members if m["refit"]["trained"] > 0)
    raced = {r["fold"] for r in journal if r["key"] == m["key"]}
    fold = min(set(range(K)) - raced)
    again = run.parent / "again.keras"
    arch = np.asarray(genes[m["key"]])
    evaluate_genome(
        space, arch, fold_data(data, fold, K), cfg.training, cfg.search.seed, str(again), replicate=fold
    )
    kept = keras.models.load_model(run / f"best/folds/{m['key']}-fold{fold}.keras")
    assert_float32_close(forward(keras.models.load_model(again), data.x_test), forward(kept, data.x_test))
    # the weights: greedy selection on the members' out-of-fold predictions of every pooled row
    assert sum(m["weight"] for m in members) == 25 and members[0]["weight"] > 0
    test = json.loads((run / "test.json").read_text())
    assert test["refit"]["kind"] == "folds" and test["ensemble"]["refit"]["kind"] == "folds"
    assert f"Its {K} fold models averaged" in stdout
    assert "Ensemble of the members' fold models" in stdout and "evonas predict uses this ensemble" in stdout


def test_predict_the_test_score_and_export_give_the_mean_of_the_fold_models(run, tmp_path):
    run, _ = run
    rows_path, rows, target = held_out("ames", tmp_path)
    res = evonas("predict", str(run), str(rows_path), "--out", str(tmp_path / "p.csv"))
    assert res.returncode == 0, res.stderr
    pred = pd.read_csv(tmp_path / "p.csv")["prediction"].to_numpy()
    assert_float32_close(pred, fold_mean(run, rows_path), log=True)
    rmse = float(np.sqrt(np.mean((pred - rows[target].to_numpy(float)) ** 2)))
    score = json.loads((run / "test.json").read_text())["ensemble"]["refit"]["test_rmse"]
    assert rmse == pytest.approx(score, rel=1e-5)

    exported = tmp_path / "folds.keras"
    res = evonas("export", str(run), "--to", str(exported))
    assert res.returncode == 0, res.stderr
    import keras

    from evonas.evolve.predict import load_predictor

    encoder = load_predictor(run).encoder
    feed = export_feed(encoder, pd.read_csv(rows_path, dtype={c.name: str for c in encoder.categorical}))
    got = keras.models.load_model(exported).predict(feed, verbose=0).reshape(-1)
    assert_float32_close(got, pred, log=True)
