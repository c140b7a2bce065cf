"""Run-level value transforms, fitted on the train rows: numeric features (``data.numeric_transform``)
and the regression target (``data.target_transform``).

Numeric features (applied by :class:`fitness.encoder.Encoder` after the median
imputation, to the numeric columns only; the model's ``Normalization`` layer
then standardises the result):

* ``"standard"``: the value as is.
* ``"robust"`` (RealMLP's robust scaling and smooth clipping, Holzmueller et al. 2024):
  ``u = (x - median) / spread``, ``spread`` the train interquartile range, else
  half the train range, else 1 (a constant column); then
  ``u / sqrt(1 + (u / 3) ** 2)``, which is ``u`` near 0 and tends to +-3.
* ``"quantile"`` (quantile-normal): the train quantiles ``q_k`` at ``K`` evenly
  spaced probabilities ``p_k`` (``K = max(min(n_train // 30, 1000), 10)``, the
  rule of the rtdl / TabM baselines) and their normal scores
  ``z_k = Phi^-1(p_k)`` clipped at +-5; equal quantiles (ties) merge into one
  knot whose score is ``Phi^-1`` of their mean probability (a constant column
  maps to 0). A value is mapped by linear interpolation between the knots
  ``(q_k, z_k)``, and clamped to the first / last score outside them. This is
  piecewise linear (``numpy.interp``), so the exported model computes it
  exactly with ReLU layers (:mod:`fitness.export`); it differs from
  ``Phi^-1(interpolated CDF)`` only between knots.

Target (regression only; the :class:`fitness.data.Dataset` keeps ``y`` in user
units and the trainers learn :meth:`fitness.data.Dataset.model_targets`):

* ``"none"``: ``y``; ``"log"``: ``log1p(y)``, which needs ``y >= 0`` on the train rows;
* ``"auto"``: ``"log"`` when every train target is ``>= 0`` and its train
  skewness exceeds :data:`LOG_SKEW` (1.0, the usual "highly skewed" rule of
  thumb: Ames' price has 1.7; a symmetric target 0), else ``"none"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evonas.fitness.validate import DataError

NUMERIC_TRANSFORMS = ("standard", "robust", "quantile")
TARGET_TRANSFORMS = ("auto", "none", "log")
SMOOTH_CLIP = 3.0  # robust: |output| < 3
QUANTILE_CLIP = 5.0  # quantile: normal scores within +-5
MAX_QUANTILES = 1000
LOG_SKEW = 1.0  # auto: log1p when the train target's skewness exceeds this


# -- numeric features ------------------------------------------------------------------
def fit_robust(values: np.ndarray) -> tuple[float, float]:
    """``(centre, spread)`` of one train column (finite values): the median and the IQR (see the module)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return 0.0, 1.0
    q0, q25, q50, q75, q100 = np.quantile(v, [0.0, 0.25, 0.5, 0.75, 1.0])
    spread = q75 - q25
    if not spread > 0:
        spread = (q100 - q0) / 2
    if not spread > 0 or not np.isfinite(spread):
        spread = 1.0
    return float(q50), float(spread)


def smooth_clip(u: np.ndarray) -> np.ndarray:
    """``u / sqrt(1 + (u / 3) ** 2)`` (no overflow for huge ``u``)."""
    u = np.asarray(u, dtype=np.float64)
    return u / np.hypot(1.0, u / SMOOTH_CLIP)


def apply_robust(x: np.ndarray, centre: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Robust scaling and smooth clipping of ``x`` (columns broadcast against ``centre`` / ``spread``)."""
    return smooth_clip((np.asarray(x, dtype=np.float64) - centre) / spread)


def n_quantiles(n_rows: int) -> int:
    """How many train quantiles a quantile-normal column keeps: ``max(min(n // 30, 1000), 10)``."""
    return max(min(n_rows // 30, MAX_QUANTILES), 10)


def fit_quantile(values: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The knots ``(quantiles, normal scores)`` of one train column (finite values; see the module)."""
    from scipy.special import ndtri

    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return (0.0,), (0.0,)
    probs = np.linspace(0.0, 1.0, n_quantiles(len(v)))
    quantiles = np.quantile(v, probs)
    knots, starts = np.unique(quantiles, return_index=True)  # sorted; ties merged
    ends = np.append(starts[1:], len(quantiles))
    mean_prob = np.array([probs[a:b].mean() for a, b in zip(starts, ends, strict=True)])
    with np.errstate(divide="ignore"):
        scores = np.clip(ndtri(mean_prob), -QUANTILE_CLIP, QUANTILE_CLIP)
    if len(knots) == 1:
        scores = np.zeros(1)
    return tuple(map(float, knots)), tuple(map(float, scores))


def apply_quantile(x: np.ndarray, knots: tuple[float, ...], scores: tuple[float, ...]) -> np.ndarray:
    """Quantile-normal scores of one column ``x``: linear interpolation between the knots, clamped."""
    return np.interp(np.asarray(x, dtype=np.float64), np.asarray(knots), np.asarray(scores))


def check_numeric_transform(name: str) -> None:
    if name not in NUMERIC_TRANSFORMS:
        raise DataError(f"unknown data.numeric_transform {name!r}: use {', '.join(NUMERIC_TRANSFORMS)}")


# -- the target ---------------------------------------------------------------------------
def skewness(y: np.ndarray) -> float:
    """The (population) skewness ``mean((y - mean)^3) / std^3``; 0 for a constant target."""
    y = np.asarray(y, dtype=np.float64)
    std = float(np.std(y))
    if len(y) == 0 or std == 0:
        return 0.0
    return float(np.mean((y - y.mean()) ** 3) / std**3)


def choose_target_transform(setting: str, y_train: np.ndarray, task: str) -> tuple[str, dict[str, Any]]:
    """The transform a regression target gets, and the facts behind it (for the audit).

    Args:
        setting: ``data.target_transform`` (``"auto"``, ``"none"`` or ``"log"``).
        y_train: the train targets, in user units.
        task: ``"regression"`` or ``"classification"`` (always ``"none"``).

    Raises:
        DataError: an unknown setting, or ``"log"`` with a negative train target.
    """
    if setting not in TARGET_TRANSFORMS:
        raise DataError(f"unknown data.target_transform {setting!r}: use {', '.join(TARGET_TRANSFORMS)}")
    if task != "regression":
        return "none", {"setting": setting, "chosen": "none", "reason": "classification"}
    y = np.asarray(y_train, dtype=np.float64)
    low, skew = float(np.min(y)), skewness(y)
    facts: dict[str, Any] = {"setting": setting, "train_min": low, "train_skewness": round(skew, 4)}
    if setting == "log" and low < 0:
        raise DataError(
            f"data.target_transform = 'log' needs a target >= 0, but a train target is {low:g}: "
            "use 'none' or 'auto'"
        )
    if setting == "auto":
        chosen = "log" if low >= 0 and skew > LOG_SKEW else "none"
        facts["rule"] = f"log when every train target >= 0 and train skewness > {LOG_SKEW}"
    else:
        chosen = setting
    facts["chosen"] = chosen
    return chosen, facts


def to_model_space(y: np.ndarray, transform: str) -> np.ndarray:
    """The target as the model learns it, before standardisation (float64).

    ``"log"``: ``log1p(max(y, 0))``; a negative value can only be on a val or
    test row (train rows were checked) and counts as 0 in the transformed loss.
    """
    y = np.asarray(y, dtype=np.float64)
    return np.log1p(np.maximum(y, 0.0)) if transform == "log" else y


def from_model_space(z: np.ndarray, transform: str) -> np.ndarray:
    """The inverse of :func:`to_model_space` (float64): ``expm1`` for ``"log"``."""
    z = np.asarray(z, dtype=np.float64)
    if transform != "log":
        return z
    with np.errstate(over="ignore"):
        return np.expm1(z)


__all__ = [
    "LOG_SKEW",
    "NUMERIC_TRANSFORMS",
    "QUANTILE_CLIP",
    "SMOOTH_CLIP",
    "TARGET_TRANSFORMS",
    "apply_quantile",
    "apply_robust",
    "check_numeric_transform",
    "choose_target_transform",
    "fit_quantile",
    "fit_robust",
    "from_model_space",
    "n_quantiles",
    "skewness",
    "smooth_clip",
    "to_model_space",
]
