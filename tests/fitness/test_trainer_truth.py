"""The compiled trainer tells the truth: it trains as Keras does, its records match its saved models.

Real training, tiny budgets, no mocks.

**Compiled against Keras.** The compiled trainer (:mod:`fitness.trainers.compiled`) and
the Keras reference (:mod:`fitness.trainers.keras_fit`) run the same algorithm from
the same initial weights (the same seeded model), but not bitwise the same
computation: the shuffling orders differ (stateless TensorFlow shuffles against
Keras' seeded shuffle), so do the dropout masks (one 16-bit draw per step
against Keras' seed generators) and the order of float summations. After the
same number of epochs (``patience > max_epochs``: both train exactly
``max_epochs``), their validation losses are two draws of the same random
quantity; how far they may differ is measured by how far one trainer's loss
moves when only those random streams change, that is across training seeds
with the model's initial weights fixed.

Measured on this 2-core machine (5 training seeds per trainer, 5 epochs, the
four genomes below): the seed-to-seed standard deviation of the final
validation loss was 0.3 % to 2 % of the loss (0.0016 to 0.0102), and the
difference between the two trainers' mean losses was 0.03 to 0.9 of that
standard deviation (0.1 % to 0.8 % of the loss); a single compiled/keras pair
differed by 1.3 to 2.9 standard deviations. So the test compares means over
``SEEDS`` seeds each: ``|mean_compiled - mean_keras| <= 4 * sd * sqrt(2 / n) + 0.5 %``
of the Keras mean, ``sd`` the pooled seed-to-seed standard deviation of both
trainers. The difference of two means of ``n`` draws has standard deviation
``sd * sqrt(2 / n)``; with ``sd`` estimated from the 2 x 3 draws (4 degrees of
freedom) the ratio is Student-t distributed, and for trainers that agree in
distribution it exceeds 4 with a probability of about 1.6 % per genome (less with
the floor); the trainings are deterministic, so a machine passes or fails this
test every time, never at random. The 0.5 % floor covers float summation order
where the random streams move the loss little (``sd`` near 0).
A trainer that got the gradient or the update wrong is far outside: with the
learning rate multiplied by 3 (compiled trainer, 3 seeds, 4 epochs) the mean loss
moved by 6 to 170 standard deviations, 1.8 to 38 times the tolerance.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from evonas.fitness import TrainSettings, build_model, evaluate_genome, load_dataset
from evonas.fitness.evaluate import _logits, log_softmax
from evonas.fitness.model import optimizer_for
from evonas.fitness.runtime import configure_tensorflow, import_tensorflow
from evonas.fitness.trainers.compiled import train_compiled
from evonas.fitness.trainers.keras_fit import train_keras
from evonas.fitness.trainers.plain import PlainNetwork, scale_features
from evonas.genome import KNOWN_ACTIVATIONS, SearchSpace, decode
from tests.conftest import curved_prices

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow's quiet import)

SPACE = SearchSpace(max_levels=2, max_units=2)
SEEDS = 3
EPOCHS = 4


@pytest.fixture(scope="module")
def regression_data():
    return curved_prices(400)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _candidates(build):
    """Regression and classification, batch norm and dropout, four optimizers, several activations."""
    return {
        "regression, batch norm, dropout, adam": (
            "regression",
            build(
                SPACE,
                n_levels=2,
                n_units=(2, 1),
                neurons={(0, 0): 3, (0, 1): 2, (1, 0): 3},
                batchnorm=[(0, 0), (1, 0)],
                dropout={(0, 1): 1},
                laterals=[((0, 0), (0, 1))],
                optimizer=0,
                learning_rate=2,
                batch_size=1,
            ),
        ),
        "regression, elu and tanh, sgd": (
            "regression",
            build(
                SPACE,
                n_levels=1,
                n_units=(2,),
                neurons={(0, 0): 4, (0, 1): 3},
                activation={(0, 0): 1, (0, 1): 4},
                optimizer=3,
                learning_rate=1,
                batch_size=1,
            ),
        ),
        "classification, batch norm, dropout, rmsprop": (
            "classification",
            build(
                SPACE,
                n_levels=2,
                n_units=(1, 1),
                neurons={(0, 0): 4, (1, 0): 3},
                batchnorm=[(0, 0)],
                dropout={(0, 0): 2},
                activation={(0, 0): 2, (1, 0): 3},
                optimizer=2,
                learning_rate=1,
                batch_size=2,
            ),
        ),
        "classification, adamw": (
            "classification",
            build(
                SPACE,
                n_levels=1,
                n_units=(1,),
                neurons={(0, 0): 4},
                optimizer=1,
                learning_rate=2,
                batch_size=2,
            ),
        ),
        "regression, weight decay, cosine schedule, adam": (
            "regression",
            build(
                SPACE,
                n_levels=1,
                n_units=(2,),
                neurons={(0, 0): 4, (0, 1): 3},
                optimizer=0,
                learning_rate=3,
                batch_size=1,
                weight_decay=3,
                lr_schedule=1,
            ),
        ),
        "regression, ple embedding, rmsprop": (
            "regression",
            build(
                SPACE,
                n_levels=1,
                n_units=(1,),
                neurons={(0, 0): 3},
                optimizer=2,
                learning_rate=2,
                batch_size=1,
                embedding=1,
            ),
        ),
        "classification, label smoothing, one-cycle, sgd": (
            "classification",
            build(
                SPACE,
                n_levels=1,
                n_units=(1,),
                neurons={(0, 0): 4},
                optimizer=3,
                learning_rate=2,
                batch_size=2,
                weight_decay=2,
                lr_schedule=2,
                label_smoothing=1,
            ),
        ),
    }


def _final_val_losses(trainer, arch, data) -> np.ndarray:
    """The last validation loss of ``SEEDS`` trainings: same initial weights, different training seeds."""
    losses = []
    for seed in range(SEEDS):
        keras.backend.clear_session()
        keras.utils.set_random_seed(7)
        model = build_model(
            arch,
            data.n_features,
            data.n_outputs,
            data.task,
            data.feature_mean,
            data.feature_var,
            7,
            data.ple_bins,
        )
        optimizer = optimizer_for(arch, len(data.x_train), EPOCHS)
        history = trainer(model, arch, optimizer, data, EPOCHS, EPOCHS + 1, 100 + seed)
        assert len(history["val_loss"]) == EPOCHS  # patience > max_epochs: every epoch trains
        losses.append(history["val_loss"][-1])
    return np.asarray(losses)


@pytest.mark.slow  # 7 x 6 trainings: about 45 s, kept out of make test-fast
@pytest.mark.parametrize(
    "name",
    [
        "regression, batch norm, dropout, adam",
        "regression, elu and tanh, sgd",
        "classification, batch norm, dropout, rmsprop",
        "classification, adamw",
        "regression, weight decay, cosine schedule, adam",
        "classification, label smoothing, one-cycle, sgd",
        "regression, ple embedding, rmsprop",
    ],
)
def test_compiled_and_keras_reach_the_same_validation_loss(regression_data, digits, build, name):
    configure_tensorflow(1)
    task, genes = _candidates(build)[name]
    data = regression_data if task == "regression" else digits
    arch = decode(SPACE, genes)
    compiled = _final_val_losses(train_compiled, arch, data)
    fitted = _final_val_losses(train_keras, arch, data)
    assert np.all(np.isfinite(compiled)) and np.all(np.isfinite(fitted))
    sd = math.sqrt((compiled.var(ddof=1) + fitted.var(ddof=1)) / 2)
    tolerance = 4 * sd * math.sqrt(2 / SEEDS) + 0.005 * fitted.mean()
    difference = abs(compiled.mean() - fitted.mean())
    assert difference <= tolerance, (compiled, fitted, difference, tolerance)


def _validation_metric(model, data) -> float:
    """The saved model's objective, computed from its predictions on the validation rows."""
    if data.task == "regression":  # the saved model predicts in the target's units
        pred = model.predict(data.x_val, verbose=0).reshape(-1).astype("float64")
        return float(np.sqrt(np.mean((pred - data.y_val.astype("float64")) ** 2)))
    y = data.y_val.astype("int64")
    return float(-np.mean(log_softmax(_logits(model, data.x_val))[np.arange(len(y)), y]))


@pytest.mark.parametrize("trainer", ["compiled", pytest.param("keras", marks=pytest.mark.slow)])
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_saved_model_scores_the_records_objective_and_patience_is_honoured(
    regression_data, digits, build, tmp_path, trainer, task
):
    """A high learning rate: the validation loss stops improving, training stops, the best epoch is back."""
    data = regression_data if task == "regression" else digits
    genes = build(
        SPACE,
        n_levels=1,
        n_units=(2,),
        neurons={(0, 0): 4, (0, 1): 3},
        batchnorm=[(0, 0)],
        optimizer=2,
        learning_rate=5,
        batch_size=0,
    )
    settings = TrainSettings(max_epochs=12, patience=2, trainer=trainer)
    path = tmp_path / "m.keras"
    record = evaluate_genome(SPACE, genes, data, settings, run_seed=1, model_path=str(path))
    assert record["status"] == "ok", record
    # early stopping: patience epochs after the best, unless the epoch cap came first
    assert record["epochs"] == min(record["best_epoch"] + settings.patience, settings.max_epochs)
    assert record["best_epoch"] < record["epochs"] < settings.max_epochs  # stopped early: restoring matters
    model = keras.models.load_model(path)
    assert _validation_metric(model, data) == pytest.approx(record["objective"], rel=1e-5)


@pytest.mark.parametrize("patience", [1, 3])
def test_compiled_trainer_stops_patience_epochs_after_the_best(regression_data, build, patience):
    genes = build(
        SPACE, n_levels=1, n_units=(1,), neurons={(0, 0): 4}, optimizer=3, learning_rate=5, batch_size=0
    )
    settings = TrainSettings(max_epochs=15, patience=patience)
    record = evaluate_genome(SPACE, genes, regression_data, settings, run_seed=3)
    assert record["status"] == "ok"
    assert record["epochs"] == min(record["best_epoch"] + patience, settings.max_epochs)


ALL = SearchSpace(max_levels=2, max_units=2, activations=tuple(sorted(KNOWN_ACTIVATIONS)))


@pytest.mark.parametrize("task", ["regression", "classification"])
@pytest.mark.parametrize("activation", sorted(KNOWN_ACTIVATIONS))
def test_written_out_gradients_match_the_tape_on_the_keras_model(digits, build, task, activation):
    """plain.py's backward pass against ``tf.GradientTape`` through the Keras model itself (training mode).

    Every unit uses ``activation``, one is batch-normalised, with a lateral and
    two levels. No dropout: its masks are drawn differently by design
    (``tests/fitness/test_plain.py`` checks them against the tape on the plain forward pass).
    """
    index = ALL.activations.index(activation)
    genes = build(
        ALL,
        n_levels=2,
        n_units=(2, 1),
        neurons={(0, 0): 2, (0, 1): 1, (1, 0): 2},
        activation={(0, 0): index, (0, 1): index, (1, 0): index},
        batchnorm=[(0, 1)],
        laterals=[((0, 0), (0, 1))],
        outputs=[(0, 0)],
    )
    arch = decode(ALL, genes)
    assert {u.activation for u in arch.units} == {activation}
    n_out = 1 if task == "regression" else 10
    model = build_model(arch, digits.n_features, n_out, task, digits.feature_mean, digits.feature_var, 3)
    net = PlainNetwork(arch, model, digits.n_features)
    rows = 48
    x = digits.x_train[:rows]
    classify = task == "classification"
    if classify:
        y = tf.constant(digits.y_train[:rows])
    else:
        y = tf.constant(np.random.default_rng(0).normal(size=rows).astype("float32"))
    w = [tf.constant(np.asarray(v)) for v in net.weights]
    s = [tf.constant(np.asarray(v)) for v in net.stats]
    scaled = tf.constant(scale_features(x, digits.feature_mean, digits.feature_var))
    loss, grads, _ = net.loss_and_gradients(w, s, scaled, y, tf.constant([0, 0]), classify)
    with tf.GradientTape() as tape:
        out = model(x, training=True)
        if classify:  # the model outputs probabilities
            picked = tf.gather(out, y, axis=1, batch_dims=1)
            expected_loss = -tf.reduce_mean(tf.math.log(picked))
        else:
            expected_loss = tf.reduce_mean(tf.square(out[:, 0] - y))
    expected = tape.gradient(expected_loss, [v.value for v in net.weights])
    np.testing.assert_allclose(loss.numpy(), expected_loss.numpy(), rtol=1e-5)
    for k, (ours, ref) in enumerate(zip(grads, expected)):
        ref = np.asarray(ref)
        scale = float(np.abs(ref).max()) + 1e-6
        np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-3, atol=1e-4 * scale, err_msg=f"weight {k}")
    assert all(float(np.abs(g.numpy()).max()) > 0 for g in grads)
