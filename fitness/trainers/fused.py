"""Keras optimizers applied with TensorFlow's fused training kernels.

A Keras 3 optimizer updates each variable with about ten separate graph
operations (and as many variable reads). Inside a compiled training loop that
is most of the graph: for a six-unit candidate, 1,060 of the 1,817 operations
of one training step, and about half of the time spent tracing it. TensorFlow
has one fused kernel per variable for the same update rules
(``ResourceApplyAdam``, ``ResourceApplyRMSProp``, ``ResourceApplyKerasMomentum``),
so :func:`fused_updater` reads the settings of a Keras optimizer and returns an
``apply(grads)`` that performs the same update with them:

- Adam / AdamW: ``m += (g - m)(1 - b1)``, ``v += (g^2 - v)(1 - b2)``,
  ``var -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)``;
- RMSprop (not centred, no momentum): ``ms = rho ms + (1 - rho) g^2``,
  ``var -= lr g / sqrt(ms + eps)``;
- SGD with momentum (not Nesterov): ``m = momentum m - lr g``, ``var += m``.

A weight decay (any optimizer: Keras' decoupled decay, ``var -= var * wd * lr``)
is applied first, as Keras does (here ``var *= 1 - wd * lr``, one pass over the
weights instead of two). A learning-rate schedule (:mod:`fitness.schedule`) is
the optimizer's own Keras schedule object, called with the number of updates
made so far, as Keras calls it; the decay uses the same scheduled rate.

Any other optimizer or setting (clipping, EMA, amsgrad, Nesterov...) returns
``None``, and the trainer falls back to the Keras optimizer itself. A test
checks the fused updates against Keras, step by step, for each rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_UNSUPPORTED = ("clipnorm", "clipvalue", "global_clipnorm", "use_ema", "loss_scale_factor", "amsgrad")


def _tf_variable(variable: Any) -> Any:
    """The ``tf.Variable`` behind a Keras variable (or the variable itself)."""
    import keras

    return variable.value if isinstance(variable, keras.Variable) else variable


def fused_updater(optimizer: Any, variables: list) -> Callable[[list], None] | None:
    """``apply(grads)`` performing ``optimizer``'s update with fused kernels, or None if unsupported.

    The slot variables (moments, step counter) are created here, zero as in a
    fresh Keras optimizer; call this once per model, outside any ``tf.function``.
    """
    import keras
    import tensorflow as tf

    config = optimizer.get_config()
    if any(config.get(key) for key in _UNSUPPORTED) or config.get("gradient_accumulation_steps"):
        return None
    kind = type(optimizer).__name__
    rate = config.get("learning_rate")
    schedule = None if isinstance(rate, (int, float)) else keras.optimizers.schedules.deserialize(rate)
    decay = float(config.get("weight_decay") or 0.0)
    targets = [_tf_variable(v) for v in variables]
    updates = tf.Variable(0.0, trainable=False)  # updates made so far (Keras' ``iterations``)

    def slots() -> list:
        return [tf.Variable(tf.zeros_like(v), trainable=False) for v in targets]

    def count() -> tuple[Any, Any]:
        """``(this update's rate, its number t from 1)``; counts the update (once per step, first)."""
        t = updates.assign_add(1.0)
        if schedule is None:
            return tf.constant(float(rate)), t
        return tf.cast(schedule(t - 1.0), tf.float32), t

    def weight_decay(grads: list, lr: Any) -> None:
        if not decay:
            return
        keep = 1.0 - decay * lr
        for var, grad in zip(targets, grads):
            # after the gradient exists: the forward pass may still read the variable's buffer
            # before that, and writing it then would make TensorFlow copy it first
            with tf.control_dependencies([grad]):
                var.assign(var * keep)

    if kind in ("Adam", "AdamW"):
        b1, b2 = float(config["beta_1"]), float(config["beta_2"])
        eps = tf.constant(float(config["epsilon"]))
        ms, vs = slots(), slots()

        def apply_adam(grads: list) -> None:
            lr, t = count()
            b1_power, b2_power = tf.pow(b1, t), tf.pow(b2, t)
            beta1, beta2 = tf.constant(b1), tf.constant(b2)  # one constant each per graph, not per variable
            weight_decay(grads, lr)
            for var, grad, m, v in zip(targets, grads, ms, vs):
                tf.raw_ops.ResourceApplyAdam(
                    var=var.handle,
                    m=m.handle,
                    v=v.handle,
                    beta1_power=b1_power,
                    beta2_power=b2_power,
                    lr=lr,
                    beta1=beta1,
                    beta2=beta2,
                    epsilon=eps,
                    grad=grad,
                )

        return apply_adam
    if kind == "RMSprop":
        if config.get("centered") or config.get("momentum"):
            return None
        rho, eps = tf.constant(float(config["rho"])), tf.constant(float(config["epsilon"]))
        mss, moms = slots(), slots()
        zero = tf.constant(0.0)

        def apply_rmsprop(grads: list) -> None:
            lr, _ = count()
            weight_decay(grads, lr)
            for var, grad, ms, mom in zip(targets, grads, mss, moms):
                tf.raw_ops.ResourceApplyRMSProp(
                    var=var.handle,
                    ms=ms.handle,
                    mom=mom.handle,
                    lr=lr,
                    rho=rho,
                    momentum=zero,
                    epsilon=eps,
                    grad=grad,
                )

        return apply_rmsprop
    if kind == "SGD":
        if config.get("nesterov") or not config.get("momentum"):
            return None
        momentum = tf.constant(float(config["momentum"]))
        accums = slots()

        def apply_sgd(grads: list) -> None:
            lr, _ = count()
            weight_decay(grads, lr)
            for var, grad, accum in zip(targets, grads, accums):
                tf.raw_ops.ResourceApplyKerasMomentum(
                    var=var.handle, accum=accum.handle, lr=lr, grad=grad, momentum=momentum
                )

        return apply_sgd
    return None
