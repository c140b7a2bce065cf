"""An ensemble of trained networks as one Keras model: the mean of their outputs.

Regression members predict in the target's units, so the ensemble averages
predictions in those units; classification members end in a softmax, so it
averages class probabilities. The model is functional and made of standard
layers only (the members as sub-models, an ``Average`` layer), so
``keras.models.load_model`` reads it without ``custom_objects``, and
:func:`fitness.export.export_model` puts the raw-row encoding in front of it as
in front of a single network. The test score of an ensemble is
:func:`fitness.evaluate.score_test` given the members' paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import keras

INPUT = "features"
AVERAGE = "average"


def average_models(
    models: Sequence[keras.Model], names: Sequence[str], name: str = "ensemble"
) -> keras.Model:
    """One model taking the encoded rows whose output is the mean of the ``models``' outputs.

    Args:
        models: trained models with the same input width and output shape; they
            are reused as layers (same weights) and renamed ``names`` (Keras needs
            distinct names for sub-models).
        names: one distinct name per model, e.g. ``member_58``.
        name: the ensemble model's name.

    Raises:
        ValueError: no model, names that do not match, or members of different widths.
    """
    import keras

    if not models or len(names) != len(models) or len(set(names)) != len(names):
        raise ValueError("an ensemble needs at least one model and one distinct name per model")
    widths = {m.inputs[0].shape[-1] for m in models}
    if len(widths) != 1:
        raise ValueError(f"ensemble members take different input widths: {sorted(widths)}")
    x = keras.Input(shape=(widths.pop(),), name=INPUT)
    outputs = []
    for model, member in zip(models, names, strict=True):
        model.name = member
        outputs.append(model(x))
    out = outputs[0] if len(outputs) == 1 else keras.layers.Average(name=AVERAGE)(outputs)
    return keras.Model(x, out, name=name)


__all__ = ["AVERAGE", "INPUT", "average_models"]
