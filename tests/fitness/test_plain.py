"""The plain TensorFlow forward pass computes what the Keras model computes, on the model's own weights."""

from __future__ import annotations

import numpy as np
import pytest

from fitness import build_model, load_dataset
from fitness.plain import _activation, plain_forward, scale_features
from fitness.train import import_tensorflow
from genome import KNOWN_ACTIVATIONS, SearchSpace, decode, random_genome

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow's quiet import)

SPACE = SearchSpace(max_levels=3, max_units=3)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _model(arch, data, n_outputs, task, seed=3):
    return build_model(arch, data.n_features, n_outputs, task, data.feature_mean, data.feature_var, seed)


def _every_activation(build):
    """One network using every activation of the space, batch norm, laterals, skips and dropout."""
    acts = {(0, 0): 0, (0, 1): 1, (0, 2): 4, (1, 0): 3, (2, 0): 2}
    return build(
        SPACE,
        n_levels=3,
        n_units=(3, 1, 1),
        neurons={slot: 2 for slot in acts},
        activation=acts,
        batchnorm=[(0, 1), (1, 0), (2, 0)],
        dropout={(0, 0): 2, (1, 0): 1},
        laterals=[((0, 0), (0, 1))],
        skips=[((0, 2), (2, 0))],
        inputs=[(1, 0)],
        outputs=[(0, 1)],
    )


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_inference_matches_the_keras_model(digits, build, task):
    arch = decode(SPACE, _every_activation(build))
    assert {u.activation for u in arch.units} == set(SPACE.activations)
    n_out = 1 if task == "regression" else 10
    model = _model(arch, digits, n_out, task)
    for layer in model.layers:  # non-trivial moving statistics, so that inference really uses them
        if isinstance(layer, keras.layers.BatchNormalization):
            rng = np.random.default_rng(len(layer.name))
            layer.moving_mean.assign(rng.normal(size=layer.moving_mean.shape).astype("float32"))
            variance = rng.uniform(0.5, 2, size=layer.moving_variance.shape)
            layer.moving_variance.assign(variance.astype("float32"))
    forward, trainable = plain_forward(arch, model)
    x = digits.x_val[:64]
    ours = forward(tf.constant(scale_features(x, digits.feature_mean, digits.feature_var)), False).numpy()
    if task == "classification":
        ours = tf.nn.softmax(ours).numpy()
    np.testing.assert_allclose(ours, model(x, training=False).numpy(), rtol=1e-5, atol=1e-6)
    keras_trainable = {id(getattr(v, "value", v)) for v in model.trainable_variables}
    assert {id(v) for v in trainable} == keras_trainable and len(trainable) == len(keras_trainable)


def test_training_mode_uses_batch_statistics_and_updates_moving_averages_like_keras(digits, build):
    genes = _every_activation(build)
    genes[SPACE.layout.dropout] = 0  # dropout masks are drawn differently by design
    arch = decode(SPACE, genes)
    keras_model, plain_model = (_model(arch, digits, 1, "regression") for _ in range(2))
    forward, _ = plain_forward(arch, plain_model)
    x = digits.x_train[:50]
    scaled = tf.constant(scale_features(x, digits.feature_mean, digits.feature_var))
    for _ in range(2):
        expected = keras_model(x, training=True).numpy()
        np.testing.assert_allclose(forward(scaled, True).numpy(), expected, rtol=1e-4, atol=1e-5)
    for a, b in zip(keras_model.non_trainable_variables, plain_model.non_trainable_variables):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-6, err_msg=a.path)
    assert any(np.any(np.asarray(v) != 0) for v in plain_model.non_trainable_variables if "mean" in v.path)


def test_dropout_masks_follow_the_seed(digits, build):
    arch = decode(SPACE, _every_activation(build))
    forward, _ = plain_forward(arch, _model(arch, digits, 1, "regression"))
    scaled = tf.constant(scale_features(digits.x_train[:50], digits.feature_mean, digits.feature_var))

    def run(seed):
        return forward(scaled, True, tf.constant(seed, dtype=tf.int32)).numpy()

    np.testing.assert_array_equal(run([1, 2]), run([1, 2]))
    assert not np.array_equal(run([1, 2]), run([1, 3]))


def test_random_architectures_match_at_inference(digits):
    rng = np.random.default_rng(5)
    space = SearchSpace()
    x = digits.x_val[:32]
    scaled = tf.constant(scale_features(x, digits.feature_mean, digits.feature_var))
    for _ in range(5):
        arch = decode(space, random_genome(space, rng))
        model = _model(arch, digits, 1, "regression")
        forward, _ = plain_forward(arch, model)
        np.testing.assert_allclose(forward(scaled, False).numpy(), model(x).numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(KNOWN_ACTIVATIONS))
def test_every_activation_a_space_may_name_matches_keras(name):
    x = tf.constant(np.linspace(-4, 4, 101, dtype="float32"))
    expected = keras.activations.get(name)(x)
    np.testing.assert_allclose(_activation(name)(x).numpy(), np.asarray(expected), rtol=1e-5, atol=1e-6)
