"""The cost model behind longest-first: roughly how long one candidate takes to train."""

from __future__ import annotations

import math

import numpy as np

from evonas.fitness.data import Dataset
from evonas.fitness.settings import TrainSettings
from evonas.genome import SearchSpace, decode
from evonas.genome.conv import conv_macs


def estimated_seconds(space: SearchSpace, genes: np.ndarray, data: Dataset, settings: TrainSettings) -> float:
    """Roughly how long evaluating ``genes`` takes on one CPU thread, to start the longest candidates first.

    Early stopping makes the number of epochs unknown, so this assumes
    ``settings.max_epochs``; what matters is the order it puts candidates in,
    not the seconds. Per epoch: the matrix products (parameters x training
    rows), the per-step work on every weight (optimizer update, gradients:
    parameters x steps) and a little per step; plus a fixed part (build, trace,
    score). The coefficients were fitted by least squares on the 38 trained
    candidates of ``benchmarks/train_speed.py --part throughput`` (2-core AMD
    EPYC, 2026-12-01): with their real epochs, the estimate's correlation with
    the measured seconds was 0.98. A candidate over ``max_params`` is rejected
    before it trains: 0. Conv levels add their multiply-adds per image (forward
    and backward: about three times the forward's) at ~2.5e-10 s each on one
    thread, from two conv genomes timed on mnist5k.
    """
    arch = decode(space, genes)
    params = data.n_params(arch)
    if params > space.max_params:
        return 0.0
    rows = len(data.x_train)
    steps = math.ceil(rows / arch.batch_size)
    per_epoch = 8.6e-11 * params * rows + 1.8e-9 * params * steps + 1.0e-5 * steps
    if arch.conv and data.image_shape is not None:
        per_epoch += 2.5e-10 * conv_macs(arch.conv, data.image_shape) * rows
    return 0.46 + settings.max_epochs * per_epoch


__all__ = ["estimated_seconds"]
