"""Learning-rate schedules and the optimizer a genome's training genes build."""

from __future__ import annotations

import numpy as np
import pytest

from evonas.fitness.model import optimizer_for
from evonas.fitness.runtime import import_tensorflow
from evonas.fitness.schedule import learning_rate, steps_per_epoch
from evonas.genome import Architecture, Unit

tf = import_tensorflow()


def _rates(schedule: str, total: int) -> np.ndarray:
    fn = learning_rate(schedule, 0.01, total)
    return np.array([float(fn(step)) for step in range(total)])


def test_cosine_warms_up_then_decays_to_zero():
    rates = _rates("cosine", 100)
    assert rates[0] == 0.0 and rates[5] == pytest.approx(0.01)  # 5 % warm-up
    assert np.all(np.diff(rates[:6]) > 0) and np.all(np.diff(rates[5:]) < 0)
    assert rates[-1] < 1e-5


def test_onecycle_starts_at_a_25th_and_peaks_at_30_percent():
    rates = _rates("onecycle", 100)
    assert rates[0] == pytest.approx(0.01 / 25)
    assert int(np.argmax(rates)) == 30 and rates.max() == pytest.approx(0.01)
    assert rates[-1] < 1e-5


def test_constant_and_unknown():
    assert learning_rate("constant", 0.003, 10) == 0.003
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        learning_rate("step", 0.003, 10)
    assert steps_per_epoch(100, 32) == 4 and steps_per_epoch(0, 32) == 1


@pytest.mark.parametrize("name", ["adam", "adamw", "rmsprop", "sgd"])
def test_optimizer_for_follows_the_genes(name):
    arch = Architecture(
        (Unit(0, 0, 8, "relu", 0.0, False, ("input",)),), ((0, 0),), name, 1e-3, 32, 0.01, "cosine", 0.0
    )
    opt = optimizer_for(arch, train_rows=320, horizon_epochs=5)
    config = opt.get_config()
    assert config["weight_decay"] == pytest.approx(0.01)
    schedule = config["learning_rate"]["config"]
    assert schedule["warmup_target"] == pytest.approx(1e-3)
    assert schedule["decay_steps"] + schedule["warmup_steps"] == 5 * 10  # 5 epochs of 10 batches
    plain = Architecture(arch.units, arch.outputs, name, 1e-3, 32)
    config = optimizer_for(plain, 320, 5).get_config()
    assert config["learning_rate"] == pytest.approx(1e-3)
    assert config["weight_decay"] == (pytest.approx(0.004) if name == "adamw" else None)
