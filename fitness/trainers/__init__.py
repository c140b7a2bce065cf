"""The trainers: how a built Keras model of an architecture is trained, one backend each, by name.

- ``compiled`` (:mod:`.compiled`, the default): the whole training in one compiled TensorFlow
  call, the network's forward and backward passes written out by hand (:mod:`.plain`) over one
  flat weight buffer updated by TensorFlow's fused optimizer kernels (:mod:`.fused`). Dense
  lattices only.
- ``keras`` (:mod:`.keras_fit`): Keras ``compile``/``fit`` with early stopping, the reference,
  and what trains every architecture the compiled trainer does not support (conv genomes).

Every trainer has one signature, ``train(model, arch, optimizer, data, max_epochs, patience,
seed, restore_best) -> history`` (``loss``, ``val_loss`` and, for classification,
``val_accuracy`` per epoch), and leaves the best epoch's weights in ``model`` when
``restore_best``. ``training.trainer`` names one (:data:`fitness.settings.TRAINERS`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evonas.fitness.trainers.compiled import compiled_supports, train_compiled
from evonas.fitness.trainers.keras_fit import train_keras
from evonas.genome import Architecture

Trainer = Callable[..., dict[str, list[float]]]

TRAINERS: dict[str, Trainer] = {"compiled": train_compiled, "keras": train_keras}


def trainer_for(arch: Architecture, trainer: str) -> str:
    """The trainer that trains ``arch`` when ``training.trainer`` is ``trainer``: ``"keras"`` for an
    architecture the compiled trainer does not support (:func:`.compiled.compiled_supports`)."""
    if trainer == "compiled" and compiled_supports(arch) is not None:
        return "keras"
    return trainer


def train(trainer: str, model: Any, arch: Architecture, *args: Any) -> dict[str, list[float]]:
    """Train ``model`` (of ``arch``) with the trainer :func:`trainer_for` picks; ``args``: the optimizer,
    the data, max_epochs, patience, seed, restore_best."""
    return TRAINERS[trainer_for(arch, trainer)](model, arch, *args)


__all__ = ["TRAINERS", "Trainer", "train", "trainer_for"]
