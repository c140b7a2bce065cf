"""``evonas predict``: raw rows in, the search's network applied exactly as in training (real runs)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evonas.fitness.data import read_frame, split_labels
from tests.e2e.conftest import evonas

pytestmark = pytest.mark.slow  # real searches (more than 2 s a test)


def held_out_rows(name: str) -> tuple[pd.DataFrame, str]:
    """The raw rows that the hash split put in the test split, rebuilt from the original data."""
    frame, _, target, ids = read_frame(name)
    labels = split_labels(frame.drop(columns=list(ids)), (0.70, 0.15, 0.15))
    return frame[labels == "test"].reset_index(drop=True), target


@pytest.fixture(scope="module")
def runs(ames_run, digits_full, mnist_run) -> dict[str, Path]:
    """The shared tiny searches of conftest.py: Ames (regression), digits and mnist5k (10 classes)."""
    return {"ames": ames_run[1], "digits": digits_full, "mnist5k": mnist_run[1]}


@pytest.mark.parametrize("name", ["ames", "digits", "mnist5k"])
def test_predicting_the_raw_test_rows_reproduces_the_test_score(runs, name, tmp_path):
    run = runs[name]
    rows, target = held_out_rows(name)
    path = tmp_path / "test-rows.csv"
    rows.to_csv(path, index=False)
    preds = tmp_path / "preds.csv"
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    res = evonas("predict", str(run), str(path), "--out", str(preds), "--proba")
    test = json.loads((run / "test.json").read_text())
    assert "test_rows" in test["refit"]  # refit is on by default: predict uses the refitted model
    scored = {**test, **test["refit"]}
    if name == "ames":
        assert res.returncode == 2 and "--proba needs a classification run" in res.stderr
        res = evonas("predict", str(run), str(path), "--out", str(preds))
    assert res.returncode == 0, res.stderr
    out = pd.read_csv(preds)
    assert len(out) == test["test_rows"] == len(rows)
    if name == "ames":
        assert list(out.columns) == ["rownames", "Order", "PID", "prediction"]  # ids pass through
        assert out["PID"].tolist() == rows["PID"].tolist()
        rmse = float(np.sqrt(np.mean((out["prediction"] - rows[target]) ** 2)))
        assert rmse == pytest.approx(scored["test_rmse"], rel=1e-6)
    else:
        assert list(out.columns) == ["prediction", *(f"proba_{k}" for k in range(10))]
        accuracy = float(np.mean(out["prediction"].to_numpy() == rows[target].to_numpy()))
        assert accuracy == pytest.approx(scored["test_accuracy"], rel=1e-6)
        p = out[[f"proba_{k}" for k in range(10)]].to_numpy()
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
        # test.json's cross-entropy comes from the logits (fitness.evaluate.score_test); the float32
        # probabilities that predict writes round a true class's probability below ~1e-38 to 0, so
        # they give back the same figure exactly when no such row exists, and never a higher one
        true = np.clip(p[np.arange(len(p)), rows[target].to_numpy()], np.finfo(np.float32).tiny, 1.0)
        ce = float(-np.mean(np.log(true)))
        if true.min() > 1e-30:
            assert ce == pytest.approx(scored["test_loss"], rel=1e-6)
        else:
            assert ce <= scored["test_loss"] * (1 + 1e-6)
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before  # nothing written into the run


def test_rows_without_the_target_and_csv_on_standard_output(runs, tmp_path):
    rows, target = held_out_rows("ames")
    path = tmp_path / "houses.csv"
    rows.drop(columns=[target]).head(5).assign(**{"MS.Zoning": "Martian"}).to_csv(path, index=False)
    res = evonas("predict", str(runs["ames"]), str(path))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert lines[0] == "rownames,Order,PID,prediction" and len(lines) == 6
    unseen = [ln for ln in res.stderr.splitlines() if "not seen in training" in ln]
    assert len(unseen) == 1 and "MS.Zoning (5 rows)" in unseen[0]


def test_another_individual_is_trained_again_and_predicts_its_own_validation_score(runs, tmp_path):
    run = runs["ames"]
    individuals = [json.loads(x) for x in (run / "individuals.jsonl").read_text().splitlines()]
    best = json.loads((run / "best" / "model.json").read_text())
    other = next(r for r in individuals if r["status"] == "ok" and r["key"] != best["key"])
    frame, _, target, ids = read_frame("ames")
    labels = split_labels(frame.drop(columns=list(ids)), (0.70, 0.15, 0.15))
    val = frame[labels == "val"]
    path = tmp_path / "val.csv"
    val.to_csv(path, index=False)
    res = evonas("predict", str(run), str(path), "--id", str(other["id"]), "--out", str(tmp_path / "p.csv"))
    assert res.returncode == 0, res.stderr
    pred = pd.read_csv(tmp_path / "p.csv")["prediction"].to_numpy()
    rmse = float(np.sqrt(np.mean((pred - val[target].to_numpy()) ** 2)))
    assert rmse == pytest.approx(other["objective"], rel=1e-4)
    assert f"by #{other['id']}" in res.stderr


def _one_error_line(res: subprocess.CompletedProcess, message: str) -> None:
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evonas: error:") and "Traceback" not in res.stderr
    assert message in lines[0], lines[0]


def test_bad_input_is_one_line_exit_2_and_nothing_written(runs, tmp_path):
    run = runs["ames"]
    rows, target = held_out_rows("ames")
    out = tmp_path / "never.csv"
    good = tmp_path / "good.csv"
    rows.head(10).to_csv(good, index=False)

    missing = tmp_path / "missing.csv"
    rows.head(10).drop(columns=["area", "Lot.Area", "Neighborhood"]).to_csv(missing, index=False)
    res = evonas("predict", str(run), str(missing), "--out", str(out))
    _one_error_line(res, "lacks 3 feature columns the model needs: 'area', 'Lot.Area', 'Neighborhood'")

    text = rows.head(10).astype({"area": object})
    text.loc[6, "area"] = "big"
    text_path = tmp_path / "text.csv"
    text.to_csv(text_path, index=False)
    _one_error_line(evonas("predict", str(run), str(text_path), "--out", str(out)), "'area'")
    assert "'big' on row 7" in evonas("predict", str(run), str(text_path)).stderr

    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _one_error_line(evonas("predict", str(run), str(empty), "--out", str(out)), "is empty")
    header = tmp_path / "header.csv"
    header.write_text(",".join(rows.columns) + "\n")
    _one_error_line(evonas("predict", str(run), str(header), "--out", str(out)), "no data rows")

    _one_error_line(evonas("predict", str(run), str(good), "--id", "9999"), "no individual with id 9999")
    _one_error_line(
        evonas("predict", str(run), str(good), "--out", str(run / "p.csv")), "inside the run directory"
    )
    _one_error_line(evonas("predict", str(run), str(good), "--out", str(good)), "is the input file")
    _one_error_line(evonas("predict", str(tmp_path / "nope"), str(good)), "run directory not found")
    assert not out.exists() and not (run / "p.csv").exists()
    assert pd.read_csv(good).shape == (10, rows.shape[1])  # the input is untouched


def test_a_run_whose_every_candidate_failed_has_no_model_to_predict_with(all_failed_run, tmp_path):
    _, run = all_failed_run
    assert (run / "individuals.jsonl").is_file()
    rows, _ = held_out_rows("digits")
    path = tmp_path / "rows.csv"
    rows.head(5).to_csv(path, index=False)
    res = evonas("predict", str(run), str(path))
    _one_error_line(res, "no model to predict with")
    assert "every candidate failed (most often: RuntimeError: injected fault" in res.stderr


def test_load_predictor_leaves_the_callers_tensorflow_as_it_was(runs):
    """A notebook that loads a predictor keeps its own TensorFlow settings: no op determinism switched
    on, no objects frozen out of the garbage collector, also when another individual is trained again."""
    import gc

    from tensorflow.python.framework import config as tf_config

    from evonas import load_predictor
    from evonas.fitness.runtime import import_tensorflow

    tf = import_tensorflow()
    rows, _ = held_out_rows("ames")
    best = json.loads((runs["ames"] / "best" / "model.json").read_text())
    individuals = [json.loads(x) for x in (runs["ames"] / "individuals.jsonl").read_text().splitlines()]
    other = next(r for r in individuals if r["status"] == "ok" and r["key"] != best["key"])
    frozen = gc.get_freeze_count()
    try:
        tf_config.disable_op_determinism()
        assert np.isfinite(load_predictor(runs["ames"]).predict(rows.head(5))).all()
        assert not tf_config.is_op_determinism_enabled() and gc.get_freeze_count() == frozen
        assert np.isfinite(load_predictor(runs["ames"], id=other["id"]).predict(rows.head(5))).all()
        assert not tf_config.is_op_determinism_enabled()  # on while it trained, off again
    finally:
        tf.config.experimental.enable_op_determinism()  # as the other tests of this process expect
