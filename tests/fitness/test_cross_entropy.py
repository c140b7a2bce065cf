"""One cross-entropy for training, validation and test: the GPU-deterministic formula equals the kernel."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from evonas.fitness import TrainSettings, evaluate_genome, load_dataset, score_test
from evonas.fitness.evaluate import _logits, log_softmax
from evonas.fitness.runtime import import_tensorflow
from evonas.fitness.trainers.plain import softmax_cross_entropy
from evonas.genome import SearchSpace

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow's quiet import)


@pytest.mark.parametrize("scale", [0.1, 3.0, 40.0])
def test_written_out_cross_entropy_equals_the_fused_kernel(scale):
    """Values and gradients equal TensorFlow's SparseSoftmaxCrossEntropyWithLogits to float32 rounding."""
    rng = np.random.default_rng(int(scale * 10))
    logits = tf.constant((rng.normal(size=(257, 10)) * scale).astype("float32"))
    labels = tf.constant(rng.integers(0, 10, size=257).astype("int64"))
    losses, backprop = softmax_cross_entropy(logits, labels)
    ref_losses, ref_backprop = tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(features=logits, labels=labels)
    np.testing.assert_allclose(losses.numpy(), ref_losses.numpy(), rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(backprop.numpy(), ref_backprop.numpy(), rtol=2e-6, atol=1e-7)
    # and the float64 formula of the test score
    ref = -log_softmax(logits.numpy())[np.arange(257), labels.numpy()]
    np.testing.assert_allclose(losses.numpy(), ref, rtol=2e-6, atol=1e-6)


def test_test_cross_entropy_is_the_log_softmax_of_the_logits_and_equals_the_clipped_formula(tmp_path):
    """score_test reads the saved model's logits; for non-degenerate probabilities nothing changes."""
    data = load_dataset("digits")
    space = SearchSpace(max_levels=1, max_units=1)
    genes = space.layout.low.copy()
    path = tmp_path / "m.keras"
    record = evaluate_genome(space, genes, data, TrainSettings(max_epochs=2, patience=2), 0, str(path))
    assert record["status"] == "ok"
    model = keras.models.load_model(path)
    p = model.predict(data.x_test, verbose=0).astype("float64")
    assert p.min() > 1e-12  # non-degenerate: the clip of the former formula never applied
    y = data.y_test.astype("int64")
    before = float(-np.mean(np.log(np.clip(p, 1e-12, 1.0)[np.arange(len(y)), y])))  # the former formula
    with warnings.catch_warnings(record=True) as caught:  # issue 35: no Keras warning reaches the user
        warnings.simplefilter("always")
        score = score_test(str(path), data)
    assert not [str(w.message) for w in caught if "structure" in str(w.message)]
    assert score["test_loss"] == pytest.approx(before, rel=1e-6)
    assert score["test_accuracy"] == float(np.mean(np.argmax(p, axis=1) == y))
    logits = _logits(model, data.x_test)
    np.testing.assert_allclose(np.exp(log_softmax(logits)), p, rtol=1e-5, atol=1e-7)
