"""The fused optimizer kernels perform the same updates as the Keras optimizers they stand for."""

from __future__ import annotations

import numpy as np
import pytest

from evonas.fitness.model import make_optimizer
from evonas.fitness.runtime import import_tensorflow
from evonas.fitness.trainers.fused import fused_updater


def _variables(tf, seed: int) -> list:
    rng = np.random.default_rng(seed)
    return [tf.Variable(rng.normal(size=shape).astype("float32")) for shape in ((7, 5), (5,), (5, 1))]


@pytest.mark.parametrize(
    ("name", "schedule", "decay"),
    [
        ("adam", "constant", 0.0),
        ("adamw", "constant", 0.0),
        ("rmsprop", "constant", 0.0),
        ("sgd", "constant", 0.0),
        ("adam", "cosine", 0.1),
        ("adamw", "onecycle", 0.01),
        ("rmsprop", "onecycle", 0.1),
        ("sgd", "cosine", 0.1),
    ],
)
def test_fused_updates_match_keras_step_by_step(name, schedule, decay):
    """Each rule, with the schedules (over 8 updates: warm-up and decay both run) and weight decay."""
    from evonas.fitness.schedule import learning_rate

    tf = import_tensorflow()
    keras_vars, fused_vars = _variables(tf, 0), _variables(tf, 0)
    keras_opt = make_optimizer(name, learning_rate(schedule, 3e-2, 8), decay)
    keras_opt.build(keras_vars)
    apply = fused_updater(make_optimizer(name, learning_rate(schedule, 3e-2, 8), decay), fused_vars)
    assert apply is not None
    step = tf.function(lambda grads: apply(grads))
    rng = np.random.default_rng(1)
    for _ in range(6):
        grads = [tf.constant(rng.normal(size=v.shape).astype("float32")) for v in keras_vars]
        keras_opt.apply_gradients(zip(grads, keras_vars))
        step(grads)
        for a, b in zip(keras_vars, fused_vars):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-5, atol=2e-6)
    moved = sum(float(np.abs(a.numpy() - b.numpy()).sum()) for a, b in zip(_variables(tf, 0), fused_vars))
    assert moved > 0.1  # the updates really happened


def test_unsupported_settings_fall_back_to_keras():
    tf = import_tensorflow()
    import keras

    variables = _variables(tf, 0)
    opts = keras.optimizers
    for optimizer in (
        opts.Adam(1e-3, amsgrad=True),
        opts.SGD(1e-2, momentum=0.9, nesterov=True),
        opts.SGD(1e-2),
        opts.RMSprop(1e-3, centered=True),
        opts.Adam(1e-3, clipnorm=1.0),
        opts.Adagrad(1e-2),
    ):
        assert fused_updater(optimizer, variables) is None, optimizer


def test_a_candidate_trains_with_an_optimizer_that_has_no_fused_kernel():
    """The trainer's fallback: the Keras optimizer itself updates the model's variables."""
    tf = import_tensorflow()  # noqa: F841  (quiet import first)
    import keras

    from evonas.fitness import build_model, load_dataset
    from evonas.fitness.trainers.compiled import train_compiled
    from evonas.genome import SearchSpace, decode, random_genome

    data = load_dataset("digits")
    space = SearchSpace(max_levels=2, max_units=2)
    arch = decode(space, random_genome(space, np.random.default_rng(1)))
    model = build_model(arch, data.n_features, data.n_outputs, data.task, data.feature_mean, data.feature_var)
    before = [w.copy() for w in model.get_weights()]
    optimizer = keras.optimizers.SGD(0.01)  # no momentum: no fused kernel
    assert fused_updater(optimizer, model.trainable_variables) is None
    history = train_compiled(model, arch, optimizer, data, max_epochs=3, patience=3, seed=0)
    assert len(history["loss"]) == 3 and all(np.isfinite(history["val_loss"]))
    assert history["loss"][-1] < history["loss"][0]
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
