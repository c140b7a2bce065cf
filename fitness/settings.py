"""How each candidate is trained: the ``[training]`` table of a run (frozen, validated on load)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

TRAINERS = ("compiled", "keras")  # the values of ``training.trainer``
# a large table: a training fits this many rows or more. There training.smearing = "auto" smears (better
# than off on both large tables, 6 of 6 seeds; worse on ames in 2 of 3 and sacramento in 1 of 1) and an
# unset search.textbook starts from the textbook network (evolve.config; docs/benchmarks.md, large tables)
LARGE_ROWS = 10_000


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
            as ``smear``, and part of the saved model. ``"auto"`` (the default): on where a
            training fits :data:`LARGE_ROWS` rows or more (a run decides once, from its data,
            and saves true or false, :meth:`for_rows`; a direct call of
            :func:`fitness.evaluate_genome` decides from the rows it is given). False leaves
            predictions as they are.
    """

    max_epochs: int = 30
    patience: int = 4
    tf_threads: int = 1
    trainer: str = "compiled"
    smearing: bool | str = "auto"

    def __post_init__(self) -> None:
        for name in ("max_epochs", "patience", "tf_threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SettingsError(f"training.{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.smearing, bool) and self.smearing != "auto":
            raise SettingsError(f'training.smearing must be true, false or "auto", got {self.smearing!r}')
        if self.trainer not in TRAINERS:
            raise SettingsError(
                f"training.trainer must be one of {', '.join(map(repr, TRAINERS))}, got {self.trainer!r}"
            )

    def smears(self, rows: int) -> bool:
        """Whether a training that fits ``rows`` rows multiplies its predictions by the smearing factor."""
        return self.smearing if isinstance(self.smearing, bool) else rows >= LARGE_ROWS

    def for_rows(self, rows: int) -> TrainSettings:
        """The settings of a run whose trainings fit ``rows`` rows: ``smearing = "auto"`` decided."""
        return self if isinstance(self.smearing, bool) else replace(self, smearing=self.smears(rows))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainSettings:
        known = set(cls.__dataclass_fields__)
        for k in d:
            if k not in known:
                raise SettingsError(f"unknown key 'training.{k}' (known: {', '.join(sorted(known))})")
        return cls(**dict(d))


__all__ = ["LARGE_ROWS", "TRAINERS", "SettingsError", "TrainSettings"]
