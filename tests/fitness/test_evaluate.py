"""Training one candidate: records, determinism, failures (real Keras, tiny budgets)."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evonas.fitness import TrainSettings, evaluate_genome, evaluation_seed, load_dataset, score_test
from evonas.fitness.evaluate import PREDICT_BATCH, forward
from evonas.genome import SearchSpace, decode
from tests.conftest import curved_prices

ROOT = Path(__file__).resolve().parents[2]
SPACE = SearchSpace(max_levels=2, max_units=2)
FAST = TrainSettings(max_epochs=3, patience=2)


@pytest.fixture(scope="module")
def regression_data():
    return curved_prices(300)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture
def genes(build):
    return build(
        SPACE,
        n_levels=2,
        n_units=(2, 1),
        neurons={(0, 0): 3, (0, 1): 2, (1, 0): 3},
        laterals=[((0, 0), (0, 1))],
        learning_rate=3,
        batch_size=1,
    )


def test_regression_record_is_plain_data_in_target_units(regression_data, genes):
    rec = evaluate_genome(SPACE, genes, regression_data, FAST, run_seed=1)
    assert rec["status"] == "ok" and rec["error"] is None
    assert rec["key"] == decode(SPACE, genes).key
    assert rec["seed"] == evaluation_seed(1, rec["key"])
    assert 1 <= rec["epochs"] <= FAST.max_epochs and 1 <= rec["best_epoch"] <= rec["epochs"]
    assert rec["params"] == decode(SPACE, genes).n_params(4, 1)
    # RMSE in the target's units: the target's std is about 300, so the RMSE is of that order
    assert rec["objective"] == rec["metrics"]["val_rmse"]
    assert 10 < rec["objective"] < 3 * regression_data.target_std


def test_same_seed_and_key_train_identically_in_any_order(regression_data, genes, build):
    first = evaluate_genome(SPACE, genes, regression_data, FAST, run_seed=5)
    other = build(SPACE, n_levels=1, n_units=(1,), neurons={(0, 0): 4})
    evaluate_genome(SPACE, other, regression_data, FAST, run_seed=5)
    again = evaluate_genome(SPACE, genes, regression_data, FAST, run_seed=5)
    assert again["objective"] == first["objective"]
    changed = evaluate_genome(SPACE, genes, regression_data, FAST, run_seed=6)
    assert changed["objective"] != first["objective"]


def test_classification_reports_cross_entropy_and_accuracy(digits, genes):
    rec = evaluate_genome(SPACE, genes, digits, TrainSettings(max_epochs=4, patience=2), run_seed=0)
    assert rec["status"] == "ok"
    assert rec["objective"] == rec["metrics"]["val_loss"]
    assert rec["metrics"]["val_accuracy"] > 0.5  # 10 classes: chance is 0.1


def test_saved_model_predicts_in_target_units_and_scores_test(regression_data, genes, tmp_path):
    path = tmp_path / "m.keras"
    rec = evaluate_genome(SPACE, genes, regression_data, FAST, run_seed=1, model_path=str(path))
    assert path.exists()
    score = score_test(str(path), regression_data)
    assert score["test_rows"] == len(regression_data.y_test)
    assert 0.3 * rec["objective"] < score["test_rmse"] < 3 * rec["objective"]


def test_forward_gives_what_keras_predict_gives_over_several_batches(digits, genes, tmp_path):
    import keras

    path = tmp_path / "m.keras"
    evaluate_genome(SPACE, genes, digits, FAST, run_seed=1, model_path=str(path))
    model = keras.models.load_model(path)
    x = np.concatenate([digits.x_test] * (2 * PREDICT_BATCH // len(digits.x_test) + 1))  # 3 batches
    assert len(x) > 2 * PREDICT_BATCH
    ours, theirs = forward(model, x), model.predict(x, batch_size=PREDICT_BATCH, verbose=0)
    assert ours.shape == theirs.shape == (len(x), 10) and ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(forward(model, x[:5]), ours[:5], rtol=1e-5, atol=1e-7)  # a part batch


def test_model_not_saved_unless_below_threshold(regression_data, genes, tmp_path):
    path = tmp_path / "m.keras"
    evaluate_genome(SPACE, genes, regression_data, FAST, run_seed=1, model_path=str(path), save_below=1e-9)
    assert not path.exists()


def test_nan_loss_is_a_failed_record(regression_data, genes):
    # a NaN target makes the loss NaN whatever the network does; a NaN feature does not always
    # (on one CI machine this genome trained to a finite loss with a NaN column in x_train)
    y = regression_data.y_train.copy()
    y[:5] = np.nan
    bad = dataclasses.replace(regression_data, y_train=y)
    rec = evaluate_genome(SPACE, genes, bad, FAST, run_seed=0)
    assert rec["status"] == "failed" and rec["objective"] is None
    assert "non-finite loss" in rec["error"]


def test_exception_while_training_is_a_failed_record(regression_data, genes):
    bad = dataclasses.replace(regression_data, x_train=regression_data.x_train[:, :2])
    rec = evaluate_genome(SPACE, genes, bad, FAST, run_seed=0)
    assert rec["status"] == "failed" and rec["objective"] is None
    assert rec["error"] and "Error" in rec["error"].split(":")[0]


def test_network_above_max_params_fails_before_building(regression_data, genes):
    tiny = dataclasses.replace(SPACE, max_params=10)
    rec = evaluate_genome(tiny, genes, regression_data, FAST, run_seed=0)
    assert rec["status"] == "failed" and rec["epochs"] == 0
    assert "max_params" in rec["error"]


def test_settings_reject_bad_values_and_unknown_keys():
    with pytest.raises(ValueError, match="training.max_epochs"):
        TrainSettings(max_epochs=0)
    with pytest.raises(ValueError, match="unknown key 'training.epochs'"):
        TrainSettings.from_dict({"epochs": 3})
    assert math.isfinite(TrainSettings().patience)
@pytest.mark.slow  # more than 2 s (tests/conftest.py FAST_LIMIT_S)
def test_other_threads_drawing_global_random_numbers_change_nothing(regression_data, genes):
    import random
    import threading

    first = evaluate_genome(SPACE, genes, regression_data, FAST, run_seed=2)
    stop = threading.Event()

    def noise():  # e.g. an event loop of a Dask worker
        while not stop.is_set():
            random.random()

    thread = threading.Thread(target=noise, daemon=True)
    thread.start()
    try:
        again = evaluate_genome(SPACE, genes, regression_data, FAST, run_seed=2)
    finally:
        stop.set()
        thread.join()
    assert again["objective"] == first["objective"]


def test_swish_candidates_leave_no_gradient_functions_behind(regression_data, build):
    """tf.nn.silu registers a gradient function per trace and never drops it (TF #97697): not used."""
    from tensorflow.python.framework import ops

    swish = SPACE.activations.index("swish")
    genes = build(
        SPACE,
        n_levels=1,
        n_units=(2,),
        neurons={(0, 0): 3, (0, 1): 2},
        activation={(0, 0): swish, (0, 1): swish},
    )
    assert "swish" in decode(SPACE, genes).describe()
    registry = ops._gradient_registry._registry
    evaluate_genome(SPACE, genes, regression_data, FAST, run_seed=1)  # imports and warms TensorFlow
    before = len(registry)
    for seed in (2, 3):
        assert evaluate_genome(SPACE, genes, regression_data, FAST, run_seed=seed)["status"] == "ok"
    assert len(registry) == before


@pytest.mark.slow  # more than 2 s (tests/conftest.py FAST_LIMIT_S)
def test_collections_between_candidates_skip_the_modules_objects(tmp_path):
    """In evonas' own processes (a worker, the command), TensorFlow's and Keras' objects are frozen out of
    the garbage collector's walk; in a caller's process (a notebook training through the API) nothing is.

    Each candidate is followed by garbage collections; they must look only at what the
    candidates created, not at the ~400,000 long-lived objects of the modules.
    """
    script = """
import gc, sys
import numpy as np
from evonas.fitness import TrainSettings, evaluate_genome, load_dataset
from evonas.fitness.runtime import own_process
from evonas.genome import SearchSpace, random_genome
space, data = SearchSpace(max_levels=2, max_units=2), load_dataset("digits")
rng = np.random.default_rng(0)
record = evaluate_genome(space, random_genome(space, rng), data, TrainSettings(2, 1), run_seed=9)
print(gc.get_freeze_count())  # a caller's process: nothing frozen
own_process()
for seed in range(3):
    record = evaluate_genome(space, random_genome(space, rng), data, TrainSettings(2, 1), run_seed=seed)
    assert record["status"] == "ok", record
gc.collect()
print(gc.get_freeze_count(), len(gc.get_objects()))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    callers, own = done.stdout.splitlines()[-2:]
    assert int(callers) == 0
    frozen, walked = map(int, own.split())
    assert frozen > 100_000  # TensorFlow and Keras
    assert walked < frozen / 10, (frozen, walked)


def test_evonas_work_in_a_callers_process_leaves_op_determinism_as_it_was():
    from tensorflow.python.framework import config as tf_config

    from evonas.fitness.runtime import configure_tensorflow, import_tensorflow, in_callers_process

    tf = import_tensorflow()
    try:
        tf_config.disable_op_determinism()
        with in_callers_process():
            configure_tensorflow(1)  # as every training does
            assert tf_config.is_op_determinism_enabled()
        assert not tf_config.is_op_determinism_enabled()  # the caller's setting is back
        tf.config.experimental.enable_op_determinism()
        with in_callers_process():
            configure_tensorflow(1)
        assert tf_config.is_op_determinism_enabled()  # on before: left on
    finally:
        tf.config.experimental.enable_op_determinism()  # as the other tests of this process expect


def test_estimated_seconds_grows_with_the_network_the_steps_and_the_epochs(regression_data, build):
    from evonas.fitness import estimated_seconds

    small = build(SPACE, n_levels=1, n_units=(1,), neurons={(0, 0): 2}, batch_size=3)
    wide = build(SPACE, n_levels=1, n_units=(1,), neurons={(0, 0): 6}, batch_size=3)
    deep = build(SPACE, n_levels=2, n_units=(2, 2), neurons={(0, 0): 6, (0, 1): 6, (1, 0): 6}, batch_size=3)
    small_batches = build(SPACE, n_levels=1, n_units=(1,), neurons={(0, 0): 6}, batch_size=0)
    cost = {
        name: estimated_seconds(SPACE, g, regression_data, FAST)
        for name, g in {"small": small, "wide": wide, "deep": deep, "small_batches": small_batches}.items()
    }
    assert 0 < cost["small"] < cost["wide"] < cost["deep"]
    assert cost["wide"] < cost["small_batches"]  # same network, more steps per epoch
    longer = estimated_seconds(SPACE, wide, regression_data, TrainSettings(max_epochs=30, patience=2))
    assert longer > cost["wide"]
    # a candidate over max_params is rejected before training: nothing to wait for
    tight = dataclasses.replace(SPACE, max_params=decode(SPACE, small).n_params(4, 1))
    assert estimated_seconds(tight, wide, regression_data, FAST) == 0.0
    assert estimated_seconds(tight, small, regression_data, FAST) > 0.0
