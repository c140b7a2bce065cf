"""Which trainer for conv genomes: Keras ``fit`` against a whole epoch in one compiled TensorFlow call.

The compiled trainer of evonas (:mod:`fitness.trainers.compiled`) wins on small Dense
networks by removing ``fit``'s per-step Python overhead and by writing the
backward pass out. Conv levels have no written-out form, so the question is
whether the first half alone would pay on image genomes. Per genome, on the
same model, data, batches and optimizer:

- ``fit``: :func:`fitness.trainers.keras_fit.train_keras`, what an image search runs;
- ``compiled``: one ``tf.function`` per epoch (an explicit ``tf.while_loop`` over the
  shuffled mini-batches, ``GradientTape`` through the Keras model, the optimizer's
  ``apply``), tracing included, as the compiled trainer would pay it per candidate.

Prints seconds per genome and the ratio ``fit / compiled``; no early stopping
(both run the same epochs).

    .venv/bin/python -m benchmarks.conv_trainer --genomes 4 --epochs 3
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--genomes", type=int, default=4, help="the textbook genome and random ones")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from evonas.evolve.config import RunConfig
    from evonas.fitness.data import load_dataset
    from evonas.fitness.model import build_model, optimizer_for
    from evonas.fitness.runtime import configure_tensorflow
    from evonas.fitness.trainers.keras_fit import train_keras
    from evonas.genome import decode, random_genome, textbook_genome

    configure_tensorflow(args.threads)
    import keras
    import tensorflow as tf

    data = load_dataset("mnist5k", images=True)
    config = RunConfig.load(ROOT / "examples" / "mnist5k-images.toml").for_data(True)
    space = config.space.for_data(data.task, embeddable=False)
    rng = np.random.default_rng(args.seed)
    genomes = [textbook_genome(space)] + [random_genome(space, rng) for _ in range(args.genomes - 1)]
    x, y = data.x_train, data.y_train.astype("int32")

    def fresh(arch):
        keras.backend.clear_session()
        keras.utils.set_random_seed(args.seed)
        model = build_model(
            arch, data.n_features, data.n_outputs, data.task, data.feature_mean, data.feature_var,
            args.seed, image_shape=data.image_shape,
        )  # fmt: skip
        return model, optimizer_for(arch, len(x), config.training.max_epochs)

    def compiled(model, optimizer, batch: int) -> float:
        loss_fn = keras.losses.SparseCategoricalCrossentropy()
        xs, ys = tf.constant(x), tf.constant(y)
        steps = math.ceil(len(x) / batch)
        optimizer.build(model.trainable_variables)

        @tf.function(autograph=False)
        def epoch(order):
            def body(i, total):
                idx = order[i * batch : tf.minimum((i + 1) * batch, len(x))]
                with tf.GradientTape() as tape:
                    loss = loss_fn(tf.gather(ys, idx), model(tf.gather(xs, idx), training=True))
                grads = tape.gradient(loss, model.trainable_variables)
                optimizer.apply(grads, model.trainable_variables)
                return i + 1, total + loss

            return tf.while_loop(lambda i, _: i < steps, body, (tf.constant(0), tf.constant(0.0)))[1]

        start = time.perf_counter()
        for e in range(args.epochs):
            epoch(tf.random.experimental.stateless_shuffle(tf.range(len(x)), seed=[args.seed, e])).numpy()
        return time.perf_counter() - start

    ratios = []
    print(f"mnist5k as images: {len(x)} train rows, {args.epochs} epochs, TensorFlow threads: {args.threads}")
    for genes in genomes:
        arch = decode(space, genes)
        model, optimizer = fresh(arch)
        start = time.perf_counter()
        train_keras(model, arch, optimizer, data, args.epochs, args.epochs + 1, args.seed, False)
        fit_s = time.perf_counter() - start
        model, optimizer = fresh(arch)
        compiled_s = compiled(model, optimizer, arch.batch_size)
        ratios.append(fit_s / compiled_s)
        print(
            f"fit {fit_s:6.1f} s  compiled {compiled_s:6.1f} s  ratio {ratios[-1]:.2f}  "
            f"{arch.describe()[:80]}"
        )
    print(f"median ratio fit / compiled: {statistics.median(ratios):.2f} over {len(ratios)} genomes")
    print(f"command: .venv/bin/python -m benchmarks.conv_trainer {' '.join(sys.argv[1:])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
