"""Candidate training speed: evonas' compiled trainer against ``keras.Model.fit``, side by side.

    .venv/bin/python -m benchmarks.train_speed                 # every part, one after another
    .venv/bin/python -m benchmarks.train_speed --part speed --genomes 20 --epochs 20

Parts:
  speed    the same random genomes on Ames (same model and initial weights, data,
           batch size, optimizer and number of epochs, validation every epoch)
           trained by ``fit`` (default settings) and by evonas, ``--rounds`` times each
           (default 2: fit, evonas, evonas, fit), alternating which goes first, the
           shorter time kept; prints a table and the median ratios of time and best val loss.
  memory   evaluates many candidates in one process (the worker's situation) and
           prints resident memory at candidate 20 and at the last one.
  workers  one generation of 16 candidates through the engine with 1 and 2 workers (each
           engine warmed with the whole generation first), 2 workers with the candidates in
           the order drawn and longest first, twice each; the wall-time ratios.
  graph    the same genomes trained by evonas twice each, with TensorFlow's graph
           optimizer (Grappler) off (evonas' setting) and on, alternating; prints
           the first epoch (tracing, optimizing, running) and the steady epochs.
  step     where a steady training step's time goes, per genome: microseconds per
           step as trained, at batch size 1 (what does not grow with the batch:
           dispatching the step's operations and the optimizer's pass over every
           weight), and without the optimizer update.
  fixed    a candidate's fixed cost, per genome: preparing the training (flat weights,
           optimizer slots), tracing its graph, and the first call's extra time over a
           steady one (TensorFlow instantiating the graph), next to one epoch's time.
  transpose
           the layer input gradient ``dz @ kernel^T`` as ``matmul(dz, kernel, transpose_b=True)``
           and as ``(kernel @ dz^T)^T``, by batch size and kernel shape: the fraction of
           the first form's time the second takes (``fitness.trainers.plain.times_transposed``
           picks the second at batches up to 128 and kernels of 32,768 weights or more).
  turn     the same genomes trained by evonas with the input gradients as the trainer computes
           them (turned where ``turns_input_gradient`` says) and never turned, alternating;
           prints the steady trainings' times and their median ratio.
  profile  the same genomes' steady trainings under TensorFlow's profiler: the shares of the
           summed kernel time that go to the matrix products, the optimizer's kernels,
           packing and splitting, and the rest (default --genomes 20 --epochs 20; try fewer).
  throughput
           candidates per hour in one worker: random candidates evaluated as a search
           evaluates them (``evaluate_genome``, the default 30 epochs at most and patience
           4), on the device TensorFlow uses; prints each candidate and the rate.
  schedule the throughput part, then generations drawn from its measured candidates and
           handed to 2 to 8 simulated workers in random order and longest first (the
           search's order, ``evolve.engine.longest_first``): wall time over the ideal.
  predict  scoring a saved model: ``keras.Model.predict`` against ``fitness.evaluate.forward``
           (eager calls), each model loaded fresh, the test rows of Ames; the median time ratio.
  gc       the same candidates evaluated (``evaluate_genome``, as a worker does) with
           TensorFlow's and Keras' objects frozen out of the garbage collector's walk
           (evonas' setting) and not, alternating; prints the per-candidate seconds.
Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from evonas.fitness import TrainSettings, build_model, evaluate_genome, load_dataset
from evonas.fitness.embedding import width as embedding_width
from evonas.fitness.model import optimizer_for
from evonas.fitness.runtime import configure_tensorflow
from evonas.fitness.trainers.compiled import compile_training, without_graph_optimizer
from evonas.fitness.trainers.plain import times_transposed, turns_input_gradient
from evonas.genome import INPUT, SearchSpace, decode, random_genome


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def describe_device() -> str:
    """The device the figures come from: the GPU TensorFlow uses, or the CPU's model and its matmul kernels.

    On the CPU TensorFlow runs its matrix products through oneDNN where the
    processor has the instructions oneDNN wants (AVX-512 VNNI or BF16, AMX) and
    through Eigen elsewhere, and the two scale differently (the ``transpose``
    part shows one of the differences): the figures say which one ran.
    """
    import tensorflow as tf

    try:  # an internal query: a TensorFlow may move or drop it
        from tensorflow.python.util._pywrap_util_port import IsMklEnabled
    except ImportError:
        IsMklEnabled = None

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)
        return f"GPU {name} ({len(gpus)} visible)"
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    kernels = "unknown kernels" if IsMklEnabled is None else "oneDNN" if IsMklEnabled() else "Eigen"
    return f"CPU {model}, {os.cpu_count()} cores, matrix products by {kernels}"


def fresh_candidate(data, arch, seed: int):
    """``(model, optimizer)`` of ``arch`` in a cleared, seeded Keras session (same initial weights)."""
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = build_model(
        arch, data.n_features, 1, data.task, data.feature_mean, data.feature_var, seed, data.ple_bins
    )
    return model, optimizer_for(arch, len(data.x_train), TrainSettings().max_epochs)


def matmul_seconds(arch, n_features: int, n_rows: int, epochs: int, embedded: int = 0) -> float:
    """Time of the network's matrix products alone, for as many steps as training it takes.

    Per step and Dense layer: the forward product and the two of the backward pass
    (the weights' gradient and, except for a layer reading only the input, the
    input's gradient, in the trainer's form), at the genome's batch size. No other
    op, no optimizer.
    """
    import tensorflow as tf

    rng = np.random.default_rng(0)
    input_gradient = [unit.inputs != (INPUT,) for unit in arch.units] + [True]
    shapes = [(a, b, dx) for (a, b), dx in zip(arch.dense_shapes(n_features, 1, embedded), input_gradient)]
    bs, steps = arch.batch_size, math.ceil(n_rows / arch.batch_size) * epochs

    def const(*shape):
        return tf.constant(rng.normal(size=shape).astype("float32"))

    mats = [(const(bs, a), const(a, b), const(bs, b), dx) for a, b, dx in shapes]

    def body(k, acc):
        for xa, w, g, dx in mats:
            acc += tf.matmul(xa, w)[0, 0] + tf.matmul(xa, g, transpose_a=True)[0, 0]
            if dx:
                acc += times_transposed(g, w, bs)[0, 0]
        return k + 1, acc

    run = tf.function(
        lambda: tf.while_loop(lambda k, acc: k < steps, body, (tf.constant(0), tf.constant(0.0))),
        autograph=False,
    )
    run()  # trace
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def part_speed(data, space, genomes: int, epochs: int, seed: int, rounds: int = 2) -> None:

    rng = np.random.default_rng(seed)
    y, yv = data.model_targets(data.y_train), data.model_targets(data.y_val)  # what the trainers learn
    ple_width = embedding_width(data.ple_bins)

    def with_fit(arch):
        model, opt = fresh_candidate(data, arch, seed)  # same initial weights for both
        start = time.perf_counter()
        model.compile(optimizer=opt, loss="mse")
        hist = model.fit(
            data.x_train,
            y,
            batch_size=arch.batch_size,
            epochs=epochs,
            validation_data=(data.x_val, yv),
            verbose=0,
        )
        return time.perf_counter() - start, min(hist.history["val_loss"])

    def with_evonas(arch):
        model, opt = fresh_candidate(data, arch, seed)  # same initial weights for both
        with without_graph_optimizer():  # as train_compiled does
            start = time.perf_counter()
            run = compile_training(model, arch, opt, data, epochs, epochs + 1, seed)
            hist = run()
            elapsed = time.perf_counter() - start
            start = time.perf_counter()
            run()  # the same training again: the graph is traced and ready
            steady = time.perf_counter() - start
        return elapsed, min(hist["val_loss"]), steady

    def fit_steps(arch):
        return math.ceil(len(data.x_train) / arch.batch_size) * epochs

    print(f"\n[speed] {genomes} random genomes on Ames, {epochs} epochs each, validation every epoch")
    print(
        f"  fit s, evonas s: the shorter of {rounds} rounds per genome, alternating which trainer goes first"
    )
    print("  steady s: evonas' training run again, its graph already traced: the arithmetic and what is left")
    print("  floor: steady s / fit s, the ratio evonas would reach if tracing cost nothing")
    print("  matmul: the matrix products alone (forward and backward, same steps) / fit s")
    print(
        f"{'#':>3} {'params':>9} {'batch':>5} {'steps':>6} {'fit s':>7} {'evonas s':>9} {'steady s':>8}"
        f" {'time ratio':>10} {'floor':>6} {'matmul':>6} {'fit val':>8} {'evonas val':>10} {'loss ratio':>10}"
    )
    times, floors, matmuls, losses = [], [], [], []
    for i in range(genomes):
        arch = decode(space, random_genome(space, rng))
        fits, evonas = [], []
        for r in range(rounds):  # alternating which goes first: fit, evonas, evonas, fit, ...
            if (i + r) % 2 == 0:
                fits.append(with_fit(arch))
                evonas.append(with_evonas(arch))
            else:
                evonas.append(with_evonas(arch))
                fits.append(with_fit(arch))
        # the shorter of the rounds (what only adds time here is noise: other processes, the caches);
        # the losses of the first round (each trainer is deterministic for a given seed)
        tf_, lf = min(t for t, _ in fits), fits[0][1]
        te, le = min(t for t, _, _ in evonas), evonas[0][1]
        steady = min(t for _, _, t in evonas)
        times.append(te / tf_)
        floors.append(steady / tf_)
        embedded = ple_width if arch.embedding == "ple" else 0
        matmuls.append(matmul_seconds(arch, data.n_features, len(data.x_train), epochs, embedded) / tf_)
        losses.append(le / lf)
        print(
            f"{i:>3} {data.n_params(arch):>9,} {arch.batch_size:>5} {fit_steps(arch):>6}"
            f" {tf_:>7.2f} {te:>9.2f} {steady:>8.2f} {te / tf_:>10.3f} {steady / tf_:>6.3f}"
            f" {matmuls[-1]:>6.3f} {lf:>8.4f} {le:>10.4f} {le / lf:>10.3f}"
        )
    print(
        f"median time ratio evonas/fit: {statistics.median(times):.3f}"
        f" (range {min(times):.3f}-{max(times):.3f}); median floor {statistics.median(floors):.3f}"
        f" (range {min(floors):.3f}-{max(floors):.3f}); median matmul {statistics.median(matmuls):.3f}"
        f" (range {min(matmuls):.3f}-{max(matmuls):.3f})"
    )
    print(
        f"median best-val-loss ratio evonas/fit: {statistics.median(losses):.3f}"
        f" (range {min(losses):.3f}-{max(losses):.3f})"
    )


def part_memory(data, space, candidates: int, seed: int, unfrozen: bool = False) -> None:
    rng = np.random.default_rng(seed + 1)
    settings = TrainSettings(max_epochs=2, patience=1)
    if unfrozen:  # for comparison: the garbage collector walks every object, as before gc.freeze
        import gc

        gc.unfreeze()
    how = " (module objects not frozen)" if unfrozen else ""
    print(f"\n[memory] {candidates} candidates evaluated one after another in one process{how}")
    marks = {}
    start = time.perf_counter()
    for i in range(1, candidates + 1):
        evaluate_genome(space, random_genome(space, rng), data, settings, run_seed=seed)
        if i in (1, 20, 100, 200, candidates):
            marks[i] = rss_mb()
            print(f"  after candidate {i:>4}: RSS {marks[i]:8.1f} MB  ({time.perf_counter() - start:6.1f}s)")
    print(f"growth from candidate 20 to {candidates}: {marks[candidates] - marks[20]:+.1f} MB")


def part_throughput(data, space, candidates: int, seed: int) -> list[tuple[np.ndarray, float]]:
    """Evaluates the candidates, prints each and the rate; returns ``(genes, seconds)`` per candidate."""
    rng = np.random.default_rng(seed + 4)
    settings = TrainSettings()  # a search's defaults
    evaluate_genome(space, random_genome(space, rng), data, settings, run_seed=seed)  # warm up the worker
    genomes = [random_genome(space, rng) for _ in range(candidates)]
    print(
        f"\n[throughput] {candidates} random candidates evaluated one after another in one worker"
        f" ({settings.max_epochs} epochs at most, patience {settings.patience}), after one to warm up"
    )
    print(f"{'#':>3} {'params':>9} {'batch':>5} {'epochs':>6} {'seconds':>8}  status")
    seconds = []
    start = time.perf_counter()
    for i, genes in enumerate(genomes):
        record = evaluate_genome(space, genes, data, settings, run_seed=seed)
        seconds.append(float(record["seconds"]))
        print(
            f"{i:>3} {record['params']:>9,} {decode(space, genes).batch_size:>5} {record['epochs']:>6}"
            f" {record['seconds']:>8.2f}  {record['status']}"
        )
    wall = time.perf_counter() - start
    print(
        f"candidates per hour, one worker: {candidates / wall * 3600:,.0f}"
        f" ({wall:.1f}s for {candidates}; median {statistics.median(seconds):.2f}s per candidate)"
        f" on {describe_device()}"
    )
    return list(zip(genomes, seconds))


def part_schedule(data, space, measured: list[tuple[np.ndarray, float]], seed: int) -> None:
    """Generations drawn from measured candidates, handed to workers in random order and longest first."""
    import heapq

    from evonas.evolve.engine import longest_first
    from evonas.evolve.worker import EvalTask

    settings = TrainSettings()

    def makespan(durations, workers: int) -> float:  # each worker takes the next task when it is free
        free = [0.0] * workers
        for duration in durations:
            heapq.heappush(free, heapq.heappop(free) + duration)
        return max(free)

    # the search's order over all the measured candidates, worked out once: a drawn generation keeps it
    everyone = [EvalTask(i, genes) for i, (genes, _) in enumerate(measured)]
    rank = {task.index: r for r, task in enumerate(longest_first(everyone, space, data, settings))}
    rng = np.random.default_rng(seed + 5)
    draws = 2000
    print(
        f"\n[schedule] generations drawn from the {len(measured)} candidates just measured (their seconds),"
        f" {draws} draws each:"
    )
    print("  wall time of a generation on W workers / (its total seconds / W), the candidates handed out")
    print("  in random order and longest first by fitness.estimated_seconds (the search's order)")
    print(f"{'workers':>7} {'gen size':>8} {'random':>7} {'p90':>6} {'longest first':>13} {'p90':>6}")
    for workers, size in ((2, 10), (2, 16), (4, 16), (8, 32)):
        if size > len(measured):
            continue
        ratios: dict[str, list[float]] = {"random": [], "longest": []}
        for _ in range(draws):
            picked = [int(i) for i in rng.choice(len(measured), size, replace=False)]
            seconds = [measured[i][1] for i in picked]
            ideal = sum(seconds) / workers
            ratios["random"].append(makespan(seconds, workers) / ideal)
            ratios["longest"].append(
                makespan([measured[i][1] for i in sorted(picked, key=rank.get)], workers) / ideal
            )
        rand, longest = ratios["random"], ratios["longest"]
        print(
            f"{workers:>7} {size:>8} {np.mean(rand):>7.3f} {np.percentile(rand, 90):>6.3f}"
            f" {np.mean(longest):>13.3f} {np.percentile(longest, 90):>6.3f}"
        )


def part_gc(data, space, candidates: int, seed: int) -> None:
    import gc

    rng = np.random.default_rng(seed + 3)
    settings = TrainSettings(max_epochs=10, patience=3)
    genomes = [random_genome(space, rng) for _ in range(candidates)]
    evaluate_genome(space, genomes[0], data, settings, run_seed=seed)  # warm up
    print(f"\n[gc] {candidates} candidates (max 10 epochs, patience 3), each evaluated twice in one process:")
    print(
        "  with the modules' objects frozen out of the collector's walk (gc.freeze, evonas' setting) and not"
    )
    print(f"{'#':>3} {'params':>9} {'epochs':>6} {'frozen s':>9} {'not frozen s':>12} {'ratio':>6}")
    ratios, totals = [], {True: 0.0, False: 0.0}
    for i, genes in enumerate(genomes):
        seconds = {}
        for frozen in (True, False) if i % 2 == 0 else (False, True):
            if frozen:
                gc.freeze()
            else:
                gc.unfreeze()
            record = evaluate_genome(space, genes, data, settings, run_seed=seed)
            seconds[frozen] = record["seconds"]
            totals[frozen] += record["seconds"]
        gc.freeze()
        ratios.append(seconds[True] / seconds[False])
        print(
            f"{i:>3} {record['params']:>9,} {record['epochs']:>6} {seconds[True]:>9.2f}"
            f" {seconds[False]:>12.2f} {ratios[-1]:>6.3f}"
        )
    print(
        f"median time ratio frozen / not frozen: {statistics.median(ratios):.3f}"
        f" (range {min(ratios):.3f}-{max(ratios):.3f}); total {totals[True]:.1f}s vs {totals[False]:.1f}s"
    )


def part_graph(data, space, genomes: int, epochs: int, seed: int) -> None:

    rng = np.random.default_rng(seed)

    def train(arch, optimize_graph):
        model, opt = fresh_candidate(data, arch, seed)
        setting = contextlib.nullcontext() if optimize_graph else without_graph_optimizer()
        with setting:
            start = time.perf_counter()
            run = compile_training(model, arch, opt, data, epochs, epochs + 1, seed)
            run()
            first = time.perf_counter() - start
            start = time.perf_counter()
            run()
            return first, time.perf_counter() - start

    print(f"\n[graph] {genomes} random genomes on Ames, {epochs} epochs, Grappler off (evonas) and on")
    print("  first: the training as a candidate's (tracing, optimizing if on, running); again: run again")
    print(
        f"{'#':>3} {'params':>9} {'batch':>5} {'first off':>9} {'first on':>8} {'again off':>9}"
        f" {'again on':>8} {'ratio':>6}"
    )
    ratios, fixed, steadies = [], [], []
    for i in range(genomes):
        arch = decode(space, random_genome(space, rng))
        runs = {}
        for optimize in (False, True) if i % 2 == 0 else (True, False):
            runs[optimize] = train(arch, optimize)
        (f_off, a_off), (f_on, a_on) = runs[False], runs[True]
        ratios.append(f_off / f_on)
        fixed.append((f_on - a_on) - (f_off - a_off))
        steadies.append(a_off / a_on)
        print(
            f"{i:>3} {data.n_params(arch):>9,} {arch.batch_size:>5} {f_off:>9.3f} {f_on:>8.3f}"
            f" {a_off:>9.3f} {a_on:>8.3f} {f_off / f_on:>6.3f}"
        )
    print(
        f"median time ratio off/on: {statistics.median(ratios):.3f}"
        f" (range {min(ratios):.3f}-{max(ratios):.3f}); fixed cost (first - again): median"
        f" {statistics.median(fixed):.3f}s saved (range {min(fixed):.3f}-{max(fixed):.3f});"
        f" again off/on: median {statistics.median(steadies):.3f}"
        f" (range {min(steadies):.3f}-{max(steadies):.3f})"
    )


def part_step(data, space, genomes: int, seed: int, steps: int = 100) -> None:
    import tensorflow as tf

    from evonas.fitness.trainers.compiled import FlatTraining, device_data, without_graph_optimizer
    from evonas.fitness.trainers.plain import PlainNetwork

    rng = np.random.default_rng(seed)
    def per_step(arch, batch: int, update: bool) -> float:
        x, y = device_data(data, arch.embedding)[:2]  # with the ple columns where the genome says
        rows = int(x.shape[0])
        model, optimizer = fresh_candidate(data, arch, seed)
        flat = FlatTraining(PlainNetwork(arch, model, int(x.shape[1])), optimizer)

        def step(b, total):  # the trainer's step, on consecutive rows
            idx = tf.range(b * batch, (b + 1) * batch) % rows
            loss, gradient = flat.gradient(tf.gather(x, idx), tf.gather(y, idx), tf.stack([b, 0]), False)
            if update:
                flat.apply(gradient)
                return b + 1, total + loss
            return b + 1, total + loss + tf.reduce_sum(gradient)  # keep it computed

        run = tf.function(
            lambda: tf.while_loop(lambda b, t: b < steps, step, (tf.constant(0), tf.constant(0.0))),
            autograph=False,
        )
        with without_graph_optimizer():
            run()
            times = []
            for _ in range(5):
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
        return statistics.median(times) / steps * 1e6

    print(f"\n[step] {genomes} random genomes on Ames: microseconds per steady training step")
    print(f"{'#':>3} {'params':>9} {'batch':>5} {'step us':>8} {'batch 1 us':>10} {'no update us':>12}")
    fixed, updates = [], []
    for i in range(genomes):
        arch = decode(space, random_genome(space, rng))
        full = per_step(arch, arch.batch_size, True)
        one = per_step(arch, 1, True)
        no_update = per_step(arch, arch.batch_size, False)
        fixed.append(one / full)
        updates.append(max(full - no_update, 0.0) / full)
        print(
            f"{i:>3} {data.n_params(arch):>9,} {arch.batch_size:>5} {full:>8.0f} {one:>10.0f}"
            f" {no_update:>12.0f}"
        )
    print(
        f"median share of a step that does not grow with the batch (batch 1 / as trained):"
        f" {statistics.median(fixed):.2f} (range {min(fixed):.2f}-{max(fixed):.2f});"
        f" median share of the optimizer update: {statistics.median(updates):.2f}"
        f" (range {min(updates):.2f}-{max(updates):.2f})"
    )


def part_fixed(data, space, genomes: int, seed: int) -> None:

    rng = np.random.default_rng(seed)
    print(f"\n[fixed] {genomes} random genomes on Ames: seconds of a candidate's fixed cost, and one epoch")
    print("  prepare: weights into one flat buffer, optimizer slots; trace: building the graph in Python;")
    print("  instantiate: the first call's time over a steady call's (TensorFlow preparing the graph)")
    print(f"{'#':>3} {'params':>9} {'batch':>5} {'prepare':>8} {'trace':>7} {'instantiate':>11} {'epoch':>7}")
    columns: list[list[float]] = [[], [], [], []]
    for i in range(genomes):
        arch = decode(space, random_genome(space, rng))
        model, optimizer = fresh_candidate(data, arch, seed)
        with without_graph_optimizer():  # as train_compiled does
            start = time.perf_counter()
            run = compile_training(model, arch, optimizer, data, 1, 2, seed)
            prepared = time.perf_counter()
            run.function.get_concrete_function()
            traced = time.perf_counter()
            run()
            first = time.perf_counter()
            run()
            again = time.perf_counter()
        instantiate = max((first - traced) - (again - first), 0.0)
        row = [prepared - start, traced - prepared, instantiate, again - first]
        for column, value in zip(columns, row):
            column.append(value)
        print(
            f"{i:>3} {data.n_params(arch):>9,} {arch.batch_size:>5} {row[0]:>8.3f}"
            f" {row[1]:>7.3f} {row[2]:>11.3f} {row[3]:>7.3f}"
        )
    medians = [statistics.median(column) for column in columns]
    print(
        f"median prepare {medians[0]:.3f}s, trace {medians[1]:.3f}s, instantiate {medians[2]:.3f}s"
        f" (fixed cost {sum(medians[:3]):.3f}s); median epoch {medians[3]:.3f}s"
    )


def part_predict(data, space, genomes: int, seed: int, work: Path) -> None:
    """Scoring a saved model: ``keras.Model.predict`` against :func:`fitness.evaluate.forward`."""
    import keras

    from evonas.fitness.evaluate import PREDICT_BATCH, forward

    rng = np.random.default_rng(seed + 3)
    settings = TrainSettings(max_epochs=1, patience=1)
    print(f"\n[predict] {genomes} random genomes on Ames, trained 1 epoch and saved; each loaded fresh, then")
    print(f"  its {len(data.x_test)} test rows predicted by keras predict and by evonas' forward")
    print(f"  (eager calls, {PREDICT_BATCH} rows each), alternating which goes first; seconds, ratio")
    print(f"{'#':>3} {'params':>9} {'predict':>8} {'forward':>8} {'ratio':>6} {'max diff':>9}")
    ratios: list[float] = []
    for i in range(genomes):
        genes = random_genome(space, rng)
        path = work / f"predict-{i}.keras"
        record = evaluate_genome(space, genes, data, settings, seed, model_path=str(path))
        if not path.exists():
            print(f"{i:>3} {record.get('params', 0):>9,} (no model: {record['status']})")
            continue
        seconds: dict[str, float] = {}
        outputs: dict[str, np.ndarray] = {}
        calls = {
            "predict": lambda m: m.predict(data.x_test, batch_size=PREDICT_BATCH, verbose=0),
            "forward": lambda m: forward(m, data.x_test),
        }
        for name in ("predict", "forward") if i % 2 == 0 else ("forward", "predict"):
            model = keras.models.load_model(path)
            start = time.perf_counter()
            outputs[name] = np.asarray(calls[name](model))
            seconds[name] = time.perf_counter() - start
        ratios.append(seconds["forward"] / seconds["predict"])
        diff = float(np.max(np.abs(outputs["forward"] - outputs["predict"])))
        print(
            f"{i:>3} {record['params']:>9,} {seconds['predict']:>8.3f} {seconds['forward']:>8.3f}"
            f" {ratios[-1]:>6.3f} {diff:>9.2g}"
        )
        path.unlink()
    if ratios:
        spread = f"range {min(ratios):.3f}-{max(ratios):.3f}"
        print(f"median time ratio forward/predict: {statistics.median(ratios):.3f} ({spread})")


def part_workers(data, space, seed: int) -> None:
    from evonas.evolve.engine import LocalEngine, longest_first
    from evonas.evolve.worker import EvalTask

    rng = np.random.default_rng(seed + 2)
    settings = TrainSettings(max_epochs=10, patience=3)
    drawn = [EvalTask(i, random_genome(space, rng)) for i in range(16)]
    ordered = longest_first(drawn, space, data, settings)  # as the search hands them to the engine
    print("\n[workers] one generation of 16 candidates (max 10 epochs, patience 3); each engine first")
    print("  evaluates the generation once untimed (a worker's first candidates cost more than later ones),")
    print("  then 2 workers run it twice each way: in the order drawn and longest first (as the search does)")
    walls: dict[str, list[float]] = {}
    for workers, runs in (
        (1, [("longest first", ordered)]),
        (2, [("as drawn", drawn), ("longest first", ordered)]),
    ):
        engine = LocalEngine(workers)
        list(engine.evaluate(drawn, space, data, settings, seed))  # start and warm the workers
        for name, tasks in runs + runs[::-1] if workers == 2 else runs:
            start = time.perf_counter()
            list(engine.evaluate(tasks, space, data, settings, seed))
            walls.setdefault(f"{workers} {name}", []).append(time.perf_counter() - start)
            print(f"  {workers} worker(s), {name}: {walls[f'{workers} {name}'][-1]:.1f}s")
    one = walls["1 longest first"][0]
    for name in ("as drawn", "longest first"):
        mean = statistics.mean(walls[f"2 {name}"])
        print(f"wall-time ratio 2 workers ({name}, mean of 2) / 1 worker: {mean / one:.3f}")


def part_turn(data, space, genomes: int, epochs: int, seed: int) -> None:
    import evonas.fitness.trainers.plain as plain

    rng = np.random.default_rng(seed)
    rule = plain.turns_input_gradient
    turned = []

    def counting(*args):
        turn = rule(*args)
        turned[-1] += turn
        return turn

    def trained(arch, turn: bool):
        """A traced training of ``arch``: input gradients turned where the trainer would, or never."""
        model, opt = fresh_candidate(data, arch, seed)
        turned.append(0)
        plain.turns_input_gradient = counting if turn else (lambda *args: False)
        try:
            with without_graph_optimizer():
                run = compile_training(model, arch, opt, data, epochs, epochs + 1, seed)
                run()  # traces (with the rule set above) and trains once
        finally:
            plain.turns_input_gradient = rule
        return run, turned[-1]

    print(f"\n[turn] {genomes} random genomes on Ames, {epochs} epochs: steady trainings (graph traced)")
    print("  with the input gradients as (kernel @ dz^T)^T where the trainer turns them, and never turned;")
    print("  best of 2 each, alternating; turned: how many products of a step the trainer turns")
    print(f"{'#':>3} {'params':>9} {'batch':>5} {'turned':>6} {'never s':>8} {'turned s':>8} {'ratio':>6}")
    ratios, same = [], []  # genomes with turned products; without (the same graph twice: the noise)
    for i in range(genomes):
        arch = decode(space, random_genome(space, rng))
        if i % 2 == 0:  # which is built (and its buffers allocated) first alternates too
            (run_never, _), (run_turned, count) = trained(arch, False), trained(arch, True)
        else:
            (run_turned, count), (run_never, _) = trained(arch, True), trained(arch, False)
        seconds = {False: [], True: []}
        with without_graph_optimizer():
            for turn in (False, True, True, False) if i % 2 == 0 else (True, False, False, True):
                start = time.perf_counter()
                (run_turned if turn else run_never)()
                seconds[turn].append(time.perf_counter() - start)
        never, turned_s = min(seconds[False]), min(seconds[True])
        (ratios if count else same).append(turned_s / never)
        print(
            f"{i:>3} {data.n_params(arch):>9,} {arch.batch_size:>5} {count:>6} {never:>8.2f}"
            f" {turned_s:>8.2f} {turned_s / never:>6.3f}"
        )
    if ratios:
        print(
            f"median steady time ratio turned/never, over the {len(ratios)} genomes with a turned product:"
            f" {statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f})"
        )
    if same:
        print(
            f"  the same ratio over the {len(same)} genomes without one (the same graph twice: noise):"
            f" {statistics.median(same):.3f} (range {min(same):.3f}-{max(same):.3f})"
        )


def plain_op_type(op: str) -> str:
    """The op type a kernel computes (where oneDNN runs it, TensorFlow names it ``_MklMatMul``...)."""
    for prefix in ("_MklNative", "_Mkl"):
        if op.startswith(prefix):
            return op[len(prefix) :]
    return op


def part_profile(data, space, genomes: int, epochs: int, seed: int) -> None:
    import collections
    import tempfile

    import tensorflow as tf

    try:
        from tensorflow.tsl.profiler.protobuf import xplane_pb2
    except ImportError:  # where this TensorFlow keeps it elsewhere
        print("\n[profile] skipped: this TensorFlow has no tensorflow.tsl.profiler.protobuf.xplane_pb2")
        return

    def op_seconds(logdir: str) -> collections.Counter:
        """Seconds per op type in a trace: TensorFlow's kernels, on its compute threads."""
        seconds: collections.Counter = collections.Counter()
        for path in Path(logdir).rglob("*.xplane.pb"):
            space_ = xplane_pb2.XSpace()
            space_.ParseFromString(path.read_bytes())
            for plane in space_.planes:
                for line in plane.lines:
                    if not line.name.startswith("tf_Compute"):
                        continue
                    for event in line.events:
                        name = plane.event_metadata[event.metadata_id].name
                        if ":" in name and "::" not in name:  # "node name:OpType"
                            seconds[plain_op_type(name.rsplit(":", 1)[1])] += event.duration_ps / 1e12
        return seconds

    rng = np.random.default_rng(seed)
    groups = {
        "matmul": lambda op: op in ("MatMul", "Transpose"),
        "optimizer": lambda op: op.startswith("ResourceApply"),
        "pack": lambda op: op in ("ConcatV2", "SplitV"),
    }
    print(f"\n[profile] {genomes} random genomes on Ames, {epochs} epochs: a steady training's op time")
    print("  (TensorFlow's profiler; shares of the summed kernel time; pack: concatenating and splitting,")
    print(
        "  the flat buffers and the units' inputs; other: the element-wise ops, reductions, random draws...)"
    )
    print(
        f"{'#':>3} {'params':>9} {'batch':>5} {'optimizer':>9} {'kernels s':>9} {'matmul':>6} {'optim':>6}"
        f" {'pack':>6} {'other':>6}"
    )
    shares: dict[str, list] = {name: [] for name in [*groups, "other"]}
    for i in range(genomes):
        arch = decode(space, random_genome(space, rng))
        model, opt = fresh_candidate(data, arch, seed)
        with without_graph_optimizer(), tempfile.TemporaryDirectory() as logdir:
            run = compile_training(model, arch, opt, data, epochs, epochs + 1, seed)
            run()  # traced and run once: the profile is of a steady training
            tf.profiler.experimental.start(logdir)
            try:
                run()
            finally:
                tf.profiler.experimental.stop()
            seconds = op_seconds(logdir)
        total = sum(seconds.values())
        row = {name: sum(v for op, v in seconds.items() if test(op)) / total for name, test in groups.items()}
        row["other"] = 1.0 - sum(row.values())
        for name, share in row.items():
            shares[name].append(share)
        print(
            f"{i:>3} {data.n_params(arch):>9,} {arch.batch_size:>5} {arch.optimizer:>9}"
            f" {total:>9.2f}" + "".join(f" {row[name]:>6.2f}" for name in shares)
        )
    print(
        "median shares: "
        + ", ".join(
            f"{name} {statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f})" for name, v in shares.items()
        )
    )


def part_transpose(repeats: int = 3) -> None:
    import tensorflow as tf

    def seconds(product, dz, kernel, flops: int) -> float:
        n = max(30, int(3e8 / flops))  # about 0.3 GFLOP per timing
        run = tf.function(
            lambda: tf.while_loop(
                lambda k, acc: k < n,
                lambda k, acc: (k + 1, acc + product(dz, kernel)[0, 0]),
                (0, tf.constant(0.0)),
            )[1],
            autograph=False,
        )
        run()
        best = math.inf
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - start)
        return best / n

    rng = np.random.default_rng(0)
    kernels = [(322, 512), (512, 512), (512, 256), (128, 512), (256, 128), (256, 64), (64, 128)]
    print("\n[transpose] input gradient dz @ kernel^T: time of (kernel @ dz^T)^T / time of")
    print(f"  matmul(dz, kernel, transpose_b=True), best of {repeats}; kernel shape rows x columns")
    print(f"{'batch':>5} " + " ".join(f"{f'{r}x{c}':>9}" for r, c in kernels) + "  GFLOP/s at 322x512 (both)")
    for batch in (16, 32, 64, 128, 256, 512):
        cells, rates = [], ""
        for rows, columns in kernels:
            dz = tf.constant(rng.normal(size=(batch, columns)).astype("float32"))
            kernel = tf.constant(rng.normal(size=(rows, columns)).astype("float32"))
            flops = 2 * batch * rows * columns
            plain = seconds(lambda d, k: tf.matmul(d, k, transpose_b=True), dz, kernel, flops)
            turned = seconds(lambda d, k: tf.transpose(tf.matmul(k, d, transpose_b=True)), dz, kernel, flops)
            chosen = "*" if turns_input_gradient(batch, rows, columns) else " "
            cells.append(f"{turned / plain:>8.2f}{chosen}")
            if (rows, columns) == (322, 512):
                rates = f"  {flops / plain / 1e9:5.1f} / {flops / turned / 1e9:5.1f}"
        print(f"{batch:>5} " + " ".join(cells) + rates)
    print("  * the cases where the trainer uses (kernel @ dz^T)^T")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="evonas trainer vs keras fit")
    parts = [
        "speed",
        "memory",
        "workers",
        "graph",
        "step",
        "fixed",
        "transpose",
        "turn",
        "profile",
        "throughput",
        "schedule",
        "gc",
        "predict",
        "all",
    ]
    parser.add_argument("--part", choices=parts, default="all")
    parser.add_argument("--genomes", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--candidates", type=int, default=300)
    parser.add_argument("--gc-candidates", type=int, default=20)
    parser.add_argument("--rate-candidates", type=int, default=40, help="candidates timed (throughput part)")
    parser.add_argument(
        "--unfrozen", action="store_true", help="memory part without gc.freeze (for comparison)"
    )
    parser.add_argument("--steps", type=int, default=100, help="steps timed per variant (step part)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timings per product, best kept (transpose part)"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="trainings per genome and trainer, shortest kept (speed part)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--small-space",
        action="store_true",
        help="genomes of a small space (2 levels of 2 units, 8-32 neurons): for smoke tests, not figures",
    )
    args = parser.parse_args(argv)
    command = sys.argv if argv is None else ["python", "-m", "benchmarks.train_speed", *argv]
    print("command:", " ".join([".venv/bin/python", *command]))
    configure_tensorflow(1)
    data = load_dataset("ames")
    space = SearchSpace()
    if args.small_space:
        space = SearchSpace(max_levels=2, max_units=2, neuron_choices=(8, 16, 32))
    print(f"Ames: {len(data.x_train)} training rows, {data.n_features} features; TensorFlow threads: 1")
    print(f"device: {describe_device()}")
    if args.part in ("speed", "all"):
        part_speed(data, space, args.genomes, args.epochs, args.seed, args.rounds)
    if args.part in ("memory", "all"):
        part_memory(data, space, args.candidates, args.seed, args.unfrozen)
    if args.part in ("workers", "all"):
        part_workers(data, space, args.seed)
    if args.part in ("graph", "all"):
        part_graph(data, space, args.genomes, args.epochs, args.seed)
    if args.part in ("step", "all"):
        part_step(data, space, args.genomes, args.seed, args.steps)
    if args.part in ("fixed", "all"):
        part_fixed(data, space, args.genomes, args.seed)
    if args.part in ("transpose", "all"):
        part_transpose(args.repeats)
    if args.part in ("turn", "all"):
        part_turn(data, space, args.genomes, args.epochs, args.seed)
    if args.part in ("profile", "all"):
        part_profile(data, space, args.genomes, args.epochs, args.seed)
    if args.part in ("throughput", "schedule", "all"):
        measured = part_throughput(data, space, args.rate_candidates, args.seed)
        if args.part in ("schedule", "all"):
            part_schedule(data, space, measured, args.seed)
    if args.part in ("gc", "all"):
        part_gc(data, space, args.gc_candidates, args.seed)
    if args.part in ("predict", "all"):
        with tempfile.TemporaryDirectory(prefix="evonas-predict-") as tmp:
            part_predict(data, space, args.genomes, args.seed, Path(tmp))


if __name__ == "__main__":
    main()
