"""The plain TensorFlow network computes what the Keras model does; its written-out gradients are right."""

from __future__ import annotations

import numpy as np
import pytest

from evonas.fitness import build_model, load_dataset
from evonas.fitness.embedding import encode
from evonas.fitness.embedding import width as embedding_width
from evonas.fitness.model import make_optimizer
from evonas.fitness.runtime import import_tensorflow
from evonas.fitness.trainers.compiled import FlatBuffer, FlatTraining
from evonas.fitness.trainers.plain import PlainNetwork, _activation, scale_features, times_transposed
from evonas.genome import KNOWN_ACTIVATIONS, SearchSpace, decode, random_genome
from tests.conftest import assert_float32_close

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow's quiet import)

SPACE = SearchSpace(max_levels=3, max_units=3)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _model(arch, data, n_outputs, task, seed=3):
    return build_model(
        arch, data.n_features, n_outputs, task, data.feature_mean, data.feature_var, seed, data.ple_bins
    )


def _width(arch, data):
    """The width of what the units read as input: the scaled features and, for ``ple``, their encoding."""
    return data.n_features + (embedding_width(data.ple_bins) if arch.embedding == "ple" else 0)


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


def _values(variables) -> list:
    return [tf.constant(np.asarray(v)) for v in variables]


def _scaled(data, x, arch=None):
    scaled = scale_features(x, data.feature_mean, data.feature_var)
    if arch is not None and arch.embedding == "ple":
        scaled = encode(scaled, data.ple_bins)
    return tf.constant(scaled)


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
    net = PlainNetwork(arch, model, _width(arch, digits))
    x = digits.x_val[:64]
    ours = net.logits(_values(net.weights), _values(net.stats), _scaled(digits, x, arch)).numpy()
    if task == "classification":
        ours = tf.nn.softmax(ours).numpy()
    np.testing.assert_allclose(ours, model(x, training=False).numpy(), rtol=1e-5, atol=1e-6)
    assert len(net.weights) == len(model.trainable_variables)
    assert {id(v) for v in net.weights} == {id(v) for v in model.trainable_variables}
    assert {id(v) for v in net.stats} == {id(v) for v in model.non_trainable_variables if "moving" in v.path}


def test_training_mode_uses_batch_statistics_and_updates_moving_averages_like_keras(digits, build):
    genes = _every_activation(build)
    genes[SPACE.layout.dropout] = 0  # dropout masks are drawn differently by design
    arch = decode(SPACE, genes)
    keras_model, plain_model = (_model(arch, digits, 1, "regression") for _ in range(2))
    net = PlainNetwork(arch, plain_model, _width(arch, digits))
    flat = FlatTraining(net, make_optimizer("adam", 1e-3))
    x = digits.x_train[:50]
    y = tf.constant(np.zeros(50, dtype="float32"))
    seed = tf.constant([0, 0])
    for _ in range(2):  # the trainer's step without the weight update: batch statistics, moving averages
        expected = keras_model(x, training=True).numpy()
        logits = net.forward(*flat.views(), _scaled(digits, x, arch), {})[0]
        np.testing.assert_allclose(logits.numpy(), expected, rtol=1e-4, atol=1e-5)
        flat.gradient(_scaled(digits, x, arch), y, seed, False)
    flat.store(flat.params.numpy(), flat.moving.numpy())
    for a, b in zip(keras_model.non_trainable_variables, plain_model.non_trainable_variables):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-6, err_msg=a.path)
    assert any(np.any(np.asarray(v) != 0) for v in plain_model.non_trainable_variables if "mean" in v.path)


def _tape_gradients(net, w, s, x, y, masks, classify):
    """The reference: ``tf.GradientTape`` through the same forward pass and loss."""
    with tf.GradientTape() as tape:
        tape.watch(w)
        logits = net.forward(w, s, x, masks)[0]
        if classify:  # TensorFlow's dense-label kernel on the smoothed one-hot target
            e, k = net.label_smoothing, logits.shape[1]
            target = tf.one_hot(y, k) * (1.0 - e) + e / k
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=target, logits=logits))
        else:
            loss = tf.reduce_mean(tf.square(logits[:, 0] - y))
    return loss, tape.gradient(loss, w)


def _check_gradients(arch, data, task, rows=40, seed=(3, 4)):
    n_out = 1 if task == "regression" else 10
    model = _model(arch, data, n_out, task)
    net = PlainNetwork(arch, model, _width(arch, data))
    w, s = _values(net.weights), _values(net.stats)
    x = _scaled(data, data.x_train[:rows], arch)
    if task == "regression":
        y = tf.constant(np.random.default_rng(0).normal(size=rows).astype("float32"))
    else:
        y = tf.constant(data.y_train[:rows])
    seed = tf.constant(seed, dtype=tf.int32)
    classify = task == "classification"
    loss, grads, _ = net.loss_and_gradients(w, s, x, y, seed, classify)
    expected_loss, expected = _tape_gradients(net, w, s, x, y, net.dropout_masks(rows, seed), classify)
    assert_float32_close(loss.numpy(), expected_loss.numpy())
    assert len(grads) == len(expected) == len(w)
    for k, (ours, ref) in enumerate(zip(grads, expected)):
        assert ours.shape == ref.shape, k
        scale = float(np.abs(ref.numpy()).max()) + 1e-6
        np.testing.assert_allclose(
            ours.numpy(), ref.numpy(), rtol=1e-3, atol=1e-5 * scale, err_msg=f"weight {k}"
        )
    return grads


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_written_out_gradients_match_the_tape(digits, build, task):
    """Every activation, batch norm, dropout, laterals, skips, extra inputs and outputs."""
    arch = decode(SPACE, _every_activation(build))
    assert any(u.dropout for u in arch.units) and any(u.batchnorm for u in arch.units)
    grads = _check_gradients(arch, digits, task)
    assert all(float(np.abs(g.numpy()).max()) > 0 for g in grads)  # nothing trivially zero


@pytest.mark.parametrize(
    ("batch", "rows", "columns"), [(32, 322, 512), (128, 256, 128), (256, 322, 512), (32, 64, 128), (5, 1, 1)]
)
def test_input_gradient_product_is_dz_times_the_transposed_kernel(batch, rows, columns):
    """Both forms (chosen by batch size and kernel shape) compute ``dz @ kernel^T``."""
    rng = np.random.default_rng(batch + rows)
    dz = rng.normal(size=(batch, columns)).astype("float32")
    kernel = rng.normal(size=(rows, columns)).astype("float32")
    ours = times_transposed(tf.constant(dz), tf.constant(kernel), batch).numpy()
    assert ours.shape == (batch, rows)
    np.testing.assert_allclose(ours, dz.astype("float64") @ kernel.T.astype("float64"), rtol=1e-4, atol=1e-3)


def test_written_out_gradients_match_the_tape_on_random_architectures(digits):
    rng = np.random.default_rng(11)
    space = SearchSpace()
    for k in range(6):
        arch = decode(space, random_genome(space, rng))
        _check_gradients(arch, digits, ("regression", "classification")[k % 2], seed=(k, 9))


def test_dropout_masks_follow_the_seed_and_the_rate(digits, build):
    arch = decode(SPACE, _every_activation(build))
    net = PlainNetwork(arch, _model(arch, digits, 1, "regression"), _width(arch, digits))

    def masks(seed, rows=4000):
        return {j: m.numpy() for j, m in net.dropout_masks(rows, tf.constant(seed, dtype=tf.int32)).items()}

    first, again, other = masks([1, 2]), masks([1, 2]), masks([1, 3])
    assert set(first) == {j for j, u in enumerate(arch.units) if u.dropout > 0}
    for j, mask in first.items():
        rate = arch.units[j].dropout
        np.testing.assert_array_equal(mask, again[j])
        assert not np.array_equal(mask, other[j])
        assert mask.shape == (4000, arch.units[j].neurons)
        np.testing.assert_allclose(np.unique(mask), [0.0, 1 / (1 - rate)], rtol=1e-4)
        assert abs(float(np.mean(mask == 0)) - rate) < 0.03  # 8,000 draws: the dropped share is the rate


def test_flat_buffer_views_and_packs_every_layout():
    shapes = [(7, 5), (16,), (4, 8), (3,), (32, 2), (5,)]  # sizes 35, 16, 32, 3, 64, 5: aligned and not
    buffer = FlatBuffer(shapes)
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=shape).astype("float32") for shape in shapes]
    flat = buffer.pack_numpy(arrays)
    assert flat.shape == (160,) and not flat[155:].any()  # 155 floats, zero-padded to a multiple of 16
    assert buffer.starts[1] % 16 == 0 and buffer.starts[2] % 16 == 0 and buffer.starts[4] % 16 == 0
    for ours, array in zip(buffer.unpack_numpy(flat), arrays):
        np.testing.assert_array_equal(ours, array)
    views = buffer.views(tf.constant(flat))
    for view, array in zip(views, arrays):
        np.testing.assert_array_equal(view.numpy(), array)
    np.testing.assert_array_equal(buffer.pack([tf.constant(a) for a in arrays]).numpy(), flat)
    single = FlatBuffer([(3,)])
    np.testing.assert_array_equal(
        single.views(tf.constant([1.0, 2.0, 3.0] + [0.0] * 13))[0].numpy(), [1, 2, 3]
    )
    assert FlatBuffer([(2, 8)]).views(tf.ones([16]))[0].shape == (2, 8)
    assert FlatBuffer([]).views(tf.zeros([0])) == []


def test_random_architectures_match_at_inference(digits):
    rng = np.random.default_rng(5)
    space = SearchSpace()
    x = digits.x_val[:32]
    for _ in range(5):
        arch = decode(space, random_genome(space, rng))
        model = _model(arch, digits, 1, "regression")
        net = PlainNetwork(arch, model, _width(arch, digits))
        ours = net.logits(_values(net.weights), _values(net.stats), _scaled(digits, x, arch)).numpy()
        np.testing.assert_allclose(ours, model(x).numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(KNOWN_ACTIVATIONS))
def test_every_activation_a_space_may_name_matches_keras(name):
    x = tf.constant(np.linspace(-4, 4, 101, dtype="float32"))
    expected = keras.activations.get(name)(x)
    np.testing.assert_allclose(_activation(name)(x).numpy(), np.asarray(expected), rtol=1e-5, atol=1e-6)
