"""How each candidate is trained: the ``[training]`` table of a run (frozen, validated on load)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

TRAINERS = ("compiled", "keras")  # the values of ``training.trainer``


class SettingsError(ValueError):
    """Invalid training setting (one clear line naming the key)."""


@dataclass(frozen=True)
class TrainSettings:
    """How each candidate is trained.

    Attributes:
        max_epochs: Epoch cap per candidate.
        patience: Epochs without improvement of the validation loss before stopping
            (the best weights are restored).
        tf_threads: TensorFlow threads per worker. Fixed (not derived from the
            machine) so that results do not depend on where a candidate runs.
        trainer: ``"compiled"`` (the default: the whole training in one compiled
            TensorFlow call, :mod:`fitness.trainers.compiled`) or ``"keras"`` (the reference:
            ``model.fit`` with early stopping, :mod:`fitness.trainers.keras_fit`, slower).
            An architecture the compiled trainer does not support trains with Keras
            either way.
        smearing: with a log target (``data.target_transform``), multiply each trained
            network's predictions (``exp`` of its output, before ``- 1``) by Duan's (1983)
            smearing factor, the mean of ``exp`` of its residuals on the rows it was trained
            on: ``exp`` of the mean log is the median, not the mean, and the RMSE scores the
            mean. The factor is fitted on the train rows (the refit's: train+val), recorded
            as ``smear``, and part of the saved model. False (the default) leaves predictions
            as they were.
    """

    max_epochs: int = 30
    patience: int = 4
    tf_threads: int = 1
    trainer: str = "compiled"
    smearing: bool = False

    def __post_init__(self) -> None:
        for name in ("max_epochs", "patience", "tf_threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SettingsError(f"training.{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.smearing, bool):
            raise SettingsError(f"training.smearing must be true or false, got {self.smearing!r}")
        if self.trainer not in TRAINERS:
            raise SettingsError(
                f"training.trainer must be one of {', '.join(map(repr, TRAINERS))}, got {self.trainer!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainSettings:
        known = set(cls.__dataclass_fields__)
        for k in d:
            if k not in known:
                raise SettingsError(f"unknown key 'training.{k}' (known: {', '.join(sorted(known))})")
        return cls(**dict(d))


__all__ = ["TRAINERS", "SettingsError", "TrainSettings"]
